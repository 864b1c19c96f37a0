"""``haystack crawl``: seed a ``webScraper`` crawl, then drain it with a worker in this process.

Everything the crawl knows lives in the database (see ``engines.web_scraper``), so running the
same command again after a crash resumes it: the seed is idempotent, done events are not run
again, pending ones are. The crawl's choices (depth and page limits, domains, delay, per-host
concurrency, robots, rendering in the browser with its waits and scrolling) are stored with
it, so ``haystack worker --drain`` (on any machine) finishes it the same way; running
``haystack crawl`` again stores that run's choices.

Crash recovery: the crawl's worker heartbeats like any worker. Killed (``kill -9``, a lost
machine), it misses its heartbeats, and once ``HAYSTACK_WORKER_STALL_TIMEOUT`` seconds (30)
passed, the next worker to look (a resumed crawl, ``haystack worker``, on any machine) judges
it dead and releases the pages it held: they are fetched again at once, not after their
5-minute lease. On the same machine that worker sees at once that the process is gone. Only
the pages in flight at the kill are fetched twice; a stored page never is.

The summary counts what this invocation did: ``pages`` is the pages fetched and stored by this
run (an earlier interrupted run's pages are not counted again, so the rate stays honest);
``seconds`` is this run's wall time, seed included. ``CrawlResult.total_pages`` is every page
of the crawl stored so far.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.web_scraper import (
    CrawlSpec,
    WebScraper,
    WebScraperSettings,
)
from haystack_collector.errors import HaystackError
from haystack_collector.extract.volatile import VolatileRules
from haystack_collector.fetch import FetchSettings
from haystack_collector.fetch.render_options import ScrollOptions, WaitOptions
from haystack_collector.logs import get_logger
from haystack_collector.queue import QueuePolicy
from haystack_collector.runtime import CRAWL, Runtime
from haystack_collector.store.crawls import count_crawl_pages
from haystack_collector.worker import WorkerStats

if TYPE_CHECKING:
    from haystack_collector.settings import Settings

__all__ = [
    "CrawlOptions",
    "CrawlResult",
    "crawl",
    "crawl_fetch_settings",
    "crawl_runtime",
    "run_crawl",
]

log = get_logger("haystack.crawl")


@dataclass(frozen=True, slots=True)
class CrawlOptions:
    """The command line's choices; ``delay`` None keeps the fetch settings' delay, and
    ``max_depth`` None the web scraper's default (``HAYSTACK_WEB_SCRAPER_DEPTH``)."""

    url: str
    max_depth: int | None = None
    max_pages: int = 10_000
    concurrency: int = 4
    delay: float | None = None
    allowed_domains: tuple[str, ...] = ()
    obey_robots: bool = True
    main_text: bool = False
    volatile: VolatileRules | None = None  # what of its pages does not count as a change
    revisit_every: int | None = None  # seconds: re-visit the crawl's pages this often
    revisit_older_than: int | None = None  # seconds: only pages last looked at longer ago
    render: bool = False  # pages rendered in the browser (``--render``)
    wait: WaitOptions | None = None
    scroll: ScrollOptions | None = None
    snapshot: tuple[str, ...] = ()  # what each rendered page keeps (``--snapshot``)

    def scraper_settings(self, fetch: FetchSettings | None = None) -> WebScraperSettings:
        """The seed's settings; with ``fetch`` (the crawl's, see ``crawl_fetch_settings``),
        its delay, per-host concurrency and robots obedience are stored with the crawl."""
        depth = {} if self.max_depth is None else {"max_depth": self.max_depth}
        chosen = (
            {}
            if fetch is None
            else {
                "delay": fetch.min_delay,
                "per_host_concurrency": fetch.per_host_concurrency,
                "obey_robots": fetch.obey_robots,
            }
        )
        return WebScraperSettings(
            url=self.url,
            max_pages=self.max_pages,
            allowed_domains=list(self.allowed_domains),
            main_text=self.main_text,
            volatile=self.volatile,
            revisit_every=self.revisit_every,
            revisit_older_than=self.revisit_older_than,
            render=self.render,
            wait=self.wait,
            scroll=self.scroll,
            snapshot=list(self.snapshot),
            **depth,
            **chosen,
        )


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """What one ``haystack crawl`` did; ``line()`` is its last stdout line."""

    root_id: int
    pages: int  # fetched and stored by this run
    seconds: float
    total_pages: int  # stored for this crawl so far, earlier runs included
    stats: WorkerStats

    @property
    def pages_per_s(self) -> float:
        return self.pages / max(self.seconds, 1e-9)

    def line(self) -> str:
        return f"pages={self.pages} seconds={self.seconds:.2f} pages_per_s={self.pages_per_s:.1f}"


def crawl_fetch_settings(base: FetchSettings, options: CrawlOptions) -> FetchSettings:
    """The fetcher for a command-line crawl: its user may crawl loopback and private hosts."""
    return dataclasses.replace(
        base,
        allow_private=True,
        obey_robots=options.obey_robots,
        per_host_concurrency=options.concurrency,
        min_delay=base.min_delay if options.delay is None else options.delay,
    )


def crawl_runtime(
    db: Database,
    options: CrawlOptions,
    fetch_settings: FetchSettings,
    *,
    policy: QueuePolicy | None = None,
    settings: Settings | None = None,
) -> Runtime:
    """The runtime of a crawl: a draining worker for ``webScraper`` alone, fetching with
    ``fetch_settings`` (see ``crawl_fetch_settings``), and no scheduler, run executor or Config
    following."""
    # From the settings when the command line has them (worker name, stall timeout, threads).
    build = Runtime if settings is None else functools.partial(Runtime.from_settings, settings)
    return build(
        db=db,
        parts=CRAWL,
        engines=[WebScraper],
        fetch=fetch_settings,
        concurrency=options.concurrency,
        drain=True,
        policy=policy,
        claim_batch=options.concurrency * 2,
    )


def run_crawl(
    db: Database,
    options: CrawlOptions,
    fetch_settings: FetchSettings,
    *,
    policy: QueuePolicy | None = None,
    stats_interval: float = 10.0,
    tty: bool | None = None,
) -> CrawlResult:
    """Seed (idempotently) and drain the crawl; SIGINT/SIGTERM stop it, to be resumed later."""
    runtime = crawl_runtime(db, options, fetch_settings, policy=policy)
    return crawl(runtime, options, stats_interval=stats_interval, tty=tty)


def crawl(
    runtime: Runtime,
    options: CrawlOptions,
    *,
    stats_interval: float = 10.0,
    tty: bool | None = None,
) -> CrawlResult:
    """Seed the crawl ``options`` describe and run ``runtime`` (``crawl_runtime``) until drained."""
    started = time.monotonic()
    db = runtime.db
    # The crawl's delay, per-host concurrency and robots choice are stored with it.
    seed_settings = options.scraper_settings(runtime.fetch_settings)
    spec = CrawlSpec.from_settings(seed_settings)  # ConfigError before any work
    [seeded] = run_start_actions(WebScraper, db, seed_settings, fetchers=runtime.fetchers)
    if not seeded.ok:
        raise HaystackError(f"could not seed the crawl: {seeded.error}")
    root_id = db.run_read(store.find_item_id, uri=spec.url)
    if root_id is None:  # pragma: no cover - the seed just stored it
        raise HaystackError(f"the crawl's start item {spec.url!r} is missing")
    # The worker releases first what dead workers held (a killed earlier run of this crawl).
    stats = runtime.run(stats_interval=stats_interval, tty=tty)
    total = db.run_read(count_crawl_pages, root_id=root_id)
    return CrawlResult(root_id, stats.finished, time.monotonic() - started, total, stats)
