"""Reading items for the API: filtered keyset pages, one item in full, and streaming exports.

Pages are newest first: ordered by ``itemId`` descending, and the cursor is the last item id of
a page (opaque base64 to callers), so a page costs the same at any depth and an item stored
while someone pages never shifts the pages they have not read yet.

``total`` is exact up to ``TOTAL_CAP`` (1,000) and reported as ``TOTAL_CAP`` with
``total_exact`` False past it: counting stops after ``TOTAL_CAP + 1`` matching items, so a count
over a million items costs what a count of a thousand does. With ``total_exact`` False the total
is a lower bound (a full-text count on SQLite may also stop at a budget of index rows). The
first page counts; its cursor carries the total to the pages after it, which do not count again
(a total is as of the first page).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, bindparam, case, exists, func, literal, or_, select
from sqlalchemy.engine import Connection

from haystack_collector.db import Database
from haystack_collector.db.schema import (
    engines,
    item_data,
    item_links,
    items,
    link_types,
)
from haystack_collector.errors import ConfigError, NotFoundError
from haystack_collector.store._sql import from_db, to_db
from haystack_collector.store.events import EventRow, item_events_of
from haystack_collector.store.item_state import ITEM_STATES, ItemState, check_states
from haystack_collector.store.search import (
    Term,
    item_matches,
    parse_query,
    sqlite_count,
    sqlite_item_ids,
)
from haystack_collector.store.values import ItemValue, decode, encode

TOTAL_CAP = 1_000
_RARE_KEY = 20_000  # a data key with fewer rows is listed, not probed item by item
_COUNT_BUDGET = 2_000  # SQLite: rows of its rarest word a search's count reads, about
MAX_LIMIT = 500
LINKS_SHOWN = 500  # per direction in an item's detail; the counts say how many there are
# The data keys that name an item, in order of preference (engines write Title; job sources
# JobTitle; the original's engines wrote title).
TITLE_KEYS = ("Title", "JobTitle", "title")


@dataclass(frozen=True, slots=True)
class ItemSummary:
    """One row of an item list."""

    item_id: int
    uri: str
    engine_id: int | None
    engine: str | None
    title: str | None
    created: datetime | None  # itemCreated: when Haystack first stored the item
    seen: datetime | None  # ItemDTS: the item's date as its engine last stated it
    state: ItemState  # see store.item_state


@dataclass(frozen=True, slots=True)
class ItemPage:
    items: list[ItemSummary]
    total: int
    next: str | None
    total_exact: bool = True


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """What a list or export is narrowed to; every field is optional and they all combine."""

    engine: str | None = None
    engine_id: int | None = None
    key: str | None = None
    value: str | None = None
    linked_to: int | None = None
    linked_from: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    seen_from: datetime | None = None
    seen_to: datetime | None = None
    q: str | None = None
    state: tuple[str, ...] | None = None  # any of these item states; None or () for all
    site: str | None = None  # a host: the item's URI is on it (http or https, any port)
    url_prefix: str | None = None  # the item's URI starts with this


@dataclass(frozen=True, slots=True)
class DataEntry:
    key: str
    value: ItemValue
    seq: int
    type: str | None
    added: datetime | None


@dataclass(frozen=True, slots=True)
class LinkEntry:
    type: str
    item_id: int  # the item at the other end
    uri: str
    date: datetime | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """Something that happened to the item, as far as its rows record it."""

    date: datetime
    kind: Literal["created", "data", "link", "queued", "done", "dead"]
    detail: str


@dataclass(frozen=True, slots=True)
class ItemDetail:
    item_id: int
    uri: str
    engine_id: int | None
    engine: str | None
    title: str | None
    created: datetime | None
    seen: datetime | None
    state: ItemState
    data: list[DataEntry]
    links: dict[str, list[LinkEntry]]
    link_counts: dict[str, int]
    events: list[EventRow]
    history: list[HistoryEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends, and the total the first page counted (so later pages need not)."""

    item_id: int
    total: int | None = None
    total_exact: bool = True


_CURSOR = re.compile(r"i(\d{1,12})(?:t(\d{1,12})([ec]))?")


def encode_cursor(item_id: int, total: int | None = None, *, exact: bool = True) -> str:
    raw = f"i{item_id}" + ("" if total is None else f"t{total}{'e' if exact else 'c'}")
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    """What a cursor stands for; ConfigError (422) for anything not made by us."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ConfigError("cursor: not a cursor from this API", setting="cursor") from None
    found = _CURSOR.fullmatch(raw)
    if found is None:
        raise ConfigError("cursor: not a cursor from this API", setting="cursor")
    item_id, total, exact = found.groups()
    return Cursor(int(item_id), None if total is None else int(total), exact != "c")


def list_page(
    conn: Connection,
    *,
    where: ItemFilter,
    limit: int = 50,
    cursor: str | None = None,
    with_total: bool = True,
) -> ItemPage:
    """A page of items, newest first, narrowed by every filter in ``where``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"limit: between 1 and {MAX_LIMIT}", setting="limit")
    after = None if cursor is None else decode_cursor(cursor)
    plan = _plan(conn, where)
    before = None if after is None else after.item_id
    counting = with_total and after is None
    if counting and plan.terms is not None:
        # A SQLite search: one walk through the index finds the page and counts.
        ids, total, exact = _walk_and_count(conn, plan, want=limit + 1)
    else:
        # MariaDB's full-text semi-join reads every match for the page anyway: it counts them.
        found_rows = counting and plan.fulltext and conn.dialect.name != "sqlite"
        ids, matched = _page_ids(conn, plan, before=before, want=limit + 1, found_rows=found_rows)
        if after is not None and after.total is not None:
            total, exact = after.total, after.total_exact
        elif matched is not None:
            total, exact = min(matched, TOTAL_CAP), matched <= TOTAL_CAP
        elif counting:
            total, exact = _count(conn, plan)
        else:
            total, exact = 0, False
    found = _summaries(conn, ids[:limit])
    counted = with_total or (after is not None and after.total is not None)
    following = None
    if len(ids) > limit:
        following = encode_cursor(found[-1].item_id, total if counted else None, exact=exact)
    return ItemPage(items=found, total=total, next=following, total_exact=exact)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to find a filter's items: SQL conditions, and on SQLite the words to search for."""

    conditions: list[ColumnElement[bool]]
    terms: list[Term] | None = None  # SQLite: read these words' index newest first
    nothing: bool = False  # a search with no searchable word finds nothing
    fulltext: bool = False  # the conditions include a full-text search
    # Several states, read one state at a time through ix_Items_ItemState and merged (the
    # conditions leave the state out): an IN over the index would sort every match, a scan in
    # id order would read the whole table for rare states.
    states: tuple[str, ...] = ()


def _plan(conn: Connection, where: ItemFilter) -> _Plan:
    _check_text(where)  # before any of the filter's text reaches the database
    dialect = conn.dialect.name
    split = _split_states(where)
    if dialect != "sqlite":
        rare_key = where.key is not None and _is_rare_key(conn, where.key)
        searching = where.q is not None and bool(where.q.strip())
        conditions = _conditions(dialect, where, rare_key=rare_key, split_states=bool(split))
        return _Plan(conditions, fulltext=searching, states=split)
    terms = parse_query(where.q) if where.q is not None and where.q.strip() else []
    if where.q is not None and where.q.strip() and not terms:
        return _Plan(_conditions(dialect, where), nothing=True)
    if where.value is not None and where.value.isascii():
        # The value's longest words narrow the rows to check exactly (the EXISTS condition
        # decides); only ASCII, whose words FTS5 splits exactly as parse_query does.
        words = sorted(parse_query(where.value), key=lambda term: -len(term.word))[:2]
        terms += [word for word in words if word not in terms]
    rare_key = not terms and where.key is not None and _is_rare_key(conn, where.key)
    if terms:  # a search checks the state of each candidate it finds: IN is right there
        return _Plan(_conditions(dialect, where, rare_key=rare_key), terms)
    conditions = _conditions(dialect, where, rare_key=rare_key, split_states=bool(split))
    return _Plan(conditions, states=split)


def _split_states(where: ItemFilter) -> tuple[str, ...]:
    """The states to read one at a time: two or three of them (one is a plain condition)."""
    wanted = set(where.state or ())
    return tuple(sorted(wanted)) if 1 < len(wanted) < len(ITEM_STATES) else ()


def _is_rare_key(conn: Connection, key: str) -> bool:
    """Whether few rows have data ``key`` (counted through ix_ItemData_key, up to a cap)."""
    sample = select(item_data.c.ItemDataId).where(item_data.c.itemData == key).limit(_RARE_KEY)
    return int(conn.execute(select(func.count()).select_from(sample.subquery())).scalar_one()) < (
        _RARE_KEY
    )


def _page_ids(
    conn: Connection, plan: _Plan, *, before: int | None, want: int, found_rows: bool = False
) -> tuple[list[int], int | None]:
    """A page's item ids, and with ``found_rows`` on MariaDB how many items match in all."""
    if plan.nothing:
        return [], None
    if plan.terms is not None:
        found, _complete = sqlite_item_ids(
            conn, terms=plan.terms, conditions=plan.conditions, before=before, want=want
        )
        return found, None
    conditions = plan.conditions if before is None else [*plan.conditions, items.c.itemId < before]
    if plan.states:  # each state's newest, merged: the page is the newest of them all
        merged: list[int] = []
        matched: int | None = 0
        for state in plan.states:
            ids, count = _one_page(
                conn, [*conditions, items.c.ItemState == state], want, found_rows
            )
            merged.extend(ids)
            matched = None if count is None or matched is None else matched + count
        return sorted(merged, reverse=True)[:want], matched
    return _one_page(conn, conditions, want, found_rows)


def _one_page(
    conn: Connection, conditions: list[ColumnElement[bool]], want: int, found_rows: bool
) -> tuple[list[int], int | None]:
    page = select(items.c.itemId).where(*conditions).order_by(items.c.itemId.desc()).limit(want)
    if not (found_rows and conn.dialect.name in ("mysql", "mariadb")):
        return list(conn.execute(page).scalars()), None
    ids = list(conn.execute(page.prefix_with("SQL_CALC_FOUND_ROWS")).scalars())
    return ids, int(conn.exec_driver_sql("SELECT FOUND_ROWS()").scalar_one())


def _summaries(conn: Connection, ids: list[int]) -> list[ItemSummary]:
    if not ids:
        return []
    rows = conn.execute(_SUMMARIES, {"ids": ids}).all()
    return [
        ItemSummary(
            item_id=row[0],
            uri=row[1],
            engine_id=row[2],
            engine=row[3],
            title=row[4],
            created=from_db(row[5]),
            seen=from_db(row[6]),
            state=row[7],
        )
        for row in rows
    ]


def iter_items(db: Database, *, where: ItemFilter, chunk: int = MAX_LIMIT) -> Iterator[ItemSummary]:
    """Every matching item, newest first, read a keyset page at a time in its own short read.

    For exports: memory stays at one page however many items match, and no connection is held
    while the caller writes out what it got.
    """
    cursor: str | None = None
    while True:
        page = db.run_read(list_page, where=where, limit=chunk, cursor=cursor, with_total=False)
        yield from page.items
        if page.next is None:
            return
        cursor = page.next


def _title() -> Any:
    preference = case(
        {name: rank for rank, name in enumerate(TITLE_KEYS)},
        value=item_data.c.itemData,
        else_=len(TITLE_KEYS),
    )
    return (
        select(item_data.c.itemDataValue)
        .where(item_data.c.itemId == items.c.itemId, item_data.c.itemData.in_(TITLE_KEYS))
        .order_by(preference, item_data.c.itemDataSeq)
        .limit(1)
        .scalar_subquery()
    )


# The statements every list page and item detail runs, built once: building and keying a
# statement costs about as much as SQLite takes to run it.
_SUMMARY_FROM = items.outerjoin(engines, engines.c.EngineId == items.c.EngineId)
_SUMMARY_COLUMNS = (
    items.c.itemId,
    items.c.ItemURI,
    items.c.EngineId,
    engines.c.EngineName,
    _title(),
    items.c.itemCreated,
    items.c.ItemDTS,
    items.c.ItemState,
)
_SUMMARIES = (
    select(*_SUMMARY_COLUMNS)
    .select_from(_SUMMARY_FROM)
    .where(items.c.itemId.in_(bindparam("ids", expanding=True)))
    .order_by(items.c.itemId.desc())
)
_ITEM = (
    select(*_SUMMARY_COLUMNS)
    .select_from(_SUMMARY_FROM)
    .where(items.c.itemId == bindparam("item_id"))
)


def _walk_and_count(conn: Connection, plan: _Plan, *, want: int) -> tuple[list[int], int, bool]:
    """The first ``want`` ids of a SQLite search and its total: (ids, total, exact?).

    The walk goes on past the page to count, within a budget of index rows: past it, what was
    found so far is reported as a lower bound (``total_exact`` False), so no count reads a whole
    index. Terms that share a data row are counted by FTS5 itself first: when those alone pass
    the cap, the walk stops at the page.
    """
    assert plan.terms is not None
    if len(plan.terms) > 1 and not plan.conditions:
        together = sqlite_count(conn, terms=plan.terms, cap=TOTAL_CAP + 1)
        if together > TOTAL_CAP:
            ids, _complete = _page_ids(conn, plan, before=None, want=want)
            return ids, TOTAL_CAP, False
    found, complete = sqlite_item_ids(
        conn,
        terms=plan.terms,
        conditions=plan.conditions,
        before=None,
        want=max(want, TOTAL_CAP + 1),
        budget=_COUNT_BUDGET,
        need=want,
    )
    return found[:want], min(len(found), TOTAL_CAP), complete and len(found) <= TOTAL_CAP


def _count(conn: Connection, plan: _Plan) -> tuple[int, bool]:
    """Items meeting the plan's conditions (no search on SQLite: ``_walk_and_count`` counts
    those), counted up to ``TOTAL_CAP + 1``: (the count, exact?)."""
    if plan.nothing:
        return 0, True
    counted = 0
    for state in plan.states or (None,):
        conditions = (
            plan.conditions if state is None else [*plan.conditions, items.c.ItemState == state]
        )
        capped = select(items.c.itemId).where(*conditions).limit(TOTAL_CAP + 1 - counted).subquery()
        counted += int(conn.execute(select(func.count()).select_from(capped)).scalar_one())
        if counted > TOTAL_CAP:
            break
    return min(counted, TOTAL_CAP), counted <= TOTAL_CAP


def check_filter(dialect: str, where: ItemFilter) -> None:
    """Raise the ConfigError (422) a list with ``where`` would raise, before anything is read."""
    _conditions(dialect, where)


def _conditions(
    dialect: str, where: ItemFilter, *, rare_key: bool = False, split_states: bool = False
) -> list[ColumnElement[bool]]:
    _check_text(where)
    found: list[ColumnElement[bool]] = []
    if where.engine is not None:
        found.append(
            items.c.EngineId.in_(
                select(engines.c.EngineId).where(engines.c.EngineName == where.engine)
            )
        )
    if where.engine_id is not None:
        found.append(items.c.EngineId == where.engine_id)
    states = _state_conditions(where)  # checked even when split: a bad state is a 422
    if not split_states:
        found.extend(states)
    if where.key is not None:
        found.append(_has_data(dialect, where.key, where.value, rare=rare_key))
    found.extend(_link_conditions(where))
    for column, low, high in (
        (items.c.itemCreated, where.created_from, where.created_to),
        (items.c.ItemDTS, where.seen_from, where.seen_to),
    ):
        if low is not None:
            found.append(column >= to_db(low))
        if high is not None:
            found.append(column < to_db(high))
    found.extend(_uri_conditions(where))
    if where.q is not None and where.q.strip() and dialect != "sqlite":  # SQLite: see _plan
        found.append(item_matches(dialect, where.q))
    return found


def _like_prefix(prefix: str) -> str:
    """``prefix`` as a LIKE pattern matching what starts with it (its wildcards escaped)."""
    # "!" escapes: a backslash means something else again in MariaDB's string literals.
    escaped = prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return escaped + "%"


def _uri_conditions(where: ItemFilter) -> list[ColumnElement[bool]]:
    """The URI on a site (host) or under a prefix: a LIKE on ItemURI, the user's text bound."""
    found: list[ColumnElement[bool]] = []
    uri = items.c.ItemURI
    if where.url_prefix:
        found.append(uri.like(_like_prefix(where.url_prefix), escape="!"))
    if where.site:
        host = where.site.strip().lower().rstrip("/")
        on_site: list[ColumnElement[bool]] = [
            uri.like(_like_prefix(f"{scheme}://{host}{end}"), escape="!")
            for scheme in ("http", "https")
            for end in ("/", ":", "?", "#")
        ]
        on_site += [uri == f"{scheme}://{host}" for scheme in ("http", "https")]
        found.append(or_(*on_site))
    return found


def matching_item_ids(conn: Connection, *, where: ItemFilter, item_ids: Sequence[int]) -> set[int]:
    """Which of ``item_ids`` meet every filter in ``where`` (a small set, checked at once)."""
    if not item_ids:
        return set()
    dialect = conn.dialect.name
    conditions = _conditions(dialect, where)
    if where.q is not None and where.q.strip() and dialect == "sqlite":
        conditions.append(item_matches(dialect, where.q))  # _conditions leaves it to _plan
    matched: set[int] = set()
    for start in range(0, len(item_ids), 500):
        part = list(item_ids[start : start + 500])
        query = select(items.c.itemId).where(items.c.itemId.in_(part), *conditions)
        matched.update(int(each) for each in conn.execute(query).scalars())
    return matched


def _has_data(
    dialect: str, key: str, value: str | None, *, rare: bool = False
) -> ColumnElement[bool]:
    """The item has a data row ``key`` (equal to ``value`` when given).

    A common key is checked item by item as the page is read (the first matches come soon), a
    rare one by listing its rows (few, through ix_ItemData_key).
    """
    having = [item_data.c.itemData == key]
    if value is not None:
        text, _tag = encode(value)
        stored: ColumnElement[Any] = item_data.c.itemDataValue
        if dialect in ("mysql", "mariadb"):  # exact, not the column's case/accent-blind collation
            stored = stored.collate("utf8mb4_bin")
        having.append(stored == text)
    if not rare:
        # Checked per item through (itemId, itemData): the candidates come from the page's
        # order or the full-text index, never from every row of a common key.
        if dialect == "sqlite":
            return exists().where(item_data.c.itemId == items.c.itemId, *having)
        # MariaDB turns EXISTS into a semi-join that reads every row of the key first; a scalar
        # subquery with LIMIT it must run per item, as wanted.
        first = select(literal(1)).where(item_data.c.itemId == items.c.itemId, *having).limit(1)
        return first.scalar_subquery().is_not(None)
    return items.c.itemId.in_(select(item_data.c.itemId).where(*having))


def _check_text(where: ItemFilter) -> None:
    for name in ("engine", "key", "value", "site", "url_prefix"):
        if "\x00" in (getattr(where, name) or ""):  # no database stores it; PostgreSQL refuses it
            raise ConfigError(f"{name}: cannot contain NUL", setting=name)
    if where.value is not None and where.key is None:
        raise ConfigError("value: give the data key it belongs to (key=...)", setting="value")


def _state_conditions(where: ItemFilter) -> list[ColumnElement[bool]]:
    """One state reads ix_Items_ItemState (ItemState, itemId) in the list's order."""
    try:
        wanted = set(check_states(where.state or ()))
    except ValueError as error:
        raise ConfigError(f"state: {error}", setting="state") from None
    if not wanted or wanted == set(ITEM_STATES):
        return []
    if len(wanted) == 1:
        return [items.c.ItemState == wanted.pop()]
    return [items.c.ItemState.in_(sorted(wanted))]


def _link_conditions(where: ItemFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.linked_to is not None:
        pointing = select(item_links.c.itemId_left).where(
            item_links.c.itemId_right == where.linked_to
        )
        found.append(items.c.itemId.in_(pointing))
    if where.linked_from is not None:
        pointed = select(item_links.c.itemId_right).where(
            item_links.c.itemId_left == where.linked_from
        )
        found.append(items.c.itemId.in_(pointed))
    return found


def get_item(conn: Connection, *, item_id: int) -> ItemDetail:
    """An item with its data, links both ways, events and history; NotFoundError if none."""
    row = conn.execute(_ITEM, {"item_id": item_id}).first()
    if row is None:
        raise NotFoundError(f"no item {item_id}")
    data = _data(conn, item_id)
    links = {side: _links(conn, item_id, side) for side in ("out", "in")}
    counts = {side: _link_count(conn, item_id, side) for side in ("out", "in")}
    events = item_events_of(conn, item_id=item_id)
    created = from_db(row[5])
    return ItemDetail(
        item_id=row[0],
        uri=row[1],
        engine_id=row[2],
        engine=row[3],
        title=row[4],
        created=created,
        seen=from_db(row[6]),
        state=row[7],
        data=data,
        links=links,
        link_counts=counts,
        events=events,
        history=_history(created, data, links, events),
    )


def _data(conn: Connection, item_id: int) -> list[DataEntry]:
    rows = conn.execute(_DATA, {"item_id": item_id})
    return [
        DataEntry(
            key=key, value=decode(text, tag), seq=seq, type=tag or "str", added=from_db(added)
        )
        for key, text, tag, seq, added in rows
    ]


def _link_statements(side: str) -> tuple[Any, Any]:
    """(the links, their count) of an item in one direction, as statements on ``item_id``."""
    mine, other = (
        (item_links.c.itemId_left, item_links.c.itemId_right)
        if side == "out"
        else (item_links.c.itemId_right, item_links.c.itemId_left)
    )
    listed = (
        select(link_types.c.LinkTypeName, other, items.c.ItemURI, item_links.c.itemLinkDTS)
        .join(link_types, link_types.c.LinkTypeId == item_links.c.linkTypeId)
        .join(items, items.c.itemId == other)
        .where(mine == bindparam("item_id"))
        .order_by(item_links.c.itemLinkId)
        .limit(LINKS_SHOWN)
    )
    counted = select(func.count()).select_from(item_links).where(mine == bindparam("item_id"))
    return listed, counted


_DATA = (
    select(
        item_data.c.itemData,
        item_data.c.itemDataValue,
        item_data.c.itemDataType,
        item_data.c.itemDataSeq,
        item_data.c.itemDataAdded,
    )
    .where(item_data.c.itemId == bindparam("item_id"))
    .order_by(item_data.c.itemData, item_data.c.itemDataSeq, item_data.c.ItemDataId)
)
_LINKS = {side: _link_statements(side) for side in ("out", "in")}


def _links(conn: Connection, item_id: int, side: str) -> list[LinkEntry]:
    rows = conn.execute(_LINKS[side][0], {"item_id": item_id})
    return [
        LinkEntry(type=kind, item_id=other_id, uri=uri, date=from_db(date))
        for kind, other_id, uri, date in rows
    ]


def _link_count(conn: Connection, item_id: int, side: str) -> int:
    return int(conn.execute(_LINKS[side][1], {"item_id": item_id}).scalar() or 0)


def _history(
    created: datetime | None,
    data: list[DataEntry],
    links: dict[str, list[LinkEntry]],
    events: list[EventRow],
) -> list[HistoryEntry]:
    """What the rows record, oldest first: creation, data writes (keys grouped by the time they
    were written), links, and each action's queueing, completion or death.

    Replaced data rows are gone, so only the current values' writes appear.
    """
    entries: list[HistoryEntry] = []
    if created is not None:
        entries.append(HistoryEntry(created, "created", "first stored"))
    written: dict[datetime, list[str]] = {}
    for entry in data:
        if entry.added is not None and entry.key not in written.setdefault(entry.added, []):
            written[entry.added].append(entry.key)
    entries.extend(
        HistoryEntry(moment, "data", ", ".join(keys)) for moment, keys in written.items()
    )
    for side, arrow in (("out", "->"), ("in", "<-")):
        entries.extend(
            HistoryEntry(link.date, "link", f"{link.type} {arrow} {link.item_id}")
            for link in links[side]
            if link.date is not None
        )
    for event in events:
        label = f"{event.engine}/{event.action}"
        if event.added is not None:
            entries.append(HistoryEntry(event.added, "queued", label))
        if event.done is not None:
            entries.append(HistoryEntry(event.done, "done", label))
        if event.dead_since is not None:
            entries.append(
                HistoryEntry(event.dead_since, "dead", f"{label}: {event.last_error or ''}")
            )
    order = {"created": 0, "data": 1, "link": 2, "queued": 3, "done": 4, "dead": 5}
    return sorted(entries, key=lambda entry: (entry.date, order[entry.kind]))


__all__ = [
    "MAX_LIMIT",
    "TOTAL_CAP",
    "Cursor",
    "DataEntry",
    "HistoryEntry",
    "ItemDetail",
    "ItemFilter",
    "ItemPage",
    "ItemSummary",
    "LinkEntry",
    "check_filter",
    "decode_cursor",
    "encode_cursor",
    "get_item",
    "iter_items",
    "list_page",
    "matching_item_ids",
]
