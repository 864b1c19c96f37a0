"""Items carry their state: fetched, queued, failed or gone (see ``store.item_state``).

The column is filled in bulk from what the rows already record, in this order (a later rule
wins): an item with a finished event, or with data other than the engines' bookkeeping keys,
is ``fetched``; a still queued item whose event died is ``failed``; an item with an outcome
(``StatusCode``, ``Error`` or ``Gone`` data) is ``fetched``, ``failed`` when the error is set
or the status is 400-599, and ``gone`` for 404/410, ``Gone`` true, or a file scanned as deleted.
Everything else (only discovered) stays ``queued``.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Written by the engines to queue or steer work, not collected from anywhere.
BOOKKEEPING_KEYS = (
    "Depth",
    "CrawlRoot",
    "CrawlSettings",
    "CrawlEnqueued",
    "FollowAction",
    "MaxFileBytes",
    "DownloadSettings",
)

items = sa.table("Items", sa.column("itemId", sa.Integer), sa.column("ItemState", sa.String))
data = sa.table(
    "ItemData",
    sa.column("itemId", sa.Integer),
    sa.column("itemData", sa.String),
    sa.column("itemDataValue", sa.Text),
)
events = sa.table(
    "ItemEvents",
    sa.column("itemId", sa.Integer),
    sa.column("itemEventDate", sa.DateTime),
    sa.column("itemEventDeadDate", sa.DateTime),
)


def upgrade() -> None:
    with op.batch_alter_table("Items") as batch:
        batch.add_column(
            sa.Column("ItemState", sa.String(10), nullable=False, server_default="queued")
        )
    op.create_index("ix_Items_ItemState", "Items", ["ItemState", "itemId"])
    _backfill(op.get_bind())


def _with_data(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    return items.c.itemId.in_(sa.select(data.c.itemId).where(sa.or_(*conditions)))


def _backfill(conn: sa.Connection) -> None:
    key, value = data.c.itemData, data.c.itemDataValue
    done = items.c.itemId.in_(sa.select(events.c.itemId).where(events.c.itemEventDate.is_not(None)))
    dead = items.c.itemId.in_(
        sa.select(events.c.itemId).where(
            events.c.itemEventDate.is_(None), events.c.itemEventDeadDate.is_not(None)
        )
    )
    error_status = sa.and_(
        key == "StatusCode", sa.func.length(value) == 3, value >= "400", value <= "599"
    )
    steps: list[tuple[str, sa.ColumnElement[bool]]] = [
        ("fetched", sa.or_(done, _with_data(key.not_in(BOOKKEEPING_KEYS)))),
        ("failed", sa.and_(items.c.ItemState == "queued", dead)),
        ("fetched", _with_data(key.in_(("StatusCode", "Error", "Gone")))),
        (
            "failed",
            _with_data(sa.and_(key == "Error", value.is_not(None), value != ""), error_status),
        ),
        (
            "gone",
            _with_data(
                sa.and_(key == "StatusCode", value.in_(("404", "410"))),
                sa.and_(key == "Gone", value.in_(("true", "1"))),
                sa.and_(key == "FileState", value == "deleted"),
            ),
        ),
    ]
    for state, which in steps:
        conn.execute(sa.update(items).where(which).values(ItemState=state))


def downgrade() -> None:
    op.drop_index("ix_Items_ItemState", table_name="Items")
    if op.get_bind().dialect.name == "sqlite":
        # Batch mode would recreate Items, which the other tables' foreign keys refer to;
        # SQLite (3.35+) drops a plain column in place.
        op.execute('ALTER TABLE "Items" DROP COLUMN "ItemState"')
    else:
        op.drop_column("Items", "ItemState")
