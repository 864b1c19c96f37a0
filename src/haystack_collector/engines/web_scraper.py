"""``webScraper``: a depth-limited, trap-resistant crawl whose frontier lives in the database.

The start action ``seed`` stores the start URL as the crawl's root item (Depth 0) with the
crawl's limits (ItemData ``CrawlSettings``, JSON) and a counter of the pages enqueued so far
(``CrawlEnqueued``), and queues its ``WebCrawler`` event. Each ``WebCrawler`` event fetches one
page and stores, in ONE transaction: the page's data, ``references`` links to every in-scope
link target, and the items and events of the targets it enqueues (with their ``Depth`` and
``CrawlRoot``). So the frontier is nothing but pending ItemEvents: a crawl killed in any way
resumes from the database, and a page whose event is done is never fetched again.

Max pages is exact, also with many workers: the transaction that enqueues pages first locks
the root's ``CrawlEnqueued`` row (``SELECT ... FOR UPDATE``; SQLite has a single writer), so
concurrent pages of one crawl decide "is this target already queued" and spend the page budget
one after another. That lock also makes "new target" race-free (two pages discovering the same
URL never both enqueue it). It is held for one short transaction, never during a fetch.

A target is queued when it has no ``WebCrawler`` event yet, not merely when its item is new: a
URL first seen beyond the depth limit (stored as a bare link target) is still crawled when a
shallower page links to it later. ``Depth`` is the depth at which a page was first queued;
with concurrency 1 the queue is FIFO, so that is the shortest-path depth.

Fetch failures are stored, not retried by the queue: the fetcher already retried network
errors and 5xx with backoff, a 404/500 is a fact about the site worth recording (``Error``,
``StatusCode``), and a queue retry would sit out a 30 s+ backoff that ``--drain`` does not wait
for. Two things do fail the job, so the queue retries it: database errors, and a host whose
circuit breaker stays open through ``BREAKER_WAITS`` waits for its probe (the page was never
requested; storing "circuit open" as its content would lose it).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, and_, bindparam, null, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from haystack_collector import store
from haystack_collector.db.schema import item_data, item_events, items
from haystack_collector.engines.base import ActionContext, item_action, start_action
from haystack_collector.engines.defaults import engine_defaults
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.errors import CircuitOpenError, ConfigError
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.page import Form, Image, Page, extract_page
from haystack_collector.fetch import CIRCUIT_OPEN, FetchResult
from haystack_collector.queue import Job
from haystack_collector.resilience import RetryPolicy, robust_network_operation
from haystack_collector.store import ItemRecord, LinkSpec
from haystack_collector.store._sql import (
    CHUNK,
    _positional,
    chunks,
    param_converter,
    uri_hash,
    utcnow,
)
from haystack_collector.store.values import ItemValue, decode, encode
from haystack_collector.urls import canonicalize, host_of, looks_like_trap

__all__ = [
    "CRAWL_ACTION",
    "CrawlSpec",
    "WebScraper",
    "WebScraperSettings",
]

CRAWL_ACTION = "WebCrawler"
SEED_ACTION = "WebScraperSeed"

# ItemData keys the crawl itself relies on.
DEPTH = "Depth"
CRAWL_ROOT = "CrawlRoot"
CRAWL_SETTINGS = "CrawlSettings"
CRAWL_ENQUEUED = "CrawlEnqueued"

_HTML_TYPES = ("text/html", "application/xhtml+xml")
# How often one page waits for its host's open circuit breaker before the queue takes over.
BREAKER_WAITS = 3
# Each wait lasts until the breaker lets a probe through (its Retry-After); the fetcher has
# already retried the network errors, so only the breaker's refusal is retried here.
BREAKER_WAIT_POLICY = RetryPolicy(
    attempts=BREAKER_WAITS + 1, initial=0.05, maximum=3600.0, retry_on=(CircuitOpenError,)
)


class WebScraperSettings(BaseModel):
    """What ``seed`` crawls; the item action reads the limits back from the root item."""

    model_config = ConfigDict(extra="forbid")

    url: str = ""
    # Unset: the web_scraper_depth setting (HAYSTACK_WEB_SCRAPER_DEPTH).
    max_depth: int = Field(default_factory=lambda: engine_defaults().web_scraper_depth, ge=0)
    max_pages: int = Field(default=1000, ge=1)
    allowed_domains: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CrawlSpec:
    """A crawl's limits as stored on its root item; ``hosts`` are the in-scope hosts."""

    url: str
    max_depth: int
    max_pages: int
    hosts: frozenset[str]

    @classmethod
    def from_settings(cls, settings: WebScraperSettings) -> CrawlSpec:
        url = canonicalize(settings.url) if settings.url else None
        if url is None or not url.startswith(("http://", "https://")):
            raise ConfigError(f"not an http(s) URL to crawl: {settings.url!r}", setting="url")
        hosts = {host_of(url), *(d.strip().lower() for d in settings.allowed_domains if d.strip())}
        return cls(url, settings.max_depth, settings.max_pages, frozenset(hosts))

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "max_depth": self.max_depth,
            "max_pages": self.max_pages,
            "hosts": sorted(self.hosts),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CrawlSpec:
        return cls(
            str(raw["url"]),
            int(raw["max_depth"]),
            int(raw["max_pages"]),
            frozenset(str(h) for h in raw["hosts"]),
        )

    def in_scope(self, url: str) -> bool:
        """``same_site`` for canonical URLs, with the allowed hosts canonicalized once."""
        if not url.startswith(("http://", "https://")):
            return False
        host = urlsplit(url).hostname or ""
        return any(host == h or host.endswith("." + h) for h in _canonical_hosts(self.hosts))


@functools.cache
def _canonical_hosts(hosts: frozenset[str]) -> tuple[str, ...]:
    canonical = (host_of(f"http://{h}/") for h in hosts if h)
    return tuple(h.rstrip(".") for h in canonical if h)


# A page's own item that carries no crawl (WebCrawler queued by hand) is fetched and stored
# but nothing is followed from it.
_NO_CRAWL = CrawlSpec("", 0, 1, frozenset())


@dataclass(slots=True)
class _Fetched:
    """One fetched page turned into what is stored (built outside the transaction)."""

    data: dict[str, ItemValue | Sequence[ItemValue]]
    links: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredPage:
    """What storing one page did."""

    depth: int
    linked: int
    enqueued: int


class WebScraper(FetchingEngine):
    """Crawl a site from a start URL, storing every page, its title, links, images and forms."""

    name = "webScraper"
    version = "1.0"
    description = "Depth-limited web crawl: pages, titles, links, images and forms"
    Settings = WebScraperSettings
    status_per_run = False  # a Status row per page would double the crawl's writes

    # Crawl limits by root item id: they never change during a run, so read them once.
    _specs: ClassVar[dict[int, CrawlSpec]] = {}

    @classmethod
    async def close_resources(cls) -> None:
        cls._specs.clear()
        await super().close_resources()

    @start_action(SEED_ACTION, description="Store the start URL and queue its crawl")
    def seed(self, ctx: ActionContext) -> None:
        assert isinstance(ctx.settings, WebScraperSettings)
        spec = CrawlSpec.from_settings(ctx.settings)
        root_id = ctx.db.run(
            seed_crawl, engine_id=ctx.engine_id, action_id=ctx.action_id(CRAWL_ACTION), spec=spec
        )
        ctx.items_stored += 1
        ctx.log.info("crawl of %s seeded as item %d", spec.url, root_id)

    @item_action(CRAWL_ACTION, description="Crawl web pages and follow their links")
    async def crawl(self, ctx: ActionContext, job: Job) -> None:
        result = await self._fetch(job.uri)
        stored = await asyncio.to_thread(
            self._store, ctx, job, result, datetime.now(UTC).replace(microsecond=0)
        )
        ctx.items_stored += 1 + stored.enqueued
        ctx.events_enqueued += stored.enqueued

    @robust_network_operation("webScraper.fetch", policy=BREAKER_WAIT_POLICY)
    async def _fetch(self, url: str) -> FetchResult:
        """Fetch ``url``; when its host's breaker is open, wait for it to admit a probe.

        A page the breaker refused was never requested, so it is not a fact about the site to
        store: after ``BREAKER_WAITS`` waits the job fails and the queue retries it later.
        """
        result = await self.fetcher().fetch(url)
        if result.error == CIRCUIT_OPEN:
            raise CircuitOpenError(f"fetch:{host_of(url)}", retry_after=result.retry_after or 0)
        return result

    def _store(
        self, ctx: ActionContext, job: Job, result: FetchResult, fetched_at: datetime
    ) -> StoredPage:
        page = _page_record(result, fetched_at)  # parsing is CPU work: outside the transaction
        stored = ctx.db.run(
            store_page,
            engine_id=ctx.engine_id,
            action_id=ctx.action_id(CRAWL_ACTION),
            job=job,
            page=page,
            specs=self._specs,
        )
        ctx.event_done = True
        return stored


# --- from a response to what is stored ----------------------------------------------------


def _page_record(result: FetchResult, fetched_at: datetime) -> _Fetched:
    data: dict[str, ItemValue | Sequence[ItemValue]] = {
        "StatusCode": result.status,
        "ContentType": result.content_type,
        "FetchedAt": fetched_at,
        "ContentHash": hashlib.sha256(result.body).hexdigest() if result.status else None,
        "Error": result.error,
    }
    if result.redirects:
        data["FinalUrl"] = result.url
    if result.truncated and result.reason:
        data["Truncated"] = result.reason  # stored as far as it was read; this says why
    if result.status is None or not _is_html(result.content_type) or not result.body:
        return _Fetched(data)
    try:
        page = extract_page(
            result.text or result.body, base_url=result.url, encoding=result.encoding
        )
    except DocumentLimitError as error:  # stored with the reason; the crawl goes on without it
        return _Fetched(data | {"Error": str(error)})
    data["Title"] = page.title
    data["Image"] = [_image(image) for image in page.images]
    data["Form"] = [_form(form) for form in page.forms]
    return _Fetched(data, _followable(page))


def _is_html(content_type: str | None) -> bool:
    # No Content-Type at all is sniffed as HTML by browsers; do the same.
    return content_type is None or content_type.split(";")[0].strip().lower() in _HTML_TYPES


def _followable(page: Page) -> list[str]:
    """Distinct targets in document order, unless the page says nofollow.

    Besides its links, a page leads to the documents its frames and iframes show and to the
    target of its meta refresh: a frameset page has no other way to its content.
    """
    if page.robots_nofollow:
        return []
    urls = [link.url for link in page.links]
    urls.extend(page.frames)
    if page.meta_refresh is not None:
        urls.append(page.meta_refresh)
    return list(dict.fromkeys(urls))


def _image(image: Image) -> dict[str, Any]:
    return {"src": image.src, "alt": image.alt, "width": image.width, "height": image.height}


def _form(form: Form) -> dict[str, Any]:
    return {
        "name": form.name,
        "action": form.action,
        "method": form.method,
        "fields": [{"name": f.name, "type": f.type, "default": f.default} for f in form.fields],
    }


# --- the transactions ---------------------------------------------------------------------


def seed_crawl(conn: Connection, *, engine_id: int, action_id: int, spec: CrawlSpec) -> int:
    """Store the root item with the limits and queue it; idempotent (a rerun resumes)."""
    result = store.store_items(
        conn,
        engine_id=engine_id,
        records=[ItemRecord(uri=spec.url, data={DEPTH: 0}, events=[action_id])],
    )
    root_id = result.item_ids[spec.url]
    data: dict[str, ItemValue | Sequence[ItemValue]] = {
        CRAWL_ROOT: root_id,
        CRAWL_SETTINGS: spec.as_json(),
    }
    if _read_data(conn, root_id, (CRAWL_ENQUEUED,)).get(CRAWL_ENQUEUED) is None:
        data[CRAWL_ENQUEUED] = 1  # the root itself; kept as it is when the crawl resumes
    store.store_items(conn, engine_id=engine_id, records=[ItemRecord(uri=spec.url, data=data)])
    return root_id


def store_page(
    conn: Connection,
    *,
    engine_id: int,
    action_id: int,
    job: Job,
    page: _Fetched,
    specs: dict[int, CrawlSpec],
) -> StoredPage:
    """Store one fetched page, its links and the targets it enqueues, as one transaction.

    The job's event is marked done in the same transaction: a page that is stored is never
    fetched again, even when its process dies before the worker's batched finish.
    """
    item_id, uri = job.item_id, job.uri
    position = _read_data(conn, item_id, (DEPTH, CRAWL_ROOT))
    depth = _as_int(position.get(DEPTH), 0)
    root = position.get(CRAWL_ROOT)
    spec = _spec(conn, root, specs) if isinstance(root, int) else _NO_CRAWL
    targets = [url for url in page.links if spec.in_scope(url) and looks_like_trap(url) is None]
    queued: list[str] = []
    if isinstance(root, int) and targets and depth < spec.max_depth:
        queued = _claim_budget(conn, engine_id, action_id, root, spec, targets)
    records = [
        ItemRecord(uri=uri, data=page.data, links=[LinkSpec(url) for url in targets]),
        *(
            ItemRecord(uri=url, data={DEPTH: depth + 1, CRAWL_ROOT: root}, events=[action_id])
            for url in queued
            if url != uri
        ),
    ]
    store.store_items(conn, engine_id=engine_id, records=records)
    finish_event(conn, job.event_id)
    return StoredPage(depth, len(targets), len(records) - 1)


def _claim_budget(  # noqa: PLR0917 - a private helper of store_page
    conn: Connection,
    engine_id: int,
    action_id: int,
    root: int,
    spec: CrawlSpec,
    targets: list[str],
) -> list[str]:
    """Which targets to enqueue: not queued yet, within max pages; advances the counter.

    Locks the root's counter row first, so this crawl's page transactions decide one at a
    time (see the module docstring).
    """
    row = _execute(conn, "lock_counter", {"root": root, "key": CRAWL_ENQUEUED}).first()
    enqueued = _as_int(None if row is None else decode(row[0], row[1]), 1)
    room = spec.max_pages - enqueued
    if room <= 0:
        return []
    already = _queued(conn, engine_id, action_id, targets)
    chosen = [url for url in targets if uri_hash(url) not in already][:room]
    if chosen and row is not None:
        text, tag = encode(enqueued + len(chosen))
        params = {"root": root, "key": CRAWL_ENQUEUED, "value": text, "tag": tag}
        _execute(conn, "set_counter", params)
    return chosen


def _queued(conn: Connection, engine_id: int, action_id: int, urls: Iterable[str]) -> set[str]:
    """URI hashes among ``urls`` whose item already has a WebCrawler event (in any state)."""
    found: set[str] = set()
    for part in chunks([uri_hash(url) for url in urls], CHUNK):
        part.extend([part[-1]] * (CHUNK - len(part)))  # one statement shape: padded
        params: dict[str, Any] = {f"h{i}": digest for i, digest in enumerate(part)}
        params |= {"engine": engine_id, "action": action_id}
        found.update(str(digest) for (digest,) in _execute(conn, "queued", params))
    return found


def finish_event(conn: Connection, event_id: int) -> None:
    """``store.finish_claimed`` for one event, as one cached statement."""
    now = param_converter(conn, item_events.c.itemEventDate)(utcnow())
    _execute(conn, "finish", {"event": event_id, "now": now})


def _spec(conn: Connection, root: int, specs: dict[int, CrawlSpec]) -> CrawlSpec:
    spec = specs.get(root)
    if spec is None:
        raw = _read_data(conn, root, (CRAWL_SETTINGS,)).get(CRAWL_SETTINGS)
        spec = CrawlSpec.from_json(raw) if isinstance(raw, dict) else _NO_CRAWL
        specs[root] = spec
    return spec


def _read_data(conn: Connection, item_id: int, keys: Sequence[str]) -> dict[str, ItemValue]:
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
    counter = and_(d.itemId == bindparam("root"), d.itemData == bindparam("key"))
    if name == "lock_counter":
        return select(d.itemDataValue, d.itemDataType).where(counter).with_for_update()
    if name == "set_counter":
        return (
            update(item_data)
            .where(counter)
            .values(itemDataValue=bindparam("value"), itemDataType=bindparam("tag"))
        )
    if name == "queued":
        return (
            select(i.ItemURIHash)
            .join(item_events, e.itemId == i.itemId)
            .where(
                i.ItemURIHash.in_([bindparam(f"h{n}") for n in range(CHUNK)]),
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


def _execute(
    conn: Connection, name: str, params: Mapping[str, Any]
) -> Any:  # a CursorResult; Any, as its rows' shape depends on ``name``
    cached = _compiled.get((conn.dialect.name, name))
    if cached is None:
        compiled = cast(SQLCompiler, _statement(name).compile(dialect=_positional(conn.dialect)))
        cached = (str(compiled), tuple(compiled.positiontup or ()))
        _compiled[(conn.dialect.name, name)] = cached
    sql, order = cached
    return conn.exec_driver_sql(sql, tuple(params[key] for key in order))


def _as_int(value: ItemValue, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
