"""The hot path: many items with their data, links and events in one transaction.

Set-based: one lookup of existing items per chunk of URIs and one driver ``executemany`` per
table, with values prepared once per batch (``bulk_insert``), so the cost per row is the
database's, not Python's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, bindparam, delete, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import DATA_KEY_MAX, item_data, item_events, item_links, items
from haystack_collector.errors import IntegrityViolation, NotFoundError
from haystack_collector.logs import get_correlation_id
from haystack_collector.origin import current_origin
from haystack_collector.store import versions
from haystack_collector.store._sql import (
    bulk_insert,
    check_length,
    find_ids,
    param_converter,
    to_db,
    uri_hash,
    utcnow,
)
from haystack_collector.store.catalog import link_type_ids
from haystack_collector.store.item_state import (
    QUEUED,
    ItemState,
    outcome_state,
    set_states,
    settle_queued,
)
from haystack_collector.store.items import check_uri, clean_uri, lock_items
from haystack_collector.store.meaning import Encoded, could_matter
from haystack_collector.store.values import ItemValue, as_values, encode


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """A link from the record's item to ``uri`` (or from ``uri`` to it when ``direction='in'``)."""

    uri: str
    link_type: str = "references"
    direction: Literal["out", "in"] = "out"


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item to store: its URI, data (each key replaced), links and the actions it awaits.

    ``state`` declares what the record is when its data states no outcome (see
    ``store.item_state``): ``fetched`` for a record that is content in itself, such as a feed
    entry or a bookmark. It moves only a new or still queued item; an outcome in ``data``
    (``StatusCode``, ``Error``, ``Gone``) always sets the state and wins over it.
    """

    uri: str
    data: Mapping[str, ItemValue | Sequence[ItemValue]] = field(default_factory=dict)
    links: Sequence[LinkSpec] = ()
    events: Sequence[int] = ()  # action ids
    date: datetime | None = None
    state: ItemState | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    item_ids: dict[str, int]  # every URI touched, including link targets
    created: frozenset[str]


def store_items(
    conn: Connection, *, engine_id: int | None, records: Sequence[ItemRecord]
) -> BatchResult:
    """Upsert items by URI with their data, links and events; safe to run again (idempotent).

    URIs lose their URL credentials (``clean_uri``); the result still answers for the URIs
    as given, so callers look their items up by what they passed.
    """
    given = records
    records = [_clean(record) for record in records]
    by_uri: dict[str, ItemRecord] = {}
    for record in records:
        check_uri(record.uri)
        by_uri[record.uri] = record  # the last statement about a URI wins, as with single calls
    targets = {link.uri for record in by_uri.values() for link in record.links}
    for uri in targets - by_uri.keys():
        check_uri(uri)
    now = param_converter(conn, items.c.itemCreated)(utcnow())
    item_ids, created = _upsert_items(conn, engine_id, by_uri, targets, now)
    _replace_data(conn, by_uri, item_ids, created, now)
    _add_links(conn, engine_id, by_uri, item_ids, now)
    correlation, origin = get_correlation_id(), current_origin()
    bulk_insert(
        conn,
        item_events,
        (
            "engineId",
            "actionId",
            "itemId",
            "itemEventAddedDate",
            "itemEventCorrelationId",
            "itemEventOrigin",
        ),
        [
            (engine_id, action_id, item_ids[uri], now, correlation, origin)
            for uri, record in by_uri.items()
            for action_id in record.events
        ],
        ignore_duplicates_on=("engineId", "actionId", "itemId"),
    )
    _answer_for_given(given, records, item_ids, created)
    return BatchResult(item_ids=item_ids, created=frozenset(created))


def _clean(record: ItemRecord) -> ItemRecord:
    uri = clean_uri(record.uri)
    links = [
        link if clean_uri(link.uri) == link.uri else replace(link, uri=clean_uri(link.uri))
        for link in record.links
    ]
    if uri == record.uri and all(a is b for a, b in zip(links, record.links, strict=True)):
        return record
    return replace(record, uri=uri, links=links)


def _answer_for_given(
    given: Sequence[ItemRecord],
    cleaned: Sequence[ItemRecord],
    item_ids: dict[str, int],
    created: set[str],
) -> None:
    """Key the result by the URIs as given too (they differ when credentials were dropped)."""
    for before, after in zip(given, cleaned, strict=True):
        if before is after:
            continue
        pairs = [(before.uri, after.uri)] + [
            (a.uri, b.uri) for a, b in zip(before.links, after.links, strict=True)
        ]
        for original, clean in pairs:
            if original != clean and clean in item_ids:
                item_ids[original] = item_ids[clean]
                if clean in created:
                    created.add(original)


def _lookup(conn: Connection, hashes: Iterable[str]) -> dict[str, int]:
    return find_ids(conn, items, key="ItemURIHash", values=hashes)


def _upsert_items(
    conn: Connection,
    engine_id: int | None,
    by_uri: Mapping[str, ItemRecord],
    targets: set[str],
    now: object,
) -> tuple[dict[str, int], set[str]]:
    hashes = {uri: uri_hash(uri) for uri in (*by_uri, *(targets - by_uri.keys()))}
    to_param = param_converter(conn, items.c.ItemDTS)
    dates = {uri: to_param(to_db(record.date)) for uri, record in by_uri.items() if record.date}
    outcomes = {uri: outcome_state(record.data) for uri, record in by_uri.items()}
    existing = _lookup(conn, hashes.values())
    missing = [uri for uri, digest in hashes.items() if digest not in existing]
    bulk_insert(
        conn,
        items,
        ("ItemURI", "EngineId", "ItemDTS", "itemCreated", "ItemURIHash", "ItemState"),
        [
            (
                uri,
                engine_id,
                dates.get(uri, now),
                now,
                hashes[uri],
                _first_state(by_uri, outcomes, uri),
            )
            for uri in missing
        ],
        ignore_duplicates_on=("ItemURIHash",),
    )
    if missing:
        existing.update(_lookup(conn, (hashes[uri] for uri in missing)))
    refused = [uri for uri in missing if hashes[uri] not in existing]
    if refused:
        raise IntegrityViolation(f"{len(refused)} items were refused, e.g. {refused[0]!r}")
    created = set(missing)
    _settle_existing(
        conn, by_uri, outcomes, {uri: existing[hashes[uri]] for uri in by_uri}, created
    )
    dated = [
        {"b_id": existing[hashes[uri]], "b_date": to_db(record.date)}
        for uri, record in by_uri.items()
        if record.date is not None and uri not in created
    ]
    if dated:
        conn.execute(
            update(items)
            .where(items.c.itemId == bindparam("b_id"))
            .values(ItemDTS=bindparam("b_date")),
            dated,
        )
    return {uri: existing[digest] for uri, digest in hashes.items()}, created


def _first_state(
    by_uri: Mapping[str, ItemRecord], outcomes: Mapping[str, ItemState | None], uri: str
) -> ItemState:
    """A new item's state: its outcome, else what its record declares, else queued."""
    record = by_uri.get(uri)
    if record is None:  # only a link target
        return QUEUED
    return outcomes[uri] or record.state or QUEUED


def _settle_existing(
    conn: Connection,
    by_uri: Mapping[str, ItemRecord],
    outcomes: Mapping[str, ItemState | None],
    ids: Mapping[str, int],
    created: set[str],
) -> None:
    """Existing items take their records' outcomes; a declared state moves only queued ones."""
    known = [uri for uri in by_uri if uri not in created]
    set_states(conn, {ids[uri]: state for uri in known if (state := outcomes[uri]) is not None})
    declared: dict[ItemState, list[int]] = {}
    for uri in known:
        state = by_uri[uri].state
        if outcomes[uri] is None and state is not None and state != QUEUED:
            declared.setdefault(state, []).append(ids[uri])
    for state, item_ids in declared.items():
        settle_queued(conn, item_ids, state)


def _replace_data(
    conn: Connection,
    by_uri: Mapping[str, ItemRecord],
    item_ids: Mapping[str, int],
    created: set[str],
    now: object,
) -> None:
    stale: list[dict[str, Any]] = [
        {"b_id": item_ids[uri], "b_key": key}
        for uri, record in by_uri.items()
        if uri not in created
        for key in record.data
    ]
    before: dict[int, versions.EncodedData] = {}
    if stale:
        lock_items(conn, {int(row["b_id"]) for row in stale})
        # What an existing item meant before this write, when the write may change it: one
        # read for the batch, kept as a version below if the meaning changed.
        before = versions.current_rows(
            conn,
            (
                item_ids[uri]
                for uri, record in by_uri.items()
                if uri not in created and could_matter(record.data)
            ),
        )
        conn.execute(
            delete(item_data).where(
                and_(
                    item_data.c.itemId == bindparam("b_id"),
                    item_data.c.itemData == bindparam("b_key"),
                )
            ),
            stale,
        )
    rows: list[tuple[Any, ...]] = []
    checked: set[str] = set()
    replaced: dict[int, dict[str, list[Encoded]]] = {}
    for uri, record in by_uri.items():
        item_id = item_ids[uri]
        new = replaced.setdefault(item_id, {}) if item_id in before else None
        for key, value in record.data.items():
            if key not in checked:
                check_length("item data key", key, DATA_KEY_MAX)
                checked.add(key)
            encoded = [encode(one) for one in as_values(value)]
            if new is not None:
                new[key] = encoded
            rows.extend(
                (item_id, key, text, seq, now, tag) for seq, (text, tag) in enumerate(encoded)
            )
    bulk_insert(
        conn,
        item_data,
        ("itemId", "itemData", "itemDataValue", "itemDataSeq", "itemDataAdded", "itemDataType"),
        rows,
    )
    if before:
        versions.record_changes(conn, before=before, replaced=replaced)


def _add_links(
    conn: Connection,
    engine_id: int | None,
    by_uri: Mapping[str, ItemRecord],
    item_ids: Mapping[str, int],
    now: object,
) -> None:
    wanted = [(uri, link) for uri, record in by_uri.items() for link in record.links]
    if not wanted:
        return
    types = link_type_ids(conn)
    rows = []
    for uri, link in wanted:
        if link.link_type not in types:
            raise NotFoundError(f"no link type named {link.link_type!r}")
        left, right = item_ids[uri], item_ids[link.uri]
        if link.direction == "in":
            left, right = right, left
        rows.append((engine_id, left, right, types[link.link_type], now))
    bulk_insert(
        conn,
        item_links,
        ("EngineId", "itemId_left", "itemId_right", "linkTypeId", "itemLinkDTS"),
        rows,
        ignore_duplicates_on=("itemId_left", "itemId_right", "linkTypeId"),
    )
