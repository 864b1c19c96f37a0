"""``webScraper``: a depth-limited, trap-resistant crawl whose frontier lives in the database.

The start action ``seed`` stores the start URL as the crawl's root item (Depth 0) with the
crawl's limits (ItemData ``CrawlSettings``, JSON) and a counter of the pages enqueued so far
(``CrawlEnqueued``), and queues its ``WebCrawler`` event. Each ``WebCrawler`` event fetches one
page; storing it writes, in one transaction: the page's data, ``references`` links to every
in-scope link target, the items and events of the targets it enqueues (with their ``Depth`` and
``CrawlRoot``), and the page's own event marked done. So the frontier is nothing but pending
ItemEvents: a crawl killed in any way resumes from the database, and a page whose event is done
is never fetched again. The transactions, and how they keep max pages exact and "new target"
race-free with a lock on the root's counter, are in ``store.crawl``.

Pages are stored by a group commit (``_PageWriter``, one per event loop): pages that finish
while a batch is being written go together into the next transaction, so a busy crawl pays for
one commit per batch instead of one per page, and an idle one waits for nobody. Each crawl
action returns only once its page has committed. A kill loses at most the batch in flight,
whose events are still pending and are fetched again.

The crawl's own politeness choices (delay, per-host concurrency, robots) are stored with its
limits. Whoever runs its pages (the ``haystack crawl`` that started it, a later one, any
``haystack worker``) fetches them with those: the base fetch settings with the crawl's
overrides (``crawl_fetcher``). A crawl stored without them (older rows, or started without
choosing) fetches with the worker's own settings.

Fetch failures are stored, not retried by the queue: the fetcher already retried network
errors and 5xx with backoff, a 404/500 is a fact about the site worth recording (``Error``,
``StatusCode``), and a queue retry would sit out a 30 s+ backoff that ``--drain`` does not wait
for. Two things do fail the task, so the queue retries it: database errors, and a host whose
circuit breaker stays open through ``BREAKER_WAITS`` waits for its probe (the page was never
requested; storing "circuit open" as its content would lose it).

Re-visits (``WebRevisit``, queued by a re-visit policy: see revisits.py): a page fetched before
is fetched again with a conditional GET, from the ``ETag``/``LastModified`` validators stored
with it, and with its crawl's own fetch choices. A 304 records the visit as unchanged and
stores nothing (the body is not there to parse); a 404/410 records it gone (the page's state
becomes gone, its data kept); any other answer is stored like a crawled page, and the links it
newly shows join the same crawl (within its page limit). No answer at all (the server down, a
5xx) fails the event, so the queue retries it later and the page keeps its data and state.
A crawl started with ``revisit_every`` (``haystack crawl --revisit-every``) stores that, and
its age ``revisit_older_than``, in its spec, and keeps the policy ``revisit:crawl:ROOT``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.engine import Connection

from haystack_collector.db import Database
from haystack_collector.engines.base import ActionContext, item_action, start_action
from haystack_collector.engines.defaults import engine_defaults
from haystack_collector.engines.fetchers import EngineFetch
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.engines.rendering import render_page
from haystack_collector.engines.revisiting import (
    RevisitFailed,
    RevisitSpec,
    revisit_failure,
    says_gone,
)
from haystack_collector.errors import CircuitOpenError, ConfigError
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.main_text import main_text
from haystack_collector.extract.page import Form, Image, Page, extract_page
from haystack_collector.extract.volatile import NO_RULES, VolatileRules, page_text, text_digest
from haystack_collector.fetch import CIRCUIT_OPEN, Fetcher, FetchResult
from haystack_collector.fetch.render_options import ScrollOptions, WaitOptions
from haystack_collector.memory import HeapTrimmer
from haystack_collector.queue import Task
from haystack_collector.resilience import RetryPolicy, robust_network_operation
from haystack_collector.snapshots import (
    SnapshotKind,
    parse_kinds,
)
from haystack_collector.store import crawl as crawl_store
from haystack_collector.store import revisits as revisit_store
from haystack_collector.store.crawl import (
    CRAWL_ENQUEUED,
    CRAWL_ROOT,
    CRAWL_SETTINGS,
    DEPTH,
    PageWrite,
    StoredPage,
)
from haystack_collector.store.meaning import MAIN_TEXT, TEXT_DIGEST
from haystack_collector.store.values import ItemValue
from haystack_collector.urls import canonicalize, host_of

__all__ = [
    "CRAWL_ACTION",
    "CRAWL_ENQUEUED",
    "CRAWL_ROOT",
    "CRAWL_SETTINGS",
    "DEPTH",
    "REVISIT_ACTION",
    "CrawlSpec",
    "WebScraper",
    "WebScraperSettings",
]

CRAWL_ACTION = "WebCrawler"
SEED_ACTION = "WebScraperSeed"
REVISIT_ACTION = "WebRevisit"
# The validators a page keeps for its conditional re-visits.
ETAG, LAST_MODIFIED = "ETag", "LastModified"

# At most this many pages go into one store transaction.
WRITE_BATCH = 64
# A page up to this size is parsed on the event loop (a thread hop costs more than parsing
# it); a bigger one in a thread, so the loop's other fetches and heartbeats go on.
PARSE_ON_LOOP_BYTES = 256 * 1024
# Pages queued by this process whose crawl it remembers until they are claimed; beyond this
# many the oldest are forgotten (and read from the database when claimed), bounding memory.
FRONTIER_MEMORY = 50_000

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
    # The crawl's own fetch choices, kept with it; unset: the worker's fetch settings. Left
    # out of the schema the UI builds its form from: a checkbox would always send a robots
    # choice, where unset must stay possible. ``haystack crawl`` and the API set them.
    delay: SkipJsonSchema[float | None] = Field(default=None, ge=0)
    per_host_concurrency: SkipJsonSchema[int | None] = Field(default=None, ge=1, le=100)
    obey_robots: SkipJsonSchema[bool | None] = None
    # Keep each page's main text (``MainText``, searchable, diffed between versions); on for
    # watched pages. Off, a page's change is decided on its whole visible text.
    main_text: bool = False
    # What of its pages does not count as a change (``extract.volatile``).
    volatile: VolatileRules | None = None
    # Re-visit the crawl's pages every this many seconds, those last looked at more than
    # ``revisit_older_than`` seconds ago (default: half the period). Unset: no re-visits.
    revisit_every: SkipJsonSchema[int | None] = Field(default=None, ge=1)
    revisit_older_than: SkipJsonSchema[int | None] = Field(default=None, ge=0)
    # Render each page in the browser (fetch/browser.py) before reading its links: for sites
    # whose content a script inserts. ``wait`` and ``scroll`` say how (unset: page load only).
    render: bool = False
    # Blocks of their own, left out of the UI's flat form (the API and the CLI set them).
    wait: SkipJsonSchema[WaitOptions | None] = None
    scroll: SkipJsonSchema[ScrollOptions | None] = None
    # With render: what each rendered page also keeps (snapshots.py): its HTML, a full-page
    # PNG, a PDF; stored by SHA-256 under the downloads folder and linked from the page.
    snapshot: list[SnapshotKind] = Field(default_factory=list)

    @model_validator(mode="after")
    def _snapshots_render(self) -> WebScraperSettings:
        if self.snapshot and not self.render:
            raise ValueError("snapshot: snapshots are taken of rendered pages: turn render on")
        return self


@dataclass(frozen=True, slots=True)
class CrawlSpec:
    """A crawl's limits and fetch choices as stored on its root item; ``hosts`` are the
    in-scope hosts. A fetch choice None is the fetching worker's own setting."""

    url: str
    max_depth: int
    max_pages: int
    hosts: frozenset[str]
    delay: float | None = None
    per_host_concurrency: int | None = None
    obey_robots: bool | None = None
    main_text: bool = False
    volatile: VolatileRules | None = None
    revisit_every: int | None = None  # seconds; None: the crawl's pages are not re-visited
    revisit_older_than: int | None = None
    render: bool = False  # pages rendered in the browser, waiting and scrolling as below
    wait: WaitOptions | None = None
    scroll: ScrollOptions | None = None
    snapshot: tuple[SnapshotKind, ...] = ()  # what each rendered page keeps (snapshots.py)

    @classmethod
    def from_settings(cls, settings: WebScraperSettings) -> CrawlSpec:
        url = canonicalize(settings.url) if settings.url else None
        if url is None or not url.startswith(("http://", "https://")):
            raise ConfigError(f"not an http(s) URL to crawl: {settings.url!r}", setting="url")
        hosts = {host_of(url), *(d.strip().lower() for d in settings.allowed_domains if d.strip())}
        every, older = settings.revisit_every, settings.revisit_older_than
        if every is None and older is not None:
            raise ConfigError(
                "revisit_older_than needs revisit_every (how often to re-visit)",
                setting="revisit_older_than",
            )
        return cls(
            url,
            settings.max_depth,
            settings.max_pages,
            frozenset(hosts),
            settings.delay,
            settings.per_host_concurrency,
            settings.obey_robots,
            settings.main_text,
            settings.volatile if settings.volatile and not settings.volatile.empty else None,
            every,
            None if every is None else (every // 2 if older is None else older),
            settings.render,
            settings.wait if settings.render else None,
            settings.scroll if settings.render else None,
            tuple(settings.snapshot) if settings.render else (),
        )

    def as_json(self) -> dict[str, Any]:
        text: dict[str, Any] = {"main_text": True} if self.main_text else {}
        if self.volatile is not None:
            text["volatile"] = self.volatile.model_dump(mode="json")
        rendering: dict[str, Any] = {}
        if self.render:  # stored so that a resumed crawl (any worker) renders too
            rendering["render"] = {
                "wait": None if self.wait is None else self.wait.model_dump(),
                "scroll": None if self.scroll is None else self.scroll.model_dump(),
                "snapshot": list(self.snapshot),
            }
        return {
            "url": self.url,
            "max_depth": self.max_depth,
            "max_pages": self.max_pages,
            "hosts": sorted(self.hosts),
            **self.fetch_overrides(),
            **text,
            **(
                {}
                if self.revisit_every is None
                else {
                    "revisit_every": self.revisit_every,
                    "revisit_older_than": self.revisit_older_than,
                }
            ),
            **rendering,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CrawlSpec:
        """Read a stored spec; one stored before crawls kept fetch choices has none."""
        delay, per_host, robots = (
            raw.get("min_delay"),
            raw.get("per_host_concurrency"),
            raw.get("obey_robots"),
        )
        every, older = raw.get("revisit_every"), raw.get("revisit_older_than")
        render = raw.get("render")
        wait = render.get("wait") if isinstance(render, dict) else None
        scroll = render.get("scroll") if isinstance(render, dict) else None
        kinds = render.get("snapshot") if isinstance(render, dict) else None
        return cls(
            str(raw["url"]),
            int(raw["max_depth"]),
            int(raw["max_pages"]),
            frozenset(str(h) for h in raw["hosts"]),
            None if delay is None else float(delay),
            None if per_host is None else int(per_host),
            None if robots is None else bool(robots),
            bool(raw.get("main_text", False)),
            None if raw.get("volatile") is None else VolatileRules.model_validate(raw["volatile"]),
            None if every is None else int(every),
            None if older is None else int(older),
            isinstance(render, dict),
            None if wait is None else WaitOptions.model_validate(wait),
            None if scroll is None else ScrollOptions.model_validate(scroll),
            tuple(parse_kinds(kinds)) if isinstance(kinds, list) else (),
        )

    def fetch_overrides(self) -> dict[str, Any]:
        """The crawl's own choices, as ``FetchSettings`` fields (only those it made)."""
        chosen = {
            "min_delay": self.delay,
            "per_host_concurrency": self.per_host_concurrency,
            "obey_robots": self.obey_robots,
        }
        return {name: value for name, value in chosen.items() if value is not None}

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


class WebScraper(FetchingEngine):
    """Crawl a site from a start URL, storing every page, its title, links, images and forms."""

    name = "webScraper"
    version = "1.0"
    description = "Depth-limited web crawl: pages, titles, links, images and forms"
    Settings = WebScraperSettings
    status_per_run = False  # a Status row per page would double the crawl's writes
    # A crawl fetches each page once per run: remembering every page's ETag would only grow
    # (and a 304 has no body to follow links from).
    conditional_get = False
    # Pages are re-visited with conditional GETs from the validators stored with each page.
    revisit = RevisitSpec(REVISIT_ACTION, collect_action=CRAWL_ACTION)

    # Crawl limits by root item id: they never change during a run, so read them once.
    _specs: ClassVar[dict[int, CrawlSpec]] = {}
    # The group commit of each event loop the engine runs on (see the module docstring).
    _writers: ClassVar[WeakKeyDictionary[asyncio.AbstractEventLoop, _PageWriter]] = (
        WeakKeyDictionary()
    )

    @classmethod
    async def close_resources(cls) -> None:
        writer = cls._writers.pop(asyncio.get_running_loop(), None)
        if writer is not None:
            await writer.drained()
        cls._specs.clear()
        await super().close_resources()

    @staticmethod
    def crawl_fetcher(fetch: EngineFetch, spec: CrawlSpec) -> Fetcher:
        """The fetcher for a page of the crawl ``spec``: the engine's fetch settings with the
        crawl's own choices (``CrawlSpec.fetch_overrides``).

        ``fetch`` is the action's (``ctx.fetch``). The engine's shared fetcher when they change
        nothing; otherwise the loop's fetcher of
        exactly those settings (its own per-host slots, so two crawls of one host with
        different delays each keep theirs). A crawl's delay wins over the Config table's
        ``DefaultDelay``, which is the worker's default, not the crawl's choice.
        """
        overrides = spec.fetch_overrides()
        if not overrides:
            return fetch.fetcher()
        current = fetch.settings  # DefaultDelay applied
        settings = dataclasses.replace(current, **overrides)
        return fetch.fetcher() if settings == current else fetch.fetcher(settings)

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
    async def crawl(self, ctx: ActionContext, task: Task) -> None:
        # The page's crawl decides how it is fetched (its own choices). A page this process
        # queued is known; another's (a resumed crawl, a second worker) is read first.
        writer = self._writer(ctx)
        scope: crawl_store.CrawlScope | None = self._specs.get(writer.root_of(task.uri) or 0)
        if scope is None:
            scope = await asyncio.to_thread(
                ctx.db.run_read,
                crawl_store.page_scope,
                item_id=task.item_id,
                scopes=_Scopes(self._specs),
            )
        spec = scope if isinstance(scope, CrawlSpec) else _NO_CRAWL
        fetcher = self.crawl_fetcher(ctx.fetch, spec)
        if spec.render:
            result = await _render(ctx, fetcher, spec, task.uri)
        else:
            result = await fetcher.fetch(task.uri)
        if result.error == CIRCUIT_OPEN and spec.render:  # the queue tries the page later
            raise CircuitOpenError(
                f"fetch:{host_of(task.uri)}", retry_after=result.retry_after or 0
            )
        if result.error == CIRCUIT_OPEN:  # the retry loop is paid for only when it is needed
            result = await self._fetch(fetcher, task.uri, [result])
        fetched_at = datetime.now(UTC).replace(microsecond=0)
        # Parsing is CPU work, done outside the transaction; a big page's off the event loop.
        spec = scope if isinstance(scope, CrawlSpec) else _NO_CRAWL
        # Main text runs a second parse: off the loop for any page, like a big one.
        if len(result.body) > PARSE_ON_LOOP_BYTES or spec.main_text or spec.volatile:
            page = await asyncio.to_thread(_page_record, result, fetched_at, spec)
        else:
            page = _page_record(result, fetched_at, spec)
        write = PageWrite(task.item_id, task.uri, task.event_id, page.data, page.links)
        stored = await writer.write(write)
        ctx.event_done = True
        ctx.items_stored += 1 + stored.enqueued
        ctx.events_enqueued += stored.enqueued

    @item_action(REVISIT_ACTION, description="Re-visit a stored page with a conditional GET")
    async def revisit_page(self, ctx: ActionContext, task: Task) -> None:
        state = await asyncio.to_thread(
            ctx.db.run_read, _revisit_state, item_id=task.item_id, scopes=_Scopes(self._specs)
        )
        fetcher = self.crawl_fetcher(ctx.fetch, state.scope)
        result = await fetcher.fetch(task.uri, etag=state.etag, last_modified=state.last_modified)
        if state.scope.render and result.ok and not result.not_modified:
            # A rendering crawl's page changed on the wire: what counts is its rendered DOM.
            result = await _render(ctx, fetcher, state.scope, task.uri)
        failure = revisit_failure(result)
        if failure is not None:  # not an answer about the page: retried later, page untouched
            raise RevisitFailed(f"re-visit of {task.uri}: {failure}")
        checked = datetime.now(UTC).replace(microsecond=0)
        write: PageWrite | None = None
        if says_gone(result):
            data: dict[str, ItemValue | Sequence[ItemValue]] = {
                "StatusCode": result.status,
                "FetchedAt": checked,
                "Error": None,
            }
            write = PageWrite(task.item_id, task.uri, task.event_id, data, [])
        elif not result.not_modified:  # a 304 has no body: nothing is parsed or stored
            spec = state.scope  # its crawl's text rules decide what counts as a change
            if len(result.body) > PARSE_ON_LOOP_BYTES or spec.main_text or spec.volatile:
                page = await asyncio.to_thread(_page_record, result, checked, spec)
            else:
                page = _page_record(result, checked, spec)
            # Validators the server no longer sends are dropped with the old content.
            data = {ETAG: [], LAST_MODIFIED: []} | page.data
            write = PageWrite(task.item_id, task.uri, task.event_id, data, page.links)
        outcome = await asyncio.to_thread(
            ctx.db.run,
            revisit_store.revisit_page,
            engine_id=ctx.engine_id,
            crawl_action_id=ctx.action_id(CRAWL_ACTION),
            item_id=task.item_id,
            event_id=task.event_id,
            status=result.status,
            page=write,
            scopes=_Scopes(self._specs),
        )
        ctx.event_done = True
        ctx.items_stored += 1
        ctx.log.debug("re-visit of %s: %s (HTTP %s)", task.uri, outcome, result.status)

    def _writer(self, ctx: ActionContext) -> _PageWriter:
        loop = asyncio.get_running_loop()
        key = (ctx.db, ctx.engine_id, ctx.action_id(CRAWL_ACTION))
        writer = self._writers.get(loop)
        if writer is None or writer.key != key:
            writer = self._writers[loop] = _PageWriter(*key, _Scopes(self._specs))
        return writer

    @robust_network_operation("webScraper.fetch", policy=BREAKER_WAIT_POLICY)
    async def _fetch(self, fetcher: Fetcher, url: str, first: list[FetchResult]) -> FetchResult:
        """Fetch ``url``; when its host's breaker is open, wait for it to admit a probe.

        ``first`` holds the first attempt's result when the caller already made it. A page the
        breaker refused was never requested, so it is not a fact about the site to store:
        after ``BREAKER_WAITS`` waits the task fails and the queue retries it later.
        """
        result = first.pop() if first else await fetcher.fetch(url)
        if result.error == CIRCUIT_OPEN:
            raise CircuitOpenError(f"fetch:{host_of(url)}", retry_after=result.retry_after or 0)
        return result


@dataclass(slots=True)
class _Scopes:
    """``store.crawl.Scopes`` over the engine's cache of parsed crawl limits."""

    specs: dict[int, CrawlSpec]

    def get(self, root: int) -> CrawlSpec | None:
        return self.specs.get(root)

    def parse(self, root: int, raw: ItemValue) -> CrawlSpec:
        spec = CrawlSpec.from_json(raw) if isinstance(raw, dict) else _NO_CRAWL
        self.specs[root] = spec
        return spec


class _PageWriter:
    """Group commit: stores the pages of one event loop's crawl actions, many per transaction.

    ``write`` queues a page and waits until its transaction committed. One batch is written at
    a time, in a thread; pages arriving meanwhile form the next batch. A batch that fails is
    written again page by page, so one bad page fails only its own action (the queue retries
    it) and not the pages that shared its transaction.
    """

    def __init__(self, db: Database, engine_id: int, action_id: int, scopes: _Scopes) -> None:
        self.key = (db, engine_id, action_id)
        self._scopes = scopes
        self._pending: list[tuple[PageWrite, asyncio.Future[StoredPage]]] = []
        # The crawl of each page this writer queued, until the page is claimed (the frontier).
        self._roots: dict[str, int] = {}
        self._trim = HeapTrimmer()
        self._task: asyncio.Task[None] | None = None

    async def write(self, page: PageWrite) -> StoredPage:
        future: asyncio.Future[StoredPage] = asyncio.get_running_loop().create_future()
        self._pending.append((page, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    def root_of(self, uri: str) -> int | None:
        """The crawl root of a page this writer queued (forgotten once asked), else None."""
        return self._roots.pop(uri, None)

    def _remember(self, stored: StoredPage) -> None:
        if stored.root is None:
            return
        for uri in stored.queued:
            if len(self._roots) >= FRONTIER_MEMORY:  # the oldest go: they are read instead
                del self._roots[next(iter(self._roots))]
            self._roots[uri] = stored.root

    async def drained(self) -> None:
        """Wait until every page queued so far is written."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:WRITE_BATCH], self._pending[WRITE_BATCH:]
            try:
                stored = await asyncio.to_thread(self._store, [page for page, _ in batch])
            except Exception as error:  # handed to the actions, page by page
                if len(batch) == 1:
                    _settle(batch[0][1], error=error)
                    continue
                for page, future in batch:  # find the page that fails; store the others
                    try:
                        [alone] = await asyncio.to_thread(self._store, [page])
                    except Exception as single:  # its action raises it
                        _settle(future, error=single)
                    else:
                        self._remember(alone)
                        _settle(future, alone)
                continue
            for (_, future), one in zip(batch, stored, strict=True):
                self._remember(one)
                _settle(future, one)

    def _store(self, pages: list[PageWrite]) -> list[StoredPage]:
        db, engine_id, action_id = self.key
        stored = db.run(
            crawl_store.store_pages,
            engine_id=engine_id,
            action_id=action_id,
            pages=pages,
            scopes=self._scopes,
        )
        self._trim(time.monotonic())  # the pages' parse trees are gone: give their heap back
        return stored


def _settle(
    future: asyncio.Future[StoredPage],
    result: StoredPage | None = None,
    *,
    error: BaseException | None = None,
) -> None:
    if future.done():  # its action was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


def seed_crawl(conn: Connection, *, engine_id: int, action_id: int, spec: CrawlSpec) -> int:
    """Store the root item with the crawl's limits and queue it (``store.crawl.seed_crawl``);
    keep its re-visit policy as its spec says (removed when it says none)."""
    root_id = crawl_store.seed_crawl(
        conn, engine_id=engine_id, action_id=action_id, url=spec.url, settings=spec.as_json()
    )
    name = revisit_store.crawl_policy_name(root_id)
    if spec.revisit_every is None:
        revisit_store.remove_revisit_policy(conn, name=name)
    else:
        policy = revisit_store.RevisitPolicy(
            name=name,
            engine_id=engine_id,
            every=spec.revisit_every,
            older_than=spec.revisit_older_than or 0,
            crawl=root_id,
        )
        revisit_store.set_revisit_policy(conn, policy=policy)
    return root_id


def crawl_revisit(conn: Connection, *, root_id: int) -> tuple[int, int] | None:
    """A crawl's re-visit choice as stored in its spec: (every, older than) seconds."""
    raw = crawl_store.read_data(conn, root_id, (CRAWL_SETTINGS,)).get(CRAWL_SETTINGS)
    if not isinstance(raw, dict):
        return None
    spec = CrawlSpec.from_json(raw)
    if spec.revisit_every is None:
        return None
    return spec.revisit_every, spec.revisit_older_than or 0


@dataclass(frozen=True, slots=True)
class _RevisitState:
    """What a page's re-visit needs: its crawl and the validators stored with it."""

    scope: CrawlSpec
    etag: str | None
    last_modified: str | None


def _revisit_state(conn: Connection, *, item_id: int, scopes: _Scopes) -> _RevisitState:
    scope = crawl_store.page_scope(conn, item_id=item_id, scopes=scopes)
    known = crawl_store.read_data(conn, item_id, (ETAG, LAST_MODIFIED))
    etag, modified = known.get(ETAG), known.get(LAST_MODIFIED)
    return _RevisitState(
        scope if isinstance(scope, CrawlSpec) else _NO_CRAWL,
        etag if isinstance(etag, str) else None,
        modified if isinstance(modified, str) else None,
    )


def store_page(
    conn: Connection,
    *,
    engine_id: int,
    action_id: int,
    task: Task,
    page: _Fetched,
    specs: dict[int, CrawlSpec],
) -> StoredPage:
    """Store one fetched page as its own transaction (``store.crawl.store_pages``)."""
    write = PageWrite(task.item_id, task.uri, task.event_id, page.data, page.links)
    [stored] = crawl_store.store_pages(
        conn, engine_id=engine_id, action_id=action_id, pages=[write], scopes=_Scopes(specs)
    )
    return stored


# --- from a response to what is stored ----------------------------------------------------


def _page_record(
    result: FetchResult, fetched_at: datetime, spec: CrawlSpec | None = None
) -> _Fetched:
    data: dict[str, ItemValue | Sequence[ItemValue]] = {
        "StatusCode": result.status,
        "ContentType": result.content_type,
        "FetchedAt": fetched_at,
        "ContentHash": hashlib.sha256(result.body).hexdigest() if result.status else None,
        "Error": result.error,
    }
    if result.redirects:
        data["FinalUrl"] = result.url
    if result.status == 200 and not result.truncated:  # validators for conditional re-visits
        etag, modified = result.headers.get("etag"), result.headers.get("last-modified")
        if etag:
            data[ETAG] = etag
        if modified:
            data[LAST_MODIFIED] = modified
    if result.truncated and result.reason:
        data["Truncated"] = result.reason  # stored as far as it was read; this says why
    if result.status is None or not _is_html(result.content_type) or not result.body:
        return _Fetched(data)
    spec = spec or _NO_CRAWL
    ruled = spec.main_text or spec.volatile is not None
    try:
        page = extract_page(
            result.text or result.body,
            base_url=result.url,
            encoding=result.encoding,
            visible_text=not ruled,
        )
    except DocumentLimitError as error:  # stored with the reason; the crawl goes on without it
        return _Fetched(data | {"Error": str(error)})
    data["Title"] = page.title
    data["Image"] = [_image(image) for image in page.images]
    data["Form"] = [_form(form) for form in page.forms]
    rules = spec.volatile or NO_RULES
    if ruled:
        html = result.text or result.body.decode(result.encoding or "utf-8", errors="replace")
        if spec.main_text:
            text = data[MAIN_TEXT] = main_text(html, rules=rules)
        else:
            text = page_text(html, rules)
    else:
        text = page.text or ""
    # What the store decides "changed" on (store.meaning): title and text, not markup.
    data[TEXT_DIGEST] = text_digest(page.title, text, rules)
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


async def _render(ctx: ActionContext, fetcher: Fetcher, spec: CrawlSpec, url: str) -> FetchResult:
    """``url`` rendered as the crawl says, with the crawl's fetcher (slots, robots, breaker)."""
    return await render_page(
        ctx,
        fetcher,
        url,
        wait=spec.wait,
        scroll=spec.scroll,
        snapshot=spec.snapshot,
        page_uri=url,
    )
