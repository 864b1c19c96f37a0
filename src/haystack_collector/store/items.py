"""Items (one per URI), their typed data rows, and the links between them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection, Row

from haystack_collector.db.schema import (
    DATA_KEY_MAX,
    URI_MAX,
    item_data,
    item_links,
    items,
    link_types,
)
from haystack_collector.errors import IntegrityViolation
from haystack_collector.masking import strip_credentials
from haystack_collector.store import versions
from haystack_collector.store._sql import (
    check_length,
    chunks,
    from_db,
    insert_ignoring_duplicates,
    to_db,
    uri_hash,
    utcnow,
)
from haystack_collector.store.catalog import get_link_type_id
from haystack_collector.store.item_state import OUTCOME_KEYS, QUEUED, ItemState, refresh_state
from haystack_collector.store.meaning import could_matter
from haystack_collector.store.values import ItemValue, as_values, decode, encode


@dataclass(frozen=True, slots=True)
class ItemRef:
    item_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class Item:
    item_id: int
    uri: str
    engine_id: int | None
    date: datetime | None
    created: datetime | None
    state: ItemState = QUEUED


@dataclass(frozen=True, slots=True)
class DataRow:
    key: str
    value: ItemValue
    seq: int
    added: datetime | None


@dataclass(frozen=True, slots=True)
class LinkRow:
    link_id: int
    engine_id: int | None
    left: int
    right: int
    link_type: str


def clean_uri(uri: str) -> str:
    """The URI an item is stored and found under: without URL credentials (``user:pw@``)."""
    return strip_credentials(uri)


def check_uri(uri: str) -> None:
    if not uri:
        raise ValueError("an item URI cannot be empty")
    check_length("item URI", uri, URI_MAX)


def get_or_create_item(
    conn: Connection, *, uri: str, engine_id: int | None, date: datetime | None = None
) -> ItemRef:
    """The item for ``uri``, created if new; ``date`` (ItemDTS) is updated when given."""
    uri = clean_uri(uri)
    check_uri(uri)
    digest = uri_hash(uri)
    existing = _item_id_by_hash(conn, digest)
    if existing is not None:
        if date is not None:
            conn.execute(
                update(items).where(items.c.itemId == existing).values(ItemDTS=to_db(date))
            )
        return ItemRef(existing, created=False)
    added = insert_ignoring_duplicates(
        conn,
        items,
        [
            {
                "ItemURI": uri,
                "ItemURIHash": digest,
                "EngineId": engine_id,
                "ItemDTS": to_db(date) if date else utcnow(),
                "itemCreated": utcnow(),
                "ItemState": QUEUED,
            }
        ],
        unique=("ItemURIHash",),
    )
    item_id = _item_id_by_hash(conn, digest)
    if item_id is None:
        raise IntegrityViolation(f"item {uri!r} was refused (does engine {engine_id} exist?)")
    return ItemRef(item_id, created=added > 0)


def find_item_id(conn: Connection, *, uri: str) -> int | None:
    return _item_id_by_hash(conn, uri_hash(clean_uri(uri)))


def get_item(conn: Connection, *, item_id: int) -> Item | None:
    row = conn.execute(select(items).where(items.c.itemId == item_id)).first()
    return None if row is None else _item(row)


def _item_id_by_hash(conn: Connection, digest: str) -> int | None:
    return conn.execute(select(items.c.itemId).where(items.c.ItemURIHash == digest)).scalar()


def _item(row: Row[Any]) -> Item:
    return Item(
        item_id=row.itemId,
        uri=row.ItemURI,
        engine_id=row.EngineId,
        date=from_db(row.ItemDTS),
        created=from_db(row.itemCreated),
        state=row.ItemState,
    )


def lock_items(conn: Connection, item_ids: Iterable[int]) -> None:
    """Hold the items' rows until commit, so concurrent rewrites of their data serialize.

    Without it, two transactions replacing the same key both delete nothing the other sees and
    both insert. Ids are locked in order so two batches cannot deadlock; SQLite, which has one
    writer at a time, renders no FOR UPDATE.
    """
    for part in chunks(sorted(set(item_ids))):
        conn.execute(select(items.c.itemId).where(items.c.itemId.in_(part)).with_for_update())


def data_rows(
    item_id: int, key: str, values: Iterable[ItemValue], *, first_seq: int = 0
) -> list[dict[str, Any]]:
    """ItemData insert parameters for values of one key, numbered from ``first_seq``."""
    check_length("item data key", key, DATA_KEY_MAX)
    now = utcnow()
    rows = []
    for seq, value in enumerate(values, start=first_seq):
        text, tag = encode(value)
        rows.append(
            {
                "itemId": item_id,
                "itemData": key,
                "itemDataValue": text,
                "itemDataType": tag,
                "itemDataSeq": seq,
                "itemDataAdded": now,
            }
        )
    return rows


def add_item_data(
    conn: Connection, *, item_id: int, key: str, value: ItemValue, seq: int | None = None
) -> int:
    """Append a value to a key; without ``seq`` it goes after the key's last value."""
    lock_items(conn, [item_id])
    if seq is None:
        last = conn.execute(
            select(func.max(item_data.c.itemDataSeq)).where(
                item_data.c.itemId == item_id, item_data.c.itemData == key
            )
        ).scalar()
        seq = 0 if last is None else last + 1
    result = conn.execute(item_data.insert(), data_rows(item_id, key, [value], first_seq=seq))
    assert result.inserted_primary_key is not None
    if key in OUTCOME_KEYS:
        refresh_state(conn, item_id)
    return int(result.inserted_primary_key[0])


def set_item_data(
    conn: Connection, *, item_id: int, key: str, value: ItemValue | Sequence[ItemValue]
) -> None:
    """Replace every value of a key; a list or tuple stores one row per element, in order."""
    rows = data_rows(item_id, key, as_values(value))
    lock_items(conn, [item_id])
    before = versions.current_rows(conn, [item_id]) if could_matter([key]) else {}
    conn.execute(
        delete(item_data).where(item_data.c.itemId == item_id, item_data.c.itemData == key)
    )
    if rows:
        conn.execute(item_data.insert(), rows)
    if before:
        replaced = {key: [(row["itemDataValue"], row["itemDataType"]) for row in rows]}
        versions.record_changes(conn, before=before, replaced={item_id: replaced})
    if key in OUTCOME_KEYS:
        refresh_state(conn, item_id)


def get_item_data(conn: Connection, *, item_id: int, key: str) -> list[ItemValue]:
    """A key's values, in sequence order."""
    rows = conn.execute(
        select(item_data.c.itemDataValue, item_data.c.itemDataType)
        .where(item_data.c.itemId == item_id, item_data.c.itemData == key)
        .order_by(item_data.c.itemDataSeq, item_data.c.ItemDataId)
    )
    return [decode(text, tag) for text, tag in rows]


def get_item_value(conn: Connection, *, item_id: int, key: str) -> ItemValue:
    """A key's first value, or None."""
    values = get_item_data(conn, item_id=item_id, key=key)
    return values[0] if values else None


def get_item_data_all(conn: Connection, *, item_id: int) -> list[DataRow]:
    rows = conn.execute(
        select(item_data)
        .where(item_data.c.itemId == item_id)
        .order_by(item_data.c.itemData, item_data.c.itemDataSeq, item_data.c.ItemDataId)
    )
    return [
        DataRow(
            key=row.itemData,
            value=decode(row.itemDataValue, row.itemDataType),
            seq=row.itemDataSeq,
            added=from_db(row.itemDataAdded),
        )
        for row in rows
    ]


def find_items_by_data(
    conn: Connection, *, key: str, value: ItemValue = None, limit: int | None = None
) -> list[tuple[int, ItemValue]]:
    """``(item_id, value)`` for every row of a key, or only those equal to ``value``.

    Equal means the same type as well: ``1`` does not match the text ``"1"`` (legacy rows,
    which have no type, count as text).
    """
    query = select(item_data.c.itemId, item_data.c.itemDataValue, item_data.c.itemDataType).where(
        item_data.c.itemData == key
    )
    if value is not None:
        text, tag = encode(value)
        same_type = item_data.c.itemDataType == tag
        if tag == "str":
            same_type = or_(same_type, item_data.c.itemDataType.is_(None))
        query = query.where(item_data.c.itemDataValue == text, same_type)
    query = query.order_by(item_data.c.itemId, item_data.c.itemDataSeq)
    if limit is not None:
        query = query.limit(limit)
    return [(item_id, decode(text, tag)) for item_id, text, tag in conn.execute(query)]


def add_link(
    conn: Connection, *, engine_id: int | None, left: int, right: int, link_type: str
) -> bool:
    """Link two items (idempotent); True when the link is new."""
    added = insert_ignoring_duplicates(
        conn,
        item_links,
        [
            {
                "EngineId": engine_id,
                "itemId_left": left,
                "itemId_right": right,
                "linkTypeId": get_link_type_id(conn, name=link_type),
                "itemLinkDTS": utcnow(),
            }
        ],
        unique=("itemId_left", "itemId_right", "linkTypeId"),
    )
    return added > 0


def get_links(
    conn: Connection, *, item_id: int, direction: Literal["out", "in", "both"] = "both"
) -> list[LinkRow]:
    """Links from (out), to (in) or touching an item."""
    sides = {
        "out": item_links.c.itemId_left == item_id,
        "in": item_links.c.itemId_right == item_id,
        "both": or_(item_links.c.itemId_left == item_id, item_links.c.itemId_right == item_id),
    }
    rows = conn.execute(
        select(item_links, link_types.c.LinkTypeName)
        .join(link_types, link_types.c.LinkTypeId == item_links.c.linkTypeId)
        .where(sides[direction])
        .order_by(item_links.c.itemLinkId)
    )
    return [
        LinkRow(
            link_id=row.itemLinkId,
            engine_id=row.EngineId,
            left=row.itemId_left,
            right=row.itemId_right,
            link_type=row.LinkTypeName,
        )
        for row in rows
    ]
