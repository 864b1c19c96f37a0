"""The web crawl's transactions: seed a crawl, and store fetched pages many at a time.

A crawl's root item carries its limits (ItemData ``CrawlSettings``, JSON, parsed by the engine)
and a counter of the pages enqueued so far (``CrawlEnqueued``); every page carries its
``Depth`` and ``CrawlRoot``. ``store_pages`` stores a batch of fetched pages in ONE
transaction: each page's data, ``references`` links to its in-scope targets, the items and
events of the targets it enqueues, and its own event marked done. So a page and its finished
event commit together, and a process killed mid-batch loses only that batch, whose events are
still pending and are fetched again.

Max pages is exact, also with many workers: enqueueing first locks the root's
``CrawlEnqueued`` row (``SELECT ... FOR UPDATE``; SQLite has a single writer), so concurrent
transactions of one crawl decide "is this target already queued" and spend the page budget one
after another; inside a batch, pages decide in order. That lock also makes "new target"
race-free. It is held for one short transaction, never during a fetch.

A target is queued when it has no ``WebCrawler`` event yet, not merely when its item is new: a
URL first seen beyond the depth limit (stored as a bare link target) is still crawled when a
shallower page links to it later. ``Depth`` is the depth at which a page was first queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import String, and_, bindparam, null, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import BindParameter, ClauseElement

from haystack_collector.db.schema import item_data, item_events, items
from haystack_collector.store._sql import CHUNK, _positional, chunks, param_converter, uri_hash
from haystack_collector.store._sql import utcnow as _utcnow
from haystack_collector.store.batch import ItemRecord, LinkSpec, store_items
from haystack_collector.store.values import ItemValue, decode, encode
from haystack_collector.urls import looks_like_trap

__all__ = [
    "CRAWL_ENQUEUED",
    "CRAWL_ROOT",
    "CRAWL_SETTINGS",
    "DEPTH",
    "CrawlScope",
    "PageWrite",
    "Scopes",
    "StoredPage",
    "finish_event",
    "read_data",
    "seed_crawl",
    "store_pages",
]

# ItemData keys the crawl relies on.
DEPTH = "Depth"
CRAWL_ROOT = "CrawlRoot"
CRAWL_SETTINGS = "CrawlSettings"
CRAWL_ENQUEUED = "CrawlEnqueued"


class CrawlScope(Protocol):
    """What storing a page needs of a crawl's limits (the engine's ``CrawlSpec``)."""

    @property
    def max_depth(self) -> int: ...

    @property
    def max_pages(self) -> int: ...

    def in_scope(self, url: str) -> bool: ...


class Scopes(Protocol):
    """The engine's crawl limits by root item id, parsed from ``CrawlSettings`` once."""

    def get(self, root: int) -> CrawlScope | None: ...

    def parse(self, root: int, raw: ItemValue) -> CrawlScope: ...


@dataclass(frozen=True, slots=True)
class PageWrite:
    """One fetched page to store: its item, its claimed event, its data and link targets."""

    item_id: int
    uri: str
    event_id: int
    data: Mapping[str, ItemValue | Sequence[ItemValue]]
    links: Sequence[str]  # canonical, distinct, in document order


@dataclass(frozen=True, slots=True)
class StoredPage:
    """What storing one page did."""

    depth: int
    linked: int
    enqueued: int
    root: int | None = None  # the page's crawl
    queued: tuple[str, ...] = ()  # the targets it enqueued (pages of the same crawl)


def seed_crawl(
    conn: Connection, *, engine_id: int, action_id: int, url: str, settings: Mapping[str, Any]
) -> int:
    """Store the root item with the limits and queue it; idempotent (a rerun resumes)."""
    result = store_items(
        conn,
        engine_id=engine_id,
        records=[ItemRecord(uri=url, data={DEPTH: 0}, events=[action_id])],
    )
    root_id = result.item_ids[url]
    data: dict[str, ItemValue | Sequence[ItemValue]] = {
        CRAWL_ROOT: root_id,
        CRAWL_SETTINGS: dict(settings),
    }
    if read_data(conn, root_id, (CRAWL_ENQUEUED,)).get(CRAWL_ENQUEUED) is None:
        data[CRAWL_ENQUEUED] = 1  # the root itself; kept as it is when the crawl resumes
    store_items(conn, engine_id=engine_id, records=[ItemRecord(uri=url, data=data)])
    return root_id


def store_pages(
    conn: Connection,
    *,
    engine_id: int,
    action_id: int,
    pages: Sequence[PageWrite],
    scopes: Scopes,
) -> list[StoredPage]:
    """Store fetched pages, their links and the targets they enqueue, as one transaction.

    Each page's event is marked done in the same transaction: a page that is stored is never
    fetched again, even when its process dies before the worker's batched finish. Pages are
    decided in order, so a target two of them link to is queued once, by the first.
    """
    positions = _positions(conn, [page.item_id for page in pages])
    plans: list[tuple[PageWrite, int, int | None, list[str], list[str]]] = []
    wanted: dict[int, dict[str, None]] = {}  # by root: the targets to decide, in order
    for page in pages:
        depth, root = positions.get(page.item_id, (0, None))
        targets: list[str] = []
        fresh: list[str] = []
        if root is not None:
            spec = _scope(conn, root, scopes)
            targets = [u for u in page.links if spec.in_scope(u) and looks_like_trap(u) is None]
            if depth < spec.max_depth:
                fresh = [u for u in targets if u != page.uri]
                wanted.setdefault(root, {}).update(dict.fromkeys(fresh))
        plans.append((page, depth, root, targets, fresh))
    # Roots in one order, so two transactions never wait for each other's counter locks.
    rooms = {
        root: _room(conn, engine_id, action_id, root, scopes, urls)
        for root, urls in sorted(wanted.items())
    }
    records: list[ItemRecord] = []
    stored: list[StoredPage] = []
    for page, depth, root, targets, fresh in plans:
        queued = rooms[root].take(fresh) if root is not None and fresh else []
        records.append(
            ItemRecord(uri=page.uri, data=page.data, links=[LinkSpec(url) for url in targets])
        )
        records.extend(
            ItemRecord(uri=url, data={DEPTH: depth + 1, CRAWL_ROOT: root}, events=[action_id])
            for url in queued
        )
        stored.append(StoredPage(depth, len(targets), len(queued), root, tuple(queued)))
    for root, room in rooms.items():
        room.save(conn, root)
    store_items(conn, engine_id=engine_id, records=records)
    finish_events(conn, [page.event_id for page in pages])
    return stored


@dataclass(slots=True)
class _Room:
    """A crawl's page budget in this transaction: what is left, and what is already queued."""

    counter: bool  # the root has its CrawlEnqueued row (a crawl seeded by seed_crawl)
    enqueued: int
    left: int
    taken: set[str]  # queued before (in any state) or by an earlier page of this batch
    chosen: int = 0

    def take(self, urls: list[str]) -> list[str]:
        chosen = [url for url in urls if url not in self.taken][: max(self.left, 0)]
        self.taken.update(chosen)
        self.left -= len(chosen)
        self.chosen += len(chosen)
        return chosen

    def save(self, conn: Connection, root: int) -> None:
        if self.counter and self.chosen:
            text, tag = encode(self.enqueued + self.chosen)
            params = {"root": root, "key": CRAWL_ENQUEUED, "value": text, "tag": tag}
            _execute(conn, "set_counter", params)


def _room(  # noqa: PLR0917 - a private helper of store_pages
    conn: Connection,
    engine_id: int,
    action_id: int,
    root: int,
    scopes: Scopes,
    urls: Mapping[str, None],
) -> _Room:
    """Lock the root's counter (see the module docstring) and read what is queued already."""
    row = _execute(conn, "lock_counter", {"root": root, "key": CRAWL_ENQUEUED}).first()
    enqueued = _as_int(None if row is None else decode(row[0], row[1]), 1)
    left = _scope(conn, root, scopes).max_pages - enqueued
    already = _queued(conn, engine_id, action_id, urls) if left > 0 else set()
    taken = {url for url in urls if uri_hash(url) in already}
    return _Room(row is not None, enqueued, left, taken)


def _positions(conn: Connection, item_ids: Sequence[int]) -> dict[int, tuple[int, int | None]]:
    """Each item's ``Depth`` (the smallest) and ``CrawlRoot`` (None: a page of no crawl)."""
    found: dict[int, dict[str, ItemValue]] = {}
    for part in chunks(list(item_ids), _POSITION_SHAPES[-1]):
        size = next(n for n in _POSITION_SHAPES if n >= len(part))
        part.extend([part[-1]] * (size - len(part)))
        params: dict[str, Any] = {f"i{n}": item for n, item in enumerate(part)}
        params |= {"depth": DEPTH, "root": CRAWL_ROOT}
        for item, key, text, tag in _execute(conn, f"positions_{size}", params):
            value, seen = decode(text, tag), found.setdefault(item, {})
            if key not in seen or (key == DEPTH and _as_int(value, 0) < _as_int(seen[key], 0)):
                seen[key] = value
    positions: dict[int, tuple[int, int | None]] = {}
    for item, seen in found.items():
        root = seen.get(CRAWL_ROOT)
        crawl = root if isinstance(root, int) and not isinstance(root, bool) else None
        positions[item] = (_as_int(seen.get(DEPTH), 0), crawl)
    return positions


_POSITION_SHAPES = (1, 8, 64)


def _queued(conn: Connection, engine_id: int, action_id: int, urls: Iterable[str]) -> set[str]:
    """URI hashes among ``urls`` whose item already has a WebCrawler event (in any state)."""
    found: set[str] = set()
    for part in chunks([uri_hash(url) for url in urls], CHUNK):
        size = next(n for n in _QUEUED_SHAPES if n >= len(part))
        part.extend([part[-1]] * (size - len(part)))  # a few statement shapes: padded
        params: dict[str, Any] = {f"h{i}": digest for i, digest in enumerate(part)}
        params |= {"engine": engine_id, "action": action_id}
        found.update(str(digest) for (digest,) in _execute(conn, f"queued_{size}", params))
    return found


# Most pages have a few new targets, some hundreds: binding CHUNK parameters for three of
# them would cost more than the query.
_QUEUED_SHAPES = (8, 64, CHUNK)


def finish_event(conn: Connection, event_id: int) -> None:
    """``store.finish_claimed`` for one event, as one cached statement."""
    finish_events(conn, [event_id])


def finish_events(conn: Connection, event_ids: Sequence[int]) -> None:
    """Mark pending events done, as one cached statement run for each."""
    if not event_ids:
        return
    now = param_converter(conn, item_events.c.itemEventDate)(_utcnow())
    _execute_many(conn, "finish", [{"event": event_id, "now": now} for event_id in event_ids])


def page_scope(conn: Connection, *, item_id: int, scopes: Scopes) -> CrawlScope | None:
    """The crawl a page belongs to (None: a page of no crawl), read before it is fetched: the
    crawl's own fetch choices decide how (see ``WebScraper.crawl_fetcher``)."""
    position = _positions(conn, [item_id]).get(item_id)
    root = None if position is None else position[1]
    return None if root is None else _scope(conn, root, scopes)


def _scope(conn: Connection, root: int, scopes: Scopes) -> CrawlScope:
    spec = scopes.get(root)
    if spec is None:
        raw = read_data(conn, root, (CRAWL_SETTINGS,)).get(CRAWL_SETTINGS)
        spec = scopes.parse(root, raw)
    return spec


def read_data(conn: Connection, item_id: int, keys: Sequence[str]) -> dict[str, ItemValue]:
    """The first value of each of ``keys`` an item has (the smallest for ``Depth``)."""
    params: dict[str, Any] = {"item": item_id, **{f"k{i}": key for i, key in enumerate(keys)}}
    found: dict[str, ItemValue] = {}
    for key, text, tag in _execute(conn, f"read_{len(keys)}", params):
        value = decode(text, tag)
        if key not in found or (key == DEPTH and _as_int(value, 0) < _as_int(found[key], 0)):
            found[key] = value
    return found


# --- statements compiled once per dialect -------------------------------------------------
# Building and compiling a Core statement costs more than SQLite takes to run it; on the
# per-page path the SQL text is built once and sent to the driver as it is (like find_ids).


def _statement(name: str) -> ClauseElement:
    d, e, i = item_data.c, item_events.c, items.c
    if name.startswith("read_"):
        keys = [bindparam(f"k{n}", type_=String) for n in range(int(name.removeprefix("read_")))]
        return (
            select(d.itemData, d.itemDataValue, d.itemDataType)
            .where(d.itemId == bindparam("item"), d.itemData.in_(keys))
            .order_by(d.itemDataSeq, d.ItemDataId)
        )
    if name.startswith("positions_"):
        ids: list[BindParameter[Any]] = [
            bindparam(f"i{n}") for n in range(int(name.removeprefix("positions_")))
        ]
        return (
            select(d.itemId, d.itemData, d.itemDataValue, d.itemDataType)
            .where(d.itemId.in_(ids), d.itemData.in_([bindparam("depth"), bindparam("root")]))
            .order_by(d.itemDataSeq, d.ItemDataId)
        )
    counter = and_(d.itemId == bindparam("root"), d.itemData == bindparam("key"))
    if name == "lock_counter":
        return select(d.itemDataValue, d.itemDataType).where(counter).with_for_update()
    if name == "set_counter":
        return (
            update(item_data)
            .where(counter)
            .values(itemDataValue=bindparam("value"), itemDataType=bindparam("tag"))
        )
    if name.startswith("queued_"):
        size = int(name.removeprefix("queued_"))
        return (
            select(i.ItemURIHash)
            .join(item_events, e.itemId == i.itemId)
            .where(
                i.ItemURIHash.in_([bindparam(f"h{n}") for n in range(size)]),
                e.engineId == bindparam("engine"),
                e.actionId == bindparam("action"),
            )
        )
    if name == "finish":
        return (
            update(item_events)
            .where(
                e.ItemEventId == bindparam("event"),
                e.itemEventDate.is_(None),
                e.itemEventDeadDate.is_(None),
            )
            .values(
                itemEventDate=bindparam("now"),
                itemEventClaimedBy=null(),
                itemEventLeaseUntil=null(),
            )
        )
    raise KeyError(name)


_compiled: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}


def _sql(conn: Connection, name: str) -> tuple[str, tuple[str, ...]]:
    cached = _compiled.get((conn.dialect.name, name))
    if cached is None:
        compiled = cast(SQLCompiler, _statement(name).compile(dialect=_positional(conn.dialect)))
        cached = (str(compiled), tuple(compiled.positiontup or ()))
        _compiled[(conn.dialect.name, name)] = cached
    return cached


def _execute(
    conn: Connection, name: str, params: Mapping[str, Any]
) -> Any:  # a CursorResult; Any, as its rows' shape depends on ``name``
    sql, order = _sql(conn, name)
    return conn.exec_driver_sql(sql, tuple(params[key] for key in order))


def _execute_many(conn: Connection, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
    sql, order = _sql(conn, name)
    conn.exec_driver_sql(sql, [tuple(row[key] for key in order) for row in rows])


def _as_int(value: ItemValue, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
