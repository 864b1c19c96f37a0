"""The postings board: each job posting's current status, and the history of its changes.

A posting is a ``JobFingerprint`` (``extract/postings.py``), however many items carry it, so both
tables are keyed by the fingerprint and not by an item: a re-found or re-extracted posting
keeps its status. A posting without a ``PostingStatus`` row is "new".

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "PostingStatus",
        sa.Column("postingStatusId", sa.Integer, primary_key=True),
        sa.Column("postingFingerprint", sa.String(64), nullable=False),
        sa.Column("postingStatus", sa.String(20), nullable=False),
        sa.Column("postingStatusChanged", TS, nullable=False),
        sa.UniqueConstraint("postingFingerprint", name="uq_PostingStatus_postingFingerprint"),
        **MYSQL,
    )
    op.create_index("ix_PostingStatus_status", "PostingStatus", ["postingStatus"])
    op.create_table(
        "PostingHistory",
        sa.Column("postingHistoryId", sa.Integer, primary_key=True),
        sa.Column("postingFingerprint", sa.String(64), nullable=False),
        sa.Column("postingStatus", sa.String(20), nullable=False),
        sa.Column("postingHistoryDate", TS, nullable=False),
        sa.Column("postingHistoryNote", sa.Text),
        sa.Column("postingHistoryBy", sa.String(100)),
        **MYSQL,
    )
    op.create_index(
        "ix_PostingHistory_fingerprint",
        "PostingHistory",
        ["postingFingerprint", "postingHistoryId"],
    )


def downgrade() -> None:
    op.drop_index("ix_PostingHistory_fingerprint", table_name="PostingHistory")
    op.drop_table("PostingHistory")
    op.drop_index("ix_PostingStatus_status", table_name="PostingStatus")
    op.drop_table("PostingStatus")
