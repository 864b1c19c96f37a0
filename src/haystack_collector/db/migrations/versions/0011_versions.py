"""Item versions and visits: an item's earlier values, and each re-visit's outcome.

``ItemVersions`` keeps the values an item had before its meaning changed (``store.versions``);
``ItemData`` keeps its current values, as ever. ``ItemVisits`` records each re-visit of an item
(unchanged, changed or gone) with its time and HTTP status.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONG = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "ItemVersions",
        sa.Column("versionId", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("itemId", sa.Integer, sa.ForeignKey("Items.itemId"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("validFrom", TS),
        sa.Column("validTo", TS, nullable=False),
        sa.Column("versionData", LONG),
        sa.Column("versionText", LONG),
        sa.Column("versionDigest", sa.String(64)),
        sa.UniqueConstraint("itemId", "version", name="uq_ItemVersions_item_version"),
        **MYSQL,
    )
    op.create_index("ix_ItemVersions_versionId", "ItemVersions", ["versionId"])
    op.create_index("ix_ItemVersions_validTo", "ItemVersions", ["validTo"])
    op.create_table(
        "ItemVisits",
        sa.Column("visitId", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("itemId", sa.Integer, sa.ForeignKey("Items.itemId"), nullable=False),
        sa.Column("engineId", sa.Integer, sa.ForeignKey("Engines.EngineId")),
        sa.Column("visitDate", TS, nullable=False),
        sa.Column("visitOutcome", sa.String(16), nullable=False),
        sa.Column("visitStatus", sa.Integer),
        **MYSQL,
    )
    op.create_index("ix_ItemVisits_item_date", "ItemVisits", ["itemId", "visitDate"])
    op.create_index("ix_ItemVisits_outcome", "ItemVisits", ["visitOutcome", "visitId"])


def downgrade() -> None:
    # Dropping a table drops its indexes; MariaDB refuses to drop one a foreign key uses first.
    op.drop_table("ItemVisits")
    op.drop_table("ItemVersions")
