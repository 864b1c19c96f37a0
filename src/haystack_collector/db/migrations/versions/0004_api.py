"""API tokens, API-requested jobs and worker heartbeats.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "ApiTokens",
        sa.Column("tokenId", sa.Integer, primary_key=True),
        sa.Column("tokenName", sa.String(100), nullable=False),
        sa.Column("tokenHash", sa.String(64), nullable=False),
        sa.Column("tokenCreated", TS, nullable=False),
        sa.Column("tokenLastUsed", TS),
        sa.Column("tokenRevoked", TS),
        sa.UniqueConstraint("tokenName", name="uq_ApiTokens_tokenName"),
        sa.UniqueConstraint("tokenHash", name="uq_ApiTokens_tokenHash"),
        **MYSQL,
    )
    op.create_table(
        "Jobs",
        sa.Column("jobId", sa.Integer, primary_key=True),
        sa.Column("engineId", sa.Integer, sa.ForeignKey("Engines.EngineId"), nullable=False),
        sa.Column("jobAction", sa.String(100)),
        sa.Column("jobSettings", sa.Text),
        sa.Column("jobState", sa.String(20), nullable=False, server_default="queued"),
        sa.Column("jobCreated", TS, nullable=False),
        sa.Column("jobStarted", TS),
        sa.Column("jobFinished", TS),
        sa.Column("jobClaimedBy", sa.String(100)),
        sa.Column("jobLeaseUntil", TS),
        sa.Column("jobItemsStored", sa.Integer, nullable=False, server_default="0"),
        sa.Column("jobEventsEnqueued", sa.Integer, nullable=False, server_default="0"),
        sa.Column("jobError", sa.Text),
        sa.Column("jobCorrelationId", sa.String(64)),
        sa.Column("jobRequestedBy", sa.String(100)),
        **MYSQL,
    )
    op.create_index("ix_Jobs_state", "Jobs", ["jobState", "jobCreated"])
    op.create_table(
        "Workers",
        sa.Column("workerId", sa.Integer, primary_key=True),
        sa.Column("workerOwner", sa.String(100), nullable=False),
        sa.Column("workerHost", sa.String(255)),
        sa.Column("workerPid", sa.Integer),
        sa.Column("workerEngines", sa.Text),
        sa.Column("workerState", sa.String(20), nullable=False, server_default="running"),
        sa.Column("workerStarted", TS, nullable=False),
        sa.Column("workerSeen", TS, nullable=False),
        sa.Column("workerFinished", sa.Integer, nullable=False, server_default="0"),
        sa.Column("workerFailed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("workerStats", sa.Text),
        sa.UniqueConstraint("workerOwner", name="uq_Workers_workerOwner"),
        **MYSQL,
    )
    op.create_index("ix_Workers_seen", "Workers", ["workerSeen"])


def downgrade() -> None:
    op.drop_index("ix_Workers_seen", table_name="Workers")
    op.drop_table("Workers")
    op.drop_index("ix_Jobs_state", table_name="Jobs")
    op.drop_table("Jobs")
    op.drop_table("ApiTokens")
