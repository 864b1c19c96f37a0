"""Schedules: recurring runs of an engine's start actions, by interval or cron expression.

Several schedulers may share one database: each claims a due run with a conditional UPDATE
keyed on ``scheduleNextRun``, so only one of them fires it (see ``haystack_collector.scheduler``).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "Schedules",
        sa.Column("scheduleId", sa.Integer, primary_key=True),
        sa.Column("engineId", sa.Integer, sa.ForeignKey("Engines.EngineId"), nullable=False),
        sa.Column("scheduleName", sa.String(100), nullable=False),
        sa.Column("scheduleInterval", sa.Integer),
        sa.Column("scheduleCron", sa.String(100)),
        sa.Column("scheduleSettings", sa.Text),
        sa.Column("scheduleEnabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("scheduleNextRun", TS, nullable=False),
        sa.Column("scheduleLastRun", TS),
        sa.Column("scheduleLeaseOwner", sa.String(100)),
        sa.Column("scheduleLeaseUntil", TS),
        sa.Column("scheduleMissedPolicy", sa.String(10), nullable=False, server_default="once"),
        sa.Column("scheduleCreated", TS),
        sa.UniqueConstraint("scheduleName", name="uq_Schedules_scheduleName"),
        **MYSQL,
    )
    op.create_index("ix_Schedules_due", "Schedules", ["scheduleEnabled", "scheduleNextRun"])


def downgrade() -> None:
    op.drop_index("ix_Schedules_due", table_name="Schedules")
    op.drop_table("Schedules")
