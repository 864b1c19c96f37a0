"""The runtime: everything a Haystack process runs, built once from the settings.

``Runtime.from_settings(settings, ...)`` builds, in this order:

* the database (given, already migrated, or opened from the settings and disposed by ``close``);
* the queue: a ``SqlQueue`` with its policy (the lease);
* the fetch settings and the engines' ``Fetchers`` (engines/fetchers.py): what every action
  fetches (and renders) with, the worker's browser included, handed to the worker, the
  scheduler and the run executor, and through them to
  each action's context. Nothing is set on an engine class;
* the worker, the scheduler (fired by the worker) and the run executor (API-queued runs);
* the re-visiter (revisits.py): the re-visit policies' ticks, fired by the scheduler;
* the notifier (watch/notifier.py): evaluates the watches and delivers their notifications,
  beside the worker (in a thread of its own, or as a task on ``haystack serve``'s loop).

Every command starts one and differs only in its ``Parts``: ``haystack worker`` runs all of
them, ``haystack run ENGINE`` and ``haystack crawl`` a draining worker alone, ``haystack
serve`` all of them beside the API (or none, with ``--no-worker``). Like Scrapy's
``from_crawler``, each part is built from the runtime by its own builder, which returns None
when the part switches itself off (not asked for, or nothing for it to do: a worker needs an
engine); ``Runtime.parts()`` names what was built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from haystack_collector.db import Database
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.fetch import FetchSettings
from haystack_collector.fetch.settings import BrowserSettings
from haystack_collector.queue import QueuePolicy, SqlQueue

if TYPE_CHECKING:
    from haystack_collector.engines.base import Engine
    from haystack_collector.revisits import Revisiter
    from haystack_collector.runs import RunExecutor
    from haystack_collector.scheduler import Scheduler
    from haystack_collector.settings import Settings
    from haystack_collector.watch.notifier import Notifier
    from haystack_collector.worker import Worker, WorkerStats

__all__ = ["API_ONLY", "CRAWL", "RUN", "SERVE", "WORKER", "Parts", "Runtime"]

# How often a worker fires due schedules, in seconds.
SCHEDULE_EVERY_S = 5.0
# Threads for blocking store calls beyond one per task: the worker's helpers, the run executor;
# and more for API requests when the API shares the loop.
HELPER_THREADS = 8
API_THREADS = 8


@dataclass(frozen=True, slots=True)
class Parts:
    """Which parts of the runtime a command runs."""

    worker: bool = True
    scheduler: bool = True  # fired by the worker: off without one
    revisits: bool = True  # re-visit policies' ticks, fired by the scheduler: off without it
    run_executor: bool = True  # runs queued through the API (engine starts)
    follow_config: bool = True  # the Config table's MaxConcurrentJobs and DefaultDelay
    api: bool = False  # ``haystack serve``: the API shares the process (and its threads)
    notifier: bool = True  # watches and their notifications (with the worker, and settings)


WORKER = Parts()
RUN = Parts(scheduler=False, run_executor=False, notifier=False)
CRAWL = Parts(scheduler=False, run_executor=False, follow_config=False, notifier=False)
SERVE = Parts(api=True)
API_ONLY = Parts(
    worker=False, scheduler=False, run_executor=False, follow_config=False, api=True, notifier=False
)


class Runtime:
    """The database, queue, fetchers, worker, scheduler and run executor of one process."""

    def __init__(
        self,
        db: Database,
        *,
        parts: Parts = WORKER,
        engines: Sequence[type[Engine]] | None = None,
        fetch: FetchSettings | None = None,
        engine_fetch: Mapping[str, FetchSettings] | None = None,
        browser: BrowserSettings | None = None,
        concurrency: int = 4,
        drain: bool = False,
        policy: QueuePolicy | None = None,
        grace: float = 10.0,
        claim_batch: int | None = None,
        settings: Settings | None = None,
        owns_db: bool = False,
    ) -> None:
        if engines is None:
            from haystack_collector.engines.registry import all_engines  # noqa: PLC0415

            engines = all_engines()
        self.db = db
        self.parts = parts
        self.settings = settings
        self.engines = list(engines)
        self.concurrency = concurrency
        self.drain = drain
        self.grace = grace
        self.claim_batch = claim_batch
        self._owns_db = owns_db
        self.queue = SqlQueue(db, policy)
        self.fetch_settings = fetch if fetch is not None else FetchSettings()
        if browser is None and settings is not None:
            browser = settings.browser_settings()
        self.fetchers = Fetchers(self.fetch_settings, engines=engine_fetch, browser=browser)
        # Built in dependency order: the worker fires the scheduler and waits for the runner.
        self.revisiter: Revisiter | None = None
        self.scheduler: Scheduler | None = None
        self.run_executor: RunExecutor | None = None
        self.worker: Worker | None = None
        self.notifier: Notifier | None = None
        for name, build in _BUILDERS.items():
            setattr(self, name, build(self))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        db: Database | None = None,
        parts: Parts = WORKER,
        engines: Sequence[type[Engine]] | None = None,
        fetch: FetchSettings | None = None,
        engine_fetch: Mapping[str, FetchSettings] | None = None,
        concurrency: int | None = None,
        drain: bool = False,
        lease: float | None = None,
        policy: QueuePolicy | None = None,
        grace: float = 10.0,
        claim_batch: int | None = None,
    ) -> Runtime:
        """The runtime ``settings`` describe; the keywords are a command's own choices.

        ``db``: an open (migrated) database the caller disposes; None opens one from the
        settings, disposed by ``close``. ``fetch``: the fetch settings (default: the
        settings'); ``engine_fetch``: settings of their own for some engines, by name.
        ``concurrency``: tasks at once (default ``worker_concurrency``); ``lease``: seconds a
        claim lasts (default the queue's), or ``policy`` the whole queue policy.
        """
        if policy is None and lease is not None:
            policy = QueuePolicy(lease=timedelta(seconds=lease))
        owns_db = db is None
        database = db if db is not None else Database.from_settings(settings)
        try:
            return cls(
                database,
                parts=parts,
                engines=engines,
                fetch=fetch if fetch is not None else settings.fetch_settings(),
                engine_fetch=engine_fetch,
                concurrency=concurrency or settings.worker_concurrency,
                drain=drain,
                policy=policy,
                grace=grace,
                claim_batch=claim_batch,
                settings=settings,
                owns_db=owns_db,
            )
        except BaseException:
            if owns_db:
                database.dispose()
            raise

    # --- what was built --------------------------------------------------------------------

    def parts_built(self) -> list[str]:
        """The parts this runtime runs, in start order (``scheduler`` runs inside the worker)."""
        return [name for name in _BUILDERS if getattr(self, name) is not None]

    @property
    def threads(self) -> int:
        """Threads of the loop's default executor: every store call runs in one."""
        tasks = self.concurrency if self.worker is not None else 0
        return tasks + HELPER_THREADS + (API_THREADS if self.parts.api else 0)

    # --- running ---------------------------------------------------------------------------

    def run(self, *, stats_interval: float = 10.0, tty: bool | None = None) -> WorkerStats:
        """Run the worker until SIGINT/SIGTERM (or drained), the run executor beside it in a
        thread of its own; progress on stderr (see ``worker.run_worker``)."""
        from haystack_collector.worker import run_worker  # noqa: PLC0415

        if self.worker is None:
            raise RuntimeError("this runtime runs no worker")
        with self._runner_in_thread(), self._notifier_in_thread():
            return run_worker(
                self.worker, stats_interval=stats_interval, tty=tty, threads=self.threads
            )

    @contextlib.contextmanager
    def _runner_in_thread(self) -> Iterator[None]:
        if self.run_executor is None:
            yield
            return
        with self.run_executor.running_in_thread():
            yield

    @contextlib.contextmanager
    def _notifier_in_thread(self) -> Iterator[None]:
        if self.notifier is None:
            yield
            return
        with self.notifier.running_in_thread():
            yield
        if self.drain:  # what the drained run found is told now, not at the next start
            self.notifier.final_pass()

    def services(self) -> list[Worker | RunExecutor | Notifier]:
        """The parts that run as tasks on a loop shared with others (``haystack serve``)."""
        parts = (self.worker, self.run_executor, self.notifier)
        return [part for part in parts if part is not None]

    def close(self) -> None:
        """Dispose of the database if the runtime opened it."""
        if self._owns_db:
            self.db.dispose()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# --- the parts' builders: each returns None when its part is off ---------------------------


def _scheduler(runtime: Runtime) -> Scheduler | None:
    if not (runtime.parts.scheduler and runtime.parts.worker and runtime.engines):
        return None  # fired by the worker's loop: without a worker nothing would tick it
    from haystack_collector.scheduler import Scheduler  # noqa: PLC0415

    return Scheduler(runtime.db, fetchers=runtime.fetchers, revisiter=runtime.revisiter)


def _revisiter(runtime: Runtime) -> Revisiter | None:
    parts = runtime.parts
    if not (parts.revisits and parts.scheduler and parts.worker and runtime.engines):
        return None  # its ticks are the scheduler's: without one nothing would fire them
    from haystack_collector.revisits import DEFAULT_BATCH, Revisiter  # noqa: PLC0415

    batch = DEFAULT_BATCH if runtime.settings is None else runtime.settings.revisit_batch
    return Revisiter(runtime.db, runtime.engines, batch=batch)


def _run_executor(runtime: Runtime) -> RunExecutor | None:
    if not runtime.parts.run_executor or not runtime.engines:
        return None
    from haystack_collector.paths import PathRoots  # noqa: PLC0415
    from haystack_collector.runs import RunExecutor  # noqa: PLC0415

    roots = None if runtime.settings is None else PathRoots.of(runtime.settings)
    return RunExecutor(runtime.db, runtime.engines, roots=roots, fetchers=runtime.fetchers)


def _worker(runtime: Runtime) -> Worker | None:
    if not runtime.parts.worker or not runtime.engines:
        return None
    from haystack_collector.worker import (  # noqa: PLC0415
        CONFIG_CHECK_EVERY,
        DEFAULT_STALL_TIMEOUT,
        Worker,
    )

    runner = runtime.run_executor
    settings = runtime.settings
    return Worker(
        runtime.db,
        runtime.queue,
        runtime.engines,
        concurrency=runtime.concurrency,
        drain=runtime.drain,
        claim_batch=runtime.claim_batch,
        grace=runtime.grace,
        scheduler=runtime.scheduler,
        schedule_every=SCHEDULE_EVERY_S,
        # A drain also waits for the API runs still to run: they queue events.
        runs_outstanding=runner.outstanding if runtime.drain and runner is not None else None,
        config_every=CONFIG_CHECK_EVERY if runtime.parts.follow_config else None,
        fetchers=runtime.fetchers,
        # Crash recovery: when other workers count this one dead, and its owner id's name.
        stall_timeout=DEFAULT_STALL_TIMEOUT if settings is None else settings.worker_stall_timeout,
        host=None if settings is None else settings.worker_name,
    )


def _notifier(runtime: Runtime) -> Notifier | None:
    settings = runtime.settings
    if not runtime.parts.notifier or runtime.worker is None or settings is None:
        return None  # beside a worker (built before it), as configured; a bare Runtime(db)
    if settings.notify_every <= 0:
        return None
    from haystack_collector.watch.notifier import notifier_from_settings  # noqa: PLC0415

    return notifier_from_settings(runtime.db, settings)


_BUILDERS: dict[str, Callable[[Runtime], Any]] = {
    "revisiter": _revisiter,
    "scheduler": _scheduler,
    "run_executor": _run_executor,
    "worker": _worker,
    "notifier": _notifier,
}
