"""Reads and writes over many items at once: linked items' values, values by URI, unlinking.

What the engines need to compare a fetch with what an earlier one stored, each one query per
chunk of URIs rather than one per item.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import item_data, item_links, items
from haystack_collector.store._sql import chunks, uri_hash
from haystack_collector.store.catalog import get_link_type_id
from haystack_collector.store.values import ItemValue, decode


def linked_values(
    conn: Connection, *, item_id: int, link_type: str, key: str | None = None
) -> dict[str, ItemValue]:
    """The URIs ``item_id`` links with ``link_type``, each with its first value of ``key``
    (None without ``key``, or when the linked item has no such value)."""
    type_id = get_link_type_id(conn, name=link_type)
    query = (
        select(items.c.ItemURI)
        .join(item_links, item_links.c.itemId_right == items.c.itemId)
        .where(item_links.c.itemId_left == item_id, item_links.c.linkTypeId == type_id)
    )
    found: dict[str, ItemValue] = {str(uri): None for uri in conn.execute(query).scalars()}
    if key is not None:
        values = (
            select(items.c.ItemURI, item_data.c.itemDataValue, item_data.c.itemDataType)
            .join(item_links, item_links.c.itemId_right == items.c.itemId)
            .join(item_data, item_data.c.itemId == items.c.itemId)
            .where(
                item_links.c.itemId_left == item_id,
                item_links.c.linkTypeId == type_id,
                item_data.c.itemData == key,
            )
            .order_by(item_data.c.itemDataSeq)
        )
        for uri, text, tag in conn.execute(values):
            if found.get(str(uri)) is None:
                found[str(uri)] = decode(text, tag)
    return found


def values_by_uri(
    conn: Connection, *, uris: Sequence[str], keys: Sequence[str]
) -> dict[str, dict[str, list[ItemValue]]]:
    """The values of ``keys`` stored on the items of ``uris``, in order, by URI and key
    (items that have none are left out)."""
    found: dict[str, dict[str, list[ItemValue]]] = {}
    d, i = item_data.c, items.c
    for part in chunks(list(dict.fromkeys(uri_hash(uri) for uri in uris))):
        query = (
            select(i.ItemURI, d.itemData, d.itemDataValue, d.itemDataType)
            .join(item_data, d.itemId == i.itemId)
            .where(i.ItemURIHash.in_(part), d.itemData.in_(keys))
            .order_by(d.itemId, d.itemData, d.itemDataSeq, d.ItemDataId)
        )
        for uri, key, text, tag in conn.execute(query):
            found.setdefault(uri, {}).setdefault(key, []).append(decode(text, tag))
    return found


def values_under(
    conn: Connection, *, engine_id: int, prefix: str, keys: Sequence[str]
) -> dict[str, dict[str, ItemValue]]:
    """One value of each of ``keys`` for every item of ``engine_id`` whose URI starts with
    ``prefix`` (a folder's ``file:`` URI, say), by URI and key."""
    query = (
        select(
            items.c.ItemURI,
            item_data.c.itemData,
            item_data.c.itemDataValue,
            item_data.c.itemDataType,
        )
        .join(item_data, item_data.c.itemId == items.c.itemId)
        .where(
            items.c.EngineId == engine_id,
            items.c.ItemURI.startswith(prefix, autoescape=True),
            item_data.c.itemData.in_(keys),
        )
    )
    found: dict[str, dict[str, ItemValue]] = {}
    for uri, key, text, tag in conn.execute(query):
        found.setdefault(str(uri), {})[str(key)] = decode(text, tag)
    return found


def unlink(conn: Connection, *, left_id: int, link_type: str, uris: Sequence[str]) -> None:
    """Drop the ``link_type`` links from ``left_id`` to the items of ``uris``."""
    if not uris:
        return
    type_id = get_link_type_id(conn, name=link_type)
    for part in chunks(list(dict.fromkeys(uri_hash(uri) for uri in uris))):
        gone = select(items.c.itemId).where(items.c.ItemURIHash.in_(part))
        conn.execute(
            delete(item_links).where(
                item_links.c.itemId_left == left_id,
                item_links.c.linkTypeId == type_id,
                item_links.c.itemId_right.in_(gone),
            )
        )
