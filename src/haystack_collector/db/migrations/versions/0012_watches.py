"""Watches (saved filters with their channels) and the notification outbox.

``Watches`` holds each watch's filter, events, volatile rules, Apprise channel URLs and how far
its evaluation has read. ``Notifications`` is the outbox: a row per (watch, item, event, item
version), written before anything is sent, so a notification goes out once per item version
(see docs/watching.md, "Delivery guarantees").

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONG = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "Watches",
        sa.Column("watchId", sa.Integer, primary_key=True),
        sa.Column("watchName", sa.String(100), nullable=False),
        sa.Column("watchFilter", sa.Text, nullable=False),
        sa.Column("watchEvents", sa.String(40), nullable=False),
        sa.Column("watchVolatile", sa.Text),
        sa.Column("watchChannels", sa.Text, nullable=False),
        sa.Column("watchAlerts", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("watchEnabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("watchCreated", TS, nullable=False),
        sa.Column("watchUpdated", TS),
        sa.Column("watchLastItemId", sa.Integer, nullable=False, server_default="0"),
        sa.Column("watchLastVersionId", sa.Integer, nullable=False, server_default="0"),
        sa.Column("watchLastVisitId", sa.Integer, nullable=False, server_default="0"),
        sa.Column("watchLastDigest", TS),
        sa.UniqueConstraint("watchName", name="uq_Watches_watchName"),
        **MYSQL,
    )
    op.create_table(
        "Notifications",
        sa.Column("notificationId", sa.Integer, primary_key=True),
        sa.Column("watchId", sa.Integer, sa.ForeignKey("Watches.watchId"), nullable=False),
        sa.Column("itemId", sa.Integer, nullable=False),
        sa.Column("notifyEvent", sa.String(40), nullable=False),
        sa.Column("itemVersion", sa.Integer, nullable=False),
        sa.Column("notifyStatus", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("notifyDetail", LONG),
        sa.Column("notifyCreated", TS, nullable=False),
        sa.Column("notifyAttempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("notifyNextAttempt", TS),
        sa.Column("notifyClaimedBy", sa.String(100)),
        sa.Column("notifyClaimedAt", TS),
        sa.Column("notifySent", TS),
        sa.Column("notifyChannelsDone", sa.Text),
        sa.Column("notifyError", sa.Text),
        sa.UniqueConstraint(
            "watchId", "itemId", "notifyEvent", "itemVersion", name="uq_Notifications_once"
        ),
        **MYSQL,
    )
    op.create_index(
        "ix_Notifications_status",
        "Notifications",
        ["notifyStatus", "watchId", "notificationId"],
    )


def downgrade() -> None:
    op.drop_index("ix_Notifications_status", table_name="Notifications")
    op.drop_table("Notifications")
    op.drop_table("Watches")
