"""The run executor: claims queued runs (engine runs requested through the API) and executes them.

A run executes its engine's start actions (or the one start action it names) with its settings,
through ``run_start_actions`` in a thread, under the correlation id of the request that queued
it, so every log line of that work carries the request's id. The outcome (items stored, events
enqueued, error) is written back to the run's row.

Each running run's lease is renewed every ``poll`` seconds. A renewal that no longer finds the
run running under this executor means it was cancelled (its engine was stopped) or taken over
after the lease ran out: the executor cancels its asyncio task. Python cannot interrupt a
thread, so a start action already running finishes in the background; its outcome is dropped
(the row stays ``cancelled``), and what it queued is not claimed while the engine is disabled.

Stopping: ``stop()`` stops claiming and gives running runs ``grace`` seconds; what is still
running then is cancelled and handed back to the queue. A second ``stop()`` does that at once.

Draining (``haystack worker --drain``): ``outstanding()`` counts the runs the executor still
has to execute: queued runs of its enabled engines, running runs whose lease ran out (both of
which it would claim), and the running runs it holds itself. The worker exits only once that
count was zero before its last claim of events found nothing, so the events a run queued are
run too.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from pydantic import BaseModel

from haystack_collector import metrics
from haystack_collector.db import Database
from haystack_collector.engines.base import ActionResult, ActionSpec, Engine, run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.errors import NotFoundError
from haystack_collector.logs import correlation_scope, get_logger, logging_context
from haystack_collector.origin import API, origin_scope
from haystack_collector.paths import PathRoots, confine_settings
from haystack_collector.settings import load_settings
from haystack_collector.store import runs as run_store
from haystack_collector.store.runs import RunRow
from haystack_collector.worker import default_owner

__all__ = ["DEFAULT_LEASE", "RunExecutor", "RunExecutorStats", "execute_run"]

log = get_logger("haystack.runs")

DEFAULT_LEASE = timedelta(minutes=5)


@dataclass
class RunExecutorStats:
    """What an executor did so far."""

    claimed: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0
    items_stored: int = 0


def execute_run(
    engine: type[Engine],
    db: Database,
    *,
    action: str | None,
    settings: Mapping[str, Any] | BaseModel,
    fetchers: Fetchers | None = None,
) -> list[ActionResult]:
    """Run every start action of ``engine`` (``action`` None) or the start action named."""
    if action is None:
        return run_start_actions(engine, db, settings, fetchers=fetchers)
    spec = engine.actions().get(action)
    if spec is None or spec.kind != "start":
        raise NotFoundError(f"engine {engine.name!r} has no start action {action!r}")
    return run_start_actions(_only(engine, spec), db, settings, fetchers=fetchers)


def confined_run_settings(
    engine: type[Engine], settings: Mapping[str, Any], roots: PathRoots
) -> BaseModel:
    """A run's settings, validated, with their server paths inside ``roots`` once more."""
    return confine_settings(engine.validate_settings(settings), roots)


def _only(engine: type[Engine], spec: ActionSpec) -> type[Engine]:
    """``engine`` with ``spec`` as its only start action (same name: same catalog rows)."""

    def start_actions(cls: type[Engine]) -> list[ActionSpec]:
        return [spec]

    namespace = {"start_actions": classmethod(start_actions), "__module__": engine.__module__}
    return cast(type[Engine], type(engine.__name__, (engine,), namespace))


class RunExecutor:
    """Claims runs of ``engines`` and runs up to ``concurrency`` of them at a time."""

    def __init__(
        self,
        db: Database,
        engines: Sequence[type[Engine]],
        *,
        owner: str | None = None,
        concurrency: int = 2,
        poll: float = 1.0,
        lease: timedelta = DEFAULT_LEASE,
        grace: float = 10.0,
        roots: PathRoots | None = None,
        fetchers: Fetchers | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.db = db
        # Where the paths of a run may lead: checked when it was queued, and again as it runs,
        # so a symlink swapped in meanwhile cannot lead it out (None: the environment's).
        self.roots = roots if roots is not None else PathRoots.of(load_settings())
        self.engines = list(engines)
        self.fetchers = fetchers  # the runtime's; None: the default fetch settings
        self.owner = owner or default_owner()
        self.concurrency = concurrency
        self.poll = poll
        self.lease = lease
        self.grace = grace
        self.stats = RunExecutorStats()
        self._by_id: dict[int, type[Engine]] = {}
        self._executing: dict[int, asyncio.Task[None]] = {}
        self._ending: set[int] = set()  # runs whose outcome is being written: not cancelled
        self._stopping = False
        self._hard_stop = asyncio.Event()
        self._wake = asyncio.Event()

    # --- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        """First call: stop claiming, let running runs finish (``grace``); second: cancel them."""
        if self._stopping:
            self._hard_stop.set()
        self._stopping = True
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def outstanding(self) -> int:
        """How many runs this executor has yet to execute or is executing
        (``store.runs.outstanding_runs``).

        Blocking (one query); safe to call from any thread, e.g. a draining worker's.
        """
        engine_ids = list(self._by_id) or [e.register(self.db).engine_id for e in self.engines]
        return self.db.run_read(run_store.outstanding_runs, owner=self.owner, engine_ids=engine_ids)

    @contextlib.contextmanager
    def running_in_thread(self) -> Iterator[RunExecutor]:
        """Run on an event loop of its own in a thread for the block (``haystack worker``)."""
        started = threading.Event()
        loops: list[asyncio.AbstractEventLoop] = []

        async def main() -> None:
            loops.append(asyncio.get_running_loop())
            started.set()
            await self.run()

        thread = threading.Thread(
            target=asyncio.run, args=(main(),), name="haystack-runs", daemon=True
        )
        thread.start()
        started.wait()
        try:
            yield self
        finally:
            # RuntimeError: the loop is closed already (the executor failed to start).
            with contextlib.suppress(RuntimeError):
                loops[0].call_soon_threadsafe(self.stop)
            thread.join()

    # --- the run ---------------------------------------------------------------------------

    async def run(self) -> RunExecutorStats:
        """Claim and run runs until stopped; returns the final counts."""
        self._by_id = await asyncio.to_thread(self._register)
        try:
            while not self._stopping:
                await self._renew()
                room = self.concurrency - len(self._executing)
                if room > 0:
                    for run in await self._claim(room):
                        self._start(run)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)
        finally:
            await self._wind_down()
        return self.stats

    def _register(self) -> dict[int, type[Engine]]:
        return {engine.register(self.db).engine_id: engine for engine in self.engines}

    async def _claim(self, room: int) -> list[RunRow]:
        try:
            claimed = await asyncio.to_thread(
                self.db.run,
                run_store.claim_runs,
                owner=self.owner,
                limit=room,
                lease=self.lease,
                engine_ids=list(self._by_id),
            )
        except Exception:  # an outage must not end the executor; the next round retries
            log.exception("claiming runs failed")
            return []
        self.stats.claimed += len(claimed)
        return claimed

    async def _renew(self) -> None:
        """Extend the leases of running runs; cancel the asyncio tasks of runs no longer held."""
        running = [run_id for run_id in self._executing if run_id not in self._ending]
        if not running:
            return
        try:
            held = await asyncio.to_thread(
                self.db.run,
                run_store.renew_runs,
                owner=self.owner,
                run_ids=running,
                lease=self.lease,
            )
        except Exception:  # the lease outlives a short outage; try again next round
            log.exception("renewing run leases failed")
            return
        for run_id in running:
            execution = self._executing.get(run_id)
            if run_id not in held and run_id not in self._ending and execution is not None:
                log.info("run %d was cancelled; stopping it", run_id)
                self.stats.cancelled += 1
                execution.cancel()

    def _start(self, run: RunRow) -> None:
        execution = asyncio.create_task(self._execute(run), name=f"run-{run.run_id}")
        self._executing[run.run_id] = execution

        def forget(_: asyncio.Task[None]) -> None:
            self._executing.pop(run.run_id, None)
            self._ending.discard(run.run_id)
            self._wake.set()  # room for another run

        execution.add_done_callback(forget)

    async def _execute(self, run: RunRow) -> None:
        engine = self._by_id[run.engine_id]
        operation = run.action or "start"
        started = time.perf_counter()
        with (
            correlation_scope(run.correlation_id),
            # Every run came through the API: its fetches, and the events it queues, are API work.
            origin_scope(API),
            logging_context(engine_name=engine.name, operation=operation, run_id=run.run_id),
        ):
            log.info("run %d: running %s of %s", run.run_id, operation, engine.name)
            failure: str | None
            try:
                settings = confined_run_settings(engine, run.settings, self.roots)
                results = await asyncio.to_thread(
                    execute_run,
                    engine,
                    self.db,
                    action=run.action,
                    settings=settings,
                    fetchers=self.fetchers,
                )
            except Exception as error:  # e.g. the database is gone: the run fails, not the executor
                log.exception("run %d could not be executed", run.run_id)
                results, failure = [], f"{type(error).__name__}: {error}"
            else:
                failure = "; ".join(f"{r.action}: {r.error}" for r in results if not r.ok) or None
            items = sum(r.items_stored for r in results)
            events = sum(r.events_enqueued for r in results)
            self._ending.add(run.run_id)
            recorded = await self._record(run, failure, items, events)
            duration = time.perf_counter() - started
            # Not recorded: cancelled (or taken over) while it ran; its outcome was dropped.
            state = ("failed" if failure else "done") if recorded else "cancelled"
            metrics.observe_run(engine=engine.name, state=state, seconds=duration, items=items)
            if recorded:
                self.stats.items_stored += items
                if failure:
                    self.stats.failed += 1
                else:
                    self.stats.done += 1
            log.info(
                "run %d %s in %.2fs: %d item(s) stored, %d event(s) queued%s",
                run.run_id,
                state,
                duration,
                items,
                events,
                f" ({failure})" if failure else "",
            )

    async def _record(self, run: RunRow, failure: str | None, items: int, events: int) -> bool:
        """Write the outcome; False when the run was cancelled (or taken over) meanwhile."""
        try:
            if failure is None:
                return await asyncio.to_thread(
                    self.db.run,
                    run_store.finish_run,
                    run_id=run.run_id,
                    owner=self.owner,
                    items_stored=items,
                    events_enqueued=events,
                )
            return await asyncio.to_thread(
                self.db.run,
                run_store.fail_run,
                run_id=run.run_id,
                owner=self.owner,
                error=failure,
                items_stored=items,
                events_enqueued=events,
            )
        except Exception:  # its lease runs out and another executor runs it again
            log.exception("could not record the outcome of run %d", run.run_id)
            return False

    # --- stopping --------------------------------------------------------------------------

    async def _wind_down(self) -> None:
        """Give running runs ``grace`` seconds, then cancel and release the rest."""
        if self._executing and not self._hard_stop.is_set():
            hard = asyncio.create_task(self._hard_stop.wait())
            try:
                await self._wait_running(hard)
            finally:
                hard.cancel()
        left = {
            run_id: execution
            for run_id, execution in self._executing.items()
            if not execution.done()
        }
        for execution in left.values():
            execution.cancel()
        await asyncio.gather(*left.values(), return_exceptions=True)
        unfinished = [run_id for run_id in left if run_id not in self._ending]
        if unfinished:
            try:
                self.stats.released += await asyncio.to_thread(
                    self.db.run, run_store.release_runs, owner=self.owner, run_ids=unfinished
                )
            except Exception:  # their leases run out instead
                log.exception("could not release %d run(s)", len(unfinished))
        log.info("run executor %s stopped: %s", self.owner, self.stats)

    async def _wait_running(self, hard: asyncio.Task[bool]) -> None:
        deadline = time.monotonic() + self.grace
        while self._executing and not hard.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.wait(
                {*self._executing.values(), hard}, timeout=remaining, return_when="FIRST_COMPLETED"
            )
