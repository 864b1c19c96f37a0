"""Haystack's additions: unique URI hashes, the queue's bookkeeping, typed item data, indexes.

Upgrades a Peregrin database in place and keeps its data. Rows the original schema allowed
twice are reconciled, never just dropped:

- an item URI held by several rows: the first row keeps the URI key, each later one gets a
  ``duplicate`` link to it (and no hash), so nothing that points at it breaks;
- an event queued more than once for the same (engine, action, item): one row is kept, still
  pending if any copy was pending, otherwise completed at the latest completion date;
- a link stated twice, or an action registered twice for one engine: the extra rows go.

On MariaDB the original's MyISAM/utf8 tables become InnoDB/utf8mb4, TIMESTAMP columns become
DATETIME(6) in UTC (dropping the implicit ON UPDATE CURRENT_TIMESTAMP), and long text columns
become LONGTEXT so nothing is ever truncated.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

from haystack_collector import __version__

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONG = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LEGACY_TABLES = (
    "Engines", "Actions", "EngineActions", "Items", "ItemData",
    "ItemEvents", "LinkTypes", "ItemLinks", "Status", "Config",
)  # fmt: skip
BATCH = 2000

_items = sa.table("Items", sa.column("itemId"), sa.column("ItemURI"), sa.column("ItemURIHash"),
                  sa.column("EngineId"))  # fmt: skip
_events = sa.table("ItemEvents", sa.column("ItemEventId"), sa.column("engineId"),
                   sa.column("actionId"), sa.column("itemId"),
                   sa.column("itemEventDate"))  # fmt: skip
_links = sa.table("ItemLinks", sa.column("itemLinkId"), sa.column("EngineId"),
                  sa.column("itemId_left"), sa.column("itemId_right"), sa.column("linkTypeId"),
                  sa.column("itemLinkDTS"))  # fmt: skip
_engine_actions = sa.table("EngineActions", sa.column("engineActionId"), sa.column("engineId"),
                           sa.column("actionId"))  # fmt: skip
_link_types = sa.table("LinkTypes", sa.column("LinkTypeId"), sa.column("LinkTypeName"),
                       sa.column("LinkTypeDesc"))  # fmt: skip
_actions = sa.table("Actions", sa.column("actionId"), sa.column("actionName"),
                    sa.column("actionDesc"), sa.column("actionCreated"))  # fmt: skip
_engines = sa.table("Engines", sa.column("EngineId"), sa.column("EngineName"),
                    sa.column("EngineVersion"), sa.column("EngineDesc"),
                    sa.column("EngineCreated"))  # fmt: skip
_config = sa.table("Config", sa.column("configName"), sa.column("configValue"),
                   sa.column("configUpdated"))  # fmt: skip

LINK_TYPES = {
    "contains": "The left item contains the right one (a search contains its results)",
    "references": "The left item links to the right one",
    "download": "The right item is a file downloaded from the left one",
    "duplicate": "The left item is a duplicate of the right one",
    "related": "The items are related",
}
ACTIONS = {
    "WebCrawler": "Crawl web pages and follow their links",
    "ParseContents": "Parse the contents of a fetched page",
    "FileCrawler": "Scan folders of files",
    "extractor": "Extract records from a queued item",
    "downloader": "Download files linked from an item",
    "config": "Configuration changes",
    "Status": "Status messages",
}
CONFIG = {
    "RunQueue": "1",
    "MaxConcurrentJobs": "5",
    "DefaultDelay": "5",
    "SystemVersion": __version__,
}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):
        _modernise_mysql(bind)

    op.add_column("Items", sa.Column("ItemURIHash", sa.String(64)))
    op.add_column("ItemData", sa.Column("itemDataType", sa.String(10)))
    for column in (
        sa.Column("itemEventRunAfter", TS),
        sa.Column("itemEventClaimedBy", sa.String(100)),
        sa.Column("itemEventLeaseUntil", TS),
        sa.Column("itemEventAttempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("itemEventLastError", LONG),
        sa.Column("itemEventDeadDate", TS),
    ):
        op.add_column("ItemEvents", column)

    _seed(bind)
    # The unique index goes first: NULLs don't collide, and the backfill looks hashes up by it.
    op.create_index("ux_Items_ItemURIHash", "Items", ["ItemURIHash"], unique=True)
    _backfill_uri_hashes(bind)
    _merge_duplicate_events(bind)
    _merge_duplicate_links(bind)
    _merge_duplicate_engine_actions(bind)

    op.create_index("ix_Items_EngineId", "Items", ["EngineId"])
    op.create_index("ix_Items_itemCreated", "Items", ["itemCreated"])
    op.create_index("ix_ItemData_item_key_seq", "ItemData", ["itemId", "itemData", "itemDataSeq"])
    op.create_index("ix_ItemData_key", "ItemData", ["itemData"])
    op.create_index(
        "ux_ItemEvents_engine_action_item",
        "ItemEvents",
        ["engineId", "actionId", "itemId"],
        unique=True,
    )
    op.create_index(
        "ix_ItemEvents_due",
        "ItemEvents",
        ["itemEventDate", "itemEventDeadDate", "engineId", "actionId", "itemEventRunAfter"],
    )
    op.create_index("ix_ItemEvents_itemId", "ItemEvents", ["itemId"])
    op.create_index(
        "ux_ItemLinks_left_right_type",
        "ItemLinks",
        ["itemId_left", "itemId_right", "linkTypeId"],
        unique=True,
    )
    op.create_index("ix_ItemLinks_right", "ItemLinks", ["itemId_right"])
    op.create_index(
        "ux_EngineActions_engine_action", "EngineActions", ["engineId", "actionId"], unique=True
    )
    op.create_index("ix_Status_StatusDate", "Status", ["StatusDate"])


def _modernise_mysql(bind: Connection) -> None:
    schema = bind.exec_driver_sql("SELECT DATABASE()").scalar()
    tables = bind.execute(
        sa.text(
            "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = :schema"
        ),
        {"schema": schema},
    ).all()
    for name, engine, collation in tables:
        if name not in LEGACY_TABLES:
            continue
        if (engine or "").lower() != "innodb":
            op.execute(f"ALTER TABLE `{name}` ENGINE=InnoDB")
        if not (collation or "").startswith("utf8mb4"):
            op.execute(f"ALTER TABLE `{name}` CONVERT TO CHARACTER SET utf8mb4")
    # TIMESTAMP is stored in UTC; read it out in UTC so DATETIME keeps the same instants.
    op.execute("SET time_zone = '+00:00'")
    columns = bind.execute(
        sa.text(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = :schema AND DATA_TYPE = 'timestamp'"
        ),
        {"schema": schema},
    ).all()
    for table, column in columns:
        if table in LEGACY_TABLES:
            op.execute(f"ALTER TABLE `{table}` MODIFY `{column}` DATETIME(6) NULL DEFAULT NULL")
    op.alter_column("ItemData", "itemDataValue", type_=mysql.LONGTEXT(), existing_nullable=True)
    op.alter_column("Status", "StatusMessage", type_=mysql.LONGTEXT(), existing_nullable=True)


def _seed(bind: Connection) -> None:
    now = _now()
    have = set(bind.execute(sa.select(_link_types.c.LinkTypeName)).scalars())
    rows: list[dict[str, Any]] = [
        {"LinkTypeName": n, "LinkTypeDesc": d} for n, d in LINK_TYPES.items() if n not in have
    ]
    if rows:
        bind.execute(_link_types.insert(), rows)
    have = set(bind.execute(sa.select(_actions.c.actionName)).scalars())
    rows = [
        {"actionName": n, "actionDesc": d, "actionCreated": now}
        for n, d in ACTIONS.items()
        if n not in have
    ]
    if rows:
        bind.execute(_actions.insert(), rows)
    found = bind.execute(
        sa.select(_engines.c.EngineId).where(
            _engines.c.EngineName == "SystemEngine", _engines.c.EngineVersion == "1.0"
        )
    ).first()
    if found is None:
        bind.execute(
            _engines.insert().values(
                EngineName="SystemEngine",
                EngineVersion="1.0",
                EngineDesc="Haystack itself: configuration and status",
                EngineCreated=now,
            )
        )
    have = set(bind.execute(sa.select(_config.c.configName)).scalars())
    rows = [
        {"configName": n, "configValue": v, "configUpdated": now}
        for n, v in CONFIG.items()
        if n not in have
    ]
    if rows:
        bind.execute(_config.insert(), rows)


def _backfill_uri_hashes(bind: Connection) -> None:
    duplicate_type = bind.execute(
        sa.select(_link_types.c.LinkTypeId).where(_link_types.c.LinkTypeName == "duplicate")
    ).scalar_one()
    last_id = 0
    while True:
        batch = bind.execute(
            sa.select(_items.c.itemId, _items.c.ItemURI, _items.c.EngineId)
            .where(_items.c.itemId > last_id, _items.c.ItemURIHash.is_(None))
            .order_by(_items.c.itemId)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        last_id = batch[-1].itemId
        hashes = {
            row.itemId: hashlib.sha256(row.ItemURI.encode("utf-8")).hexdigest() for row in batch
        }
        canonical: dict[str, int] = dict(
            bind.execute(
                sa.select(_items.c.ItemURIHash, _items.c.itemId).where(
                    _items.c.ItemURIHash.in_(set(hashes.values()))
                )
            ).all()
        )
        updates, duplicates = [], []
        for row in batch:
            digest = hashes[row.itemId]
            if digest in canonical:
                duplicates.append(
                    {
                        "EngineId": row.EngineId,
                        "itemId_left": row.itemId,
                        "itemId_right": canonical[digest],
                        "linkTypeId": duplicate_type,
                        "itemLinkDTS": _now(),
                    }
                )
            else:
                canonical[digest] = row.itemId
                updates.append({"b_id": row.itemId, "b_hash": digest})
        if updates:
            bind.execute(
                _items.update()
                .where(_items.c.itemId == sa.bindparam("b_id"))
                .values(ItemURIHash=sa.bindparam("b_hash")),
                updates,
            )
        if duplicates:
            bind.execute(_links.insert(), duplicates)


def _merge_duplicate_events(bind: Connection) -> None:
    key = (_events.c.engineId, _events.c.actionId, _events.c.itemId)
    pending = sa.func.sum(sa.case((_events.c.itemEventDate.is_(None), 1), else_=0))
    groups = bind.execute(
        sa.select(
            *key, sa.func.min(_events.c.ItemEventId), pending, sa.func.max(_events.c.itemEventDate)
        )
        .group_by(*key)
        .having(sa.func.count() > 1)
    ).all()
    for engine_id, action_id, item_id, keep, pending_count, last_done in groups:
        same = sa.and_(
            _events.c.engineId == engine_id,
            _events.c.actionId == action_id,
            _events.c.itemId == item_id,
        )
        bind.execute(
            _events.update()
            .where(_events.c.ItemEventId == keep)
            .values(itemEventDate=None if pending_count else last_done)
        )
        bind.execute(_events.delete().where(same, _events.c.ItemEventId != keep))


def _merge_duplicate_links(bind: Connection) -> None:
    key = (_links.c.itemId_left, _links.c.itemId_right, _links.c.linkTypeId)
    groups = bind.execute(
        sa.select(*key, sa.func.min(_links.c.itemLinkId)).group_by(*key).having(sa.func.count() > 1)
    ).all()
    for left, right, link_type, keep in groups:
        bind.execute(
            _links.delete().where(
                _links.c.itemId_left == left,
                _links.c.itemId_right == right,
                _links.c.linkTypeId == link_type,
                _links.c.itemLinkId != keep,
            )
        )


def _merge_duplicate_engine_actions(bind: Connection) -> None:
    key = (_engine_actions.c.engineId, _engine_actions.c.actionId)
    groups = bind.execute(
        sa.select(*key, sa.func.max(_engine_actions.c.engineActionId))
        .group_by(*key)
        .having(sa.func.count() > 1)
    ).all()
    for engine_id, action_id, keep in groups:
        bind.execute(
            _engine_actions.delete().where(
                _engine_actions.c.engineId == engine_id,
                _engine_actions.c.actionId == action_id,
                _engine_actions.c.engineActionId != keep,
            )
        )


def downgrade() -> None:
    for name, table in (
        ("ix_Status_StatusDate", "Status"),
        ("ux_EngineActions_engine_action", "EngineActions"),
        ("ix_ItemLinks_right", "ItemLinks"),
        ("ux_ItemLinks_left_right_type", "ItemLinks"),
        ("ix_ItemEvents_itemId", "ItemEvents"),
        ("ix_ItemEvents_due", "ItemEvents"),
        ("ux_ItemEvents_engine_action_item", "ItemEvents"),
        ("ix_ItemData_key", "ItemData"),
        ("ix_ItemData_item_key_seq", "ItemData"),
        ("ix_Items_itemCreated", "Items"),
        ("ix_Items_EngineId", "Items"),
        ("ux_Items_ItemURIHash", "Items"),
    ):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("ItemEvents") as batch:
        for column in (
            "itemEventDeadDate", "itemEventLastError", "itemEventAttempts",
            "itemEventLeaseUntil", "itemEventClaimedBy", "itemEventRunAfter",
        ):  # fmt: skip
            batch.drop_column(column)
    with op.batch_alter_table("ItemData") as batch:
        batch.drop_column("itemDataType")
    with op.batch_alter_table("Items") as batch:
        batch.drop_column("ItemURIHash")
