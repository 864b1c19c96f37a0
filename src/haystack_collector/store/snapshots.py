"""Reads of page snapshots: which an item links to, and what kind a stored hash is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import item_data, item_links, items, link_types
from haystack_collector.store._sql import uri_hash
from haystack_collector.store.values import decode

__all__ = ["SNAPSHOT_LINK", "URI_PREFIX", "SnapshotRow", "item_snapshots", "snapshot_kind"]

SNAPSHOT_LINK = "snapshot"
URI_PREFIX = "urn:sha256:"
_KEYS = ("SnapshotKind", "SHA256", "FileSize")


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A snapshot an item links to: its kind, hash, size and when the link was made."""

    item_id: int
    kind: str
    sha256: str
    size: int | None
    linked: datetime | None


def item_snapshots(conn: Connection, *, item_id: int) -> list[SnapshotRow]:
    """The snapshots ``item_id`` links to, the newest link first."""
    right = (
        select(items.c.itemId, item_links.c.itemLinkDTS)
        .join(item_links, item_links.c.itemId_right == items.c.itemId)
        .join(link_types, link_types.c.LinkTypeId == item_links.c.linkTypeId)
        .where(item_links.c.itemId_left == item_id, link_types.c.LinkTypeName == SNAPSHOT_LINK)
        .order_by(item_links.c.itemLinkId.desc())
    )
    linked = {int(row.itemId): row.itemLinkDTS for row in conn.execute(right)}
    if not linked:
        return []
    values: dict[int, dict[str, object]] = {}
    d = item_data.c
    query = select(d.itemId, d.itemData, d.itemDataValue, d.itemDataType).where(
        d.itemId.in_(list(linked)), d.itemData.in_(_KEYS)
    )
    for found_id, key, text, tag in conn.execute(query):
        values.setdefault(int(found_id), {}).setdefault(str(key), decode(text, tag))
    rows = []
    for found_id, when in linked.items():
        data = values.get(found_id, {})
        kind, sha256, size = data.get("SnapshotKind"), data.get("SHA256"), data.get("FileSize")
        if isinstance(kind, str) and isinstance(sha256, str):
            rows.append(
                SnapshotRow(found_id, kind, sha256, size if isinstance(size, int) else None, when)
            )
    return rows


def snapshot_kind(conn: Connection, *, sha256: str) -> str | None:
    """The kind of the stored snapshot of ``sha256`` (html, png, pdf), or None if there is none."""
    query = (
        select(item_data.c.itemDataValue, item_data.c.itemDataType)
        .join(items, items.c.itemId == item_data.c.itemId)
        .where(
            items.c.ItemURIHash == uri_hash(URI_PREFIX + sha256),
            item_data.c.itemData == "SnapshotKind",
        )
        .limit(1)
    )
    row = conn.execute(query).first()
    value = None if row is None else decode(row[0], row[1])
    return value if isinstance(value, str) else None
