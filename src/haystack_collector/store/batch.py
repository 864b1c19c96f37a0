"""The hot path: many items with their data, links and events in one transaction.

Set-based: one lookup of existing items per chunk of URIs, one multi-row insert per table,
so a batch costs a handful of round trips whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import item_data, item_events, item_links, items
from haystack_collector.errors import IntegrityViolation, NotFoundError
from haystack_collector.store._sql import (
    chunks,
    insert_ignoring_duplicates,
    to_db,
    uri_hash,
    utcnow,
)
from haystack_collector.store.catalog import link_type_ids
from haystack_collector.store.items import check_uri, data_rows, lock_items
from haystack_collector.store.values import ItemValue, as_values


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """A link from the record's item to ``uri`` (or from ``uri`` to it when ``direction='in'``)."""

    uri: str
    link_type: str = "references"
    direction: Literal["out", "in"] = "out"


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item to store: its URI, data (each key replaced), links and the actions it awaits."""

    uri: str
    data: Mapping[str, ItemValue | Sequence[ItemValue]] = field(default_factory=dict)
    links: Sequence[LinkSpec] = ()
    events: Sequence[int] = ()  # action ids
    date: datetime | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    item_ids: dict[str, int]  # every URI touched, including link targets
    created: frozenset[str]


def store_items(
    conn: Connection, *, engine_id: int | None, records: Sequence[ItemRecord]
) -> BatchResult:
    """Upsert items by URI with their data, links and events; safe to run again (idempotent)."""
    by_uri: dict[str, ItemRecord] = {}
    for record in records:
        check_uri(record.uri)
        by_uri[record.uri] = record  # the last statement about a URI wins, as with single calls
    targets = {link.uri for record in by_uri.values() for link in record.links}
    for uri in targets:
        check_uri(uri)
    item_ids, created = _upsert_items(conn, engine_id, by_uri, targets)
    _replace_data(conn, by_uri, item_ids, created)
    _add_links(conn, engine_id, by_uri, item_ids)
    now = utcnow()
    insert_ignoring_duplicates(
        conn,
        item_events,
        [
            {
                "engineId": engine_id,
                "actionId": action_id,
                "itemId": item_ids[uri],
                "itemEventAddedDate": now,
            }
            for uri, record in by_uri.items()
            for action_id in record.events
        ],
        unique=("engineId", "actionId", "itemId"),
    )
    return BatchResult(item_ids=item_ids, created=frozenset(created))


def _lookup(conn: Connection, hashes: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunks(hashes):
        found.update(
            conn.execute(
                select(items.c.ItemURIHash, items.c.itemId).where(items.c.ItemURIHash.in_(part))
            ).all()
        )
    return found


def _upsert_items(
    conn: Connection, engine_id: int | None, by_uri: Mapping[str, ItemRecord], targets: set[str]
) -> tuple[dict[str, int], set[str]]:
    uris = list(by_uri) + [uri for uri in targets if uri not in by_uri]
    hashes = {uri: uri_hash(uri) for uri in uris}
    existing = _lookup(conn, list(hashes.values()))
    now = utcnow()
    missing = [uri for uri in uris if hashes[uri] not in existing]
    insert_ignoring_duplicates(
        conn,
        items,
        [
            {
                "ItemURI": uri,
                "ItemURIHash": hashes[uri],
                "EngineId": engine_id,
                "ItemDTS": _item_date(by_uri.get(uri), now),
                "itemCreated": now,
            }
            for uri in missing
        ],
        unique=("ItemURIHash",),
    )
    if missing:
        existing.update(_lookup(conn, [hashes[uri] for uri in missing]))
    refused = [uri for uri in missing if hashes[uri] not in existing]
    if refused:
        raise IntegrityViolation(f"{len(refused)} items were refused, e.g. {refused[0]!r}")
    dated = [
        {"b_id": existing[hashes[uri]], "b_date": to_db(record.date)}
        for uri, record in by_uri.items()
        if record.date is not None and uri not in missing
    ]
    if dated:
        conn.execute(
            update(items)
            .where(items.c.itemId == bindparam("b_id"))
            .values(ItemDTS=bindparam("b_date")),
            dated,
        )
    return {uri: existing[hashes[uri]] for uri in uris}, set(missing)


def _item_date(record: ItemRecord | None, now: datetime) -> datetime | None:
    return to_db(record.date) if record is not None and record.date is not None else now


def _replace_data(
    conn: Connection,
    by_uri: Mapping[str, ItemRecord],
    item_ids: Mapping[str, int],
    created: set[str],
) -> None:
    stale: list[dict[str, Any]] = [
        {"b_id": item_ids[uri], "b_key": key}
        for uri, record in by_uri.items()
        if uri not in created
        for key in record.data
    ]
    if stale:
        lock_items(conn, {int(row["b_id"]) for row in stale})
        conn.execute(
            delete(item_data).where(
                and_(
                    item_data.c.itemId == bindparam("b_id"),
                    item_data.c.itemData == bindparam("b_key"),
                )
            ),
            stale,
        )
    rows: list[dict[str, Any]] = []
    for uri, record in by_uri.items():
        for key, value in record.data.items():
            rows.extend(data_rows(item_ids[uri], key, as_values(value)))
    if rows:
        conn.execute(item_data.insert(), rows)


def _add_links(
    conn: Connection,
    engine_id: int | None,
    by_uri: Mapping[str, ItemRecord],
    item_ids: Mapping[str, int],
) -> None:
    wanted = [(uri, link) for uri, record in by_uri.items() for link in record.links]
    if not wanted:
        return
    types = link_type_ids(conn)
    now = utcnow()
    rows = []
    for uri, link in wanted:
        if link.link_type not in types:
            raise NotFoundError(f"no link type named {link.link_type!r}")
        left, right = item_ids[uri], item_ids[link.uri]
        if link.direction == "in":
            left, right = right, left
        rows.append(
            {
                "EngineId": engine_id,
                "itemId_left": left,
                "itemId_right": right,
                "linkTypeId": types[link.link_type],
                "itemLinkDTS": now,
            }
        )
    insert_ignoring_duplicates(
        conn, item_links, rows, unique=("itemId_left", "itemId_right", "linkTypeId")
    )
