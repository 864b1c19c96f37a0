"""The original Peregrin schema, as an existing installation has it.

An existing Peregrin database already holds these tables: ``db.migrate`` stamps it at this
revision instead of running it, and the next revision upgrades it in place.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# A new database gets InnoDB and 4-byte UTF-8 on MariaDB whatever the server defaults are.
MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _id(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "Engines",
        _id("EngineId"),
        sa.Column("EngineName", sa.String(100), nullable=False),
        sa.Column("EngineVersion", sa.String(20), nullable=False),
        sa.Column("EngineDesc", sa.Text),
        sa.Column("EngineDisabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("EngineCreated", TS),
        sa.UniqueConstraint("EngineName", "EngineVersion", name="uq_Engines_name_version"),
        **MYSQL,
    )
    op.create_table(
        "Actions",
        _id("actionId"),
        sa.Column("actionName", sa.String(100), nullable=False),
        sa.Column("actionDesc", sa.Text),
        sa.Column("actionCreated", TS),
        sa.UniqueConstraint("actionName", name="uq_Actions_actionName"),
        **MYSQL,
    )
    op.create_table(
        "EngineActions",
        _id("engineActionId"),
        sa.Column("engineId", sa.Integer, sa.ForeignKey("Engines.EngineId"), nullable=False),
        sa.Column("actionId", sa.Integer, sa.ForeignKey("Actions.actionId"), nullable=False),
        sa.Column("actionFunction", sa.String(100)),
        sa.Column("actionParams", sa.Text),
        sa.Column("engineActionDisabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("engineActionCreated", TS),
        **MYSQL,
    )
    op.create_table(
        "Items",
        _id("itemId"),
        sa.Column("ItemURI", sa.Text, nullable=False),
        sa.Column("EngineId", sa.Integer, sa.ForeignKey("Engines.EngineId")),
        sa.Column("ItemDTS", TS),
        sa.Column("itemCreated", TS),
        **MYSQL,
    )
    op.create_table(
        "ItemData",
        _id("ItemDataId"),
        sa.Column("itemId", sa.Integer, sa.ForeignKey("Items.itemId"), nullable=False),
        sa.Column("itemData", sa.String(100), nullable=False),
        sa.Column("itemDataValue", sa.Text),
        sa.Column("itemDataSeq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("itemDataAdded", TS),
        **MYSQL,
    )
    op.create_table(
        "ItemEvents",
        _id("ItemEventId"),
        sa.Column("engineId", sa.Integer, sa.ForeignKey("Engines.EngineId"), nullable=False),
        sa.Column("actionId", sa.Integer, sa.ForeignKey("Actions.actionId"), nullable=False),
        sa.Column("itemId", sa.Integer, sa.ForeignKey("Items.itemId"), nullable=False),
        sa.Column("itemEventAddedDate", TS),
        sa.Column("itemEventDate", TS, nullable=True),
        **MYSQL,
    )
    op.create_table(
        "LinkTypes",
        _id("LinkTypeId"),
        sa.Column("LinkTypeName", sa.String(50), nullable=False),
        sa.Column("LinkTypeDesc", sa.Text),
        sa.UniqueConstraint("LinkTypeName", name="uq_LinkTypes_name"),
        **MYSQL,
    )
    op.create_table(
        "ItemLinks",
        _id("itemLinkId"),
        sa.Column("EngineId", sa.Integer, sa.ForeignKey("Engines.EngineId")),
        sa.Column("itemId_left", sa.Integer, sa.ForeignKey("Items.itemId"), nullable=False),
        sa.Column("itemId_right", sa.Integer, sa.ForeignKey("Items.itemId"), nullable=False),
        sa.Column("linkTypeId", sa.Integer, sa.ForeignKey("LinkTypes.LinkTypeId"), nullable=False),
        sa.Column("itemLinkDTS", TS),
        **MYSQL,
    )
    op.create_table(
        "Status",
        _id("statusId"),
        sa.Column("engineId", sa.Integer, sa.ForeignKey("Engines.EngineId")),
        sa.Column("actionId", sa.Integer, sa.ForeignKey("Actions.actionId")),
        sa.Column("StatusMessage", sa.Text),
        sa.Column("StatusDate", TS),
        **MYSQL,
    )
    op.create_table(
        "Config",
        _id("configId"),
        sa.Column("configName", sa.String(100), nullable=False),
        sa.Column("configValue", sa.Text),
        sa.Column("configUpdated", TS),
        sa.UniqueConstraint("configName", name="uq_Config_configName"),
        **MYSQL,
    )


def downgrade() -> None:
    for table in (
        "Config", "Status", "ItemLinks", "LinkTypes", "ItemEvents",
        "ItemData", "Items", "EngineActions", "Actions", "Engines",
    ):  # fmt: skip
        op.drop_table(table)
