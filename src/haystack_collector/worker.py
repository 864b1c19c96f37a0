"""The worker: claims queued ItemEvents and runs their engines' item actions concurrently.

One asyncio loop holds a claim loop and ``concurrency`` consumer tasks. The claim loop keeps a
small buffer of claimed tasks (``claim_batch``) full; each consumer takes a task and runs the
engine's item action with ``run_item_action_async`` (async actions on the loop, sync ones in
threads). Every queue and store call is blocking SQLAlchemy, so it runs in a thread too.

Successful tasks are finished in batches (every ``finish_flush`` seconds or ``finish_batch``
tasks, and always before exit): one commit for many tasks is what lets a worker finish thousands
of events a second. Failed tasks are retried at once (backoff, then dead letters).

Delivery is at least once: a worker killed before its finishes were flushed leaves those
events leased, and they run again when the lease runs out. Actions must be idempotent.

Crash recovery: every worker heartbeats (its Workers row) and, at start, with each
heartbeat and when a drain finds nothing to claim, releases the claims of workers that missed
theirs for ``stall_timeout`` seconds (``store.workers.release_dead_workers``), wherever they
ran: a killed worker's events run again within seconds, not after their lease. Heartbeats come
at least three times per stall timeout. A worker of this machine and pid namespace (its
heartbeats carry ``process_identity``) whose pid is gone is dead at once. The lease stays the
guard against a worker that is alive but hung.

Stopping: ``stop()`` (SIGINT/SIGTERM in the CLI) stops claiming, hands buffered tasks back,
lets running tasks finish for ``grace`` seconds, then cancels and releases the rest, flushes
the finishes and returns. A second ``stop()`` cancels running tasks at once. A cancelled sync
action keeps running in its thread until it returns (Python cannot interrupt a thread); its
task is released regardless, so another worker may run it again.

An engine disabled meanwhile (``POST /api/engines/{name}/stop``) has its running actions
cancelled and its claimed events released within ``DISABLED_CHECK_EVERY`` seconds.

A worker given ``config_every`` follows two rows of the Config table, read at start and then
every ``config_every`` seconds, so an edit in the UI reaches running workers within seconds
(an empty or missing row leaves the worker as started; a value that is not one is logged and
ignored the same way):

* ``MaxConcurrentJobs``: at most this many tasks run at once in this worker, never more than
  its ``concurrency``. Lowered, consumers above it stop taking tasks once their current task
  ends (nothing running is cancelled); raised, they take tasks again.
* ``DefaultDelay``: seconds between two requests to one host, for every fetcher of this
  worker's ``fetchers`` built from the runtime's settings (``Fetchers.set_delay``); it
  replaces ``HAYSTACK_DOWNLOAD_DELAY``. A stopped worker hands its fetchers back without it.

``drain``: return once a claim finds nothing, no task is running and no other running worker
holds a claim (it may queue follow-ups, or die and have its claims released after the stall
timeout). Events whose ``run_after`` lies in the future (retries waiting out their backoff)
are not waited for. With
``runs_outstanding`` (a run executor's ``outstanding``), a drain also waits for the runs
(engine starts) still queued or running: they queue events. The count is taken before each
claim, so events a task queued before it ended are always seen by a later claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import CLAIM_OWNER_MAX
from haystack_collector.engines.base import (
    ActionResult,
    Engine,
    RegisteredEngine,
    run_item_action_async,
)
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.logs import correlation_scope, get_logger, logging_context
from haystack_collector.origin import origin_scope
from haystack_collector.queue import Outcome, Task, WorkQueue
from haystack_collector.store.workers import (
    WORKER_RETENTION,
    claims_of_running_workers,
    heartbeat_worker,
    prune_workers,
    register_worker,
    release_dead_workers,
    running_workers,
)

if TYPE_CHECKING:  # the scheduler (croniter, the engine registry) only where one runs
    from haystack_collector.scheduler import Scheduler

__all__ = ["DEFAULT_STALL_TIMEOUT", "Worker", "WorkerStats", "default_owner", "run_worker"]

log = get_logger("haystack.worker")

# How long a cached "is this engine disabled" answer is trusted, in seconds.
DISABLED_CHECK_EVERY = 5.0
# How often a worker refreshes its Workers row (health, hosts and the dashboard read it).
HEARTBEAT_EVERY = 5.0
# Seconds without a heartbeat after which a worker is dead and its claims are released
# (HAYSTACK_WORKER_STALL_TIMEOUT).
DEFAULT_STALL_TIMEOUT = 30.0
# How often a worker that follows the Config table reads it again, in seconds.
CONFIG_CHECK_EVERY = 5.0
# The Config rows such a worker follows (see the module docstring). Their names are the original
# Peregrin database's and stay as they are: "Jobs" there means the tasks a worker runs at once.
MAX_CONCURRENT_JOBS = "MaxConcurrentJobs"
DEFAULT_DELAY = "DefaultDelay"
# How often a worker deletes the rows of long-gone workers (store.workers.WORKER_RETENTION).
PRUNE_WORKERS_EVERY = 3600.0


def process_identity() -> dict[str, str] | None:
    """This machine's boot and this process's pid namespace (Linux; None elsewhere).

    A worker records them with its heartbeats: another worker that shares both can tell
    from the pid alone that the process is gone, and need not wait for the stall timeout.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        pid_namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return {"boot": boot, "pid_namespace": pid_namespace}


def default_owner(name: str | None = None) -> str:
    """name:pid:random, unique per worker run even when a pid is reused; ``name`` defaults to
    the host name (HAYSTACK_WORKER_NAME sets it)."""
    host = name or socket.gethostname()
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"[-CLAIM_OWNER_MAX:]


@dataclass
class WorkerStats:
    """What a worker did so far; ``finished`` counts finishes committed to the queue."""

    claimed: int = 0
    finished: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    items_stored: int = 0
    started: float = field(default_factory=time.monotonic)
    stopped: float | None = None

    @property
    def running_for(self) -> float:
        return (self.stopped or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Finished tasks per second since the start."""
        return self.finished / max(self.running_for, 1e-6)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "finished": self.finished,
            "failed": self.failed,
            "retried": self.retried,
            "dead": self.dead,
            "released": self.released,
            "items_stored": self.items_stored,
            "duration": round(self.running_for, 3),
            "rate": round(self.rate, 1),
        }

    def line(self) -> str:
        return (
            f"claimed {self.claimed}, finished {self.finished}, failed {self.failed}"
            f" (retried {self.retried}, dead {self.dead}), released {self.released},"
            f" items {self.items_stored}, {self.rate:.1f}/s in {self.running_for:.1f}s"
        )


@dataclass(frozen=True, slots=True)
class _Slot:
    """An engine this worker runs, with its catalog ids."""

    engine: type[Engine]
    registered: RegisteredEngine

    @property
    def item_action_ids(self) -> list[int]:
        item_names = [spec.name for spec in self.engine.actions().values() if spec.kind == "item"]
        return [self.registered.action_ids[name] for name in item_names]


class Worker:
    """Claims and runs tasks of ``engines`` with ``concurrency`` consumers until stopped or
    drained."""

    def __init__(
        self,
        db: Database,
        queue: WorkQueue,
        engines: Sequence[type[Engine]],
        *,
        concurrency: int = 4,
        owner: str | None = None,
        drain: bool = False,
        claim_batch: int | None = None,
        idle_sleep: float = 1.0,
        finish_flush: float = 0.5,
        finish_batch: int = 200,
        grace: float = 10.0,
        scheduler: Scheduler | None = None,
        schedule_every: float = 5.0,
        on_task: Callable[[WorkerStats], None] | None = None,
        heartbeat_every: float = HEARTBEAT_EVERY,
        prune_every: float = PRUNE_WORKERS_EVERY,
        runs_outstanding: Callable[[], int] | None = None,
        config_every: float | None = None,
        fetchers: Fetchers | None = None,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        host: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if stall_timeout <= 0:
            raise ValueError("stall_timeout must be positive")
        self.db = db
        self.queue = queue
        self.engines = list(engines)
        self.concurrency = concurrency
        self.host = host or socket.gethostname()
        self.owner = owner or default_owner(host)
        self.drain = drain
        self.claim_batch = max(claim_batch or concurrency, 1)
        self.idle_sleep = idle_sleep
        self.finish_flush = finish_flush
        self.finish_batch = max(finish_batch, 1)
        self.grace = grace
        self.scheduler = scheduler
        self.schedule_every = schedule_every
        self.on_task = on_task
        self.stall_timeout = stall_timeout
        self.process = process_identity()
        # Three beats per stall timeout: one late beat never makes a live worker look dead.
        self.heartbeat_every = min(heartbeat_every, stall_timeout / 3)
        self.prune_every = prune_every
        self._pruned_at: float | None = None
        self.runs_outstanding = runs_outstanding
        self.config_every = config_every
        # What the engines fetch with (the runtime's); closed on this loop as the worker stops.
        self.fetchers = fetchers if fetchers is not None else Fetchers()
        # Tasks run at once: ``concurrency`` unless MaxConcurrentJobs says fewer.
        self.limit = concurrency
        self._limit_changed = asyncio.Condition()
        self._config_seen: dict[str, str | None] = {}
        self.stats = WorkerStats()
        self._slots: dict[int, _Slot] = {}
        self._disabled: dict[int, tuple[float, bool]] = {}
        self._stopping = False
        self._hard_stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._buffer: asyncio.Queue[Task] = asyncio.Queue()
        self._active: dict[int, Task] = {}
        self._runs: dict[int, asyncio.Task[ActionResult]] = {}  # running actions, by event id
        self._done: list[Task] = []
        self._interrupted: list[Task] = []
        self._consumers: list[asyncio.Task[None]] = []

    # --- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        """First call: stop claiming and wind down gracefully; second: cancel running tasks."""
        if self._stopping:
            log.warning("second stop: cancelling %d running task(s)", len(self._active))
            self._hard_stop.set()
        else:
            log.info("stopping: no more claims; waiting up to %.0fs for running tasks", self.grace)
            self._stopping = True
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def running(self) -> int:
        """Tasks taken by a consumer and not yet ended."""
        return len(self._active)

    # --- the run ---------------------------------------------------------------------------

    async def run(self) -> WorkerStats:
        """Work until stopped (or drained); returns the final counts."""
        self.stats = WorkerStats()
        self._slots = await asyncio.to_thread(self._register)
        if self.config_every is not None:
            await self._follow_config()  # before the first claim: a cap applies at once
        await asyncio.to_thread(self._heartbeat, None)
        # At once, not after a period: a worker killed from now on is recognised as gone.
        await asyncio.to_thread(self._heartbeat, self._heartbeat_stats())
        await asyncio.to_thread(self._release_dead)
        self._idle.set()
        self._consumers = [
            asyncio.create_task(self._consume(index)) for index in range(self.concurrency)
        ]
        helpers = [
            asyncio.create_task(self._flush_loop()),
            asyncio.create_task(self._heartbeat_loop()),
        ]
        if self.scheduler is not None:
            helpers.append(asyncio.create_task(self._schedule_loop(self.scheduler)))
        if self.config_every is not None:
            helpers.append(asyncio.create_task(self._config_loop(self.config_every)))
        try:
            await self._claim_loop()
        finally:
            await self._wind_down(helpers)
            await self._close_engines()
            await self.fetchers.aclose()
            if self.config_every is not None:
                self.fetchers.set_delay(None)  # later users of these fetchers read their settings
        return self.stats

    async def _close_engines(self) -> None:
        for engine in self.engines:
            try:
                await engine.close_resources()
            except Exception:  # a leaked client must not turn a clean stop into a crash
                log.exception("closing engine %s failed", engine.name)

    def _register(self) -> dict[int, _Slot]:
        slots = {}
        for engine in self.engines:
            registered = engine.register(self.db)
            slots[registered.engine_id] = _Slot(engine, registered)
        return slots

    async def _claim_loop(self) -> None:
        while not self._stopping:
            await self._cancel_stopped()
            wanted, held = self._claim_room(), self._buffer.qsize()
            # Refilled once half is used: one claim of many tasks, not one per task taken.
            room = wanted - held if held <= wanted // 2 else 0
            if room > 0:
                # Both taken before the claim: a task running while the claim reads may commit
                # follow-up events the claim did not see, so only a claim that started with
                # nothing running (and no run left) proves the queue drained.
                idle = self._buffer.empty() and not self._active
                runs_left = await self._runs_left() if self.drain else 0
                claimed = await self._claim(room)
                for task in claimed:
                    self._buffer.put_nowait(task)
                if claimed:
                    continue
                if self.drain and idle and not runs_left and not await self._held_elsewhere():
                    log.info("drained: nothing left to claim")
                    return
            # Buffer full, or nothing due: wait for a consumer to take or end a task (drain),
            # for stop(), or for the idle period to pass.
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle_sleep)

    async def _held_elsewhere(self) -> bool:
        """Whether other running workers hold claims of this worker's engines (a drain waits
        for them: they may queue more work for it); a dead one's are released here as soon as
        it is judged dead. An outage counts as no, as a failed claim does: the drain ends, and
        what is left waits for the next worker."""
        if await asyncio.to_thread(self._release_dead):
            return True  # claimable now
        try:
            held = await asyncio.to_thread(
                self.db.run_read,
                claims_of_running_workers,
                other_than=self.owner,
                engine_ids=list(self._slots),  # another engine's work is not this drain's
            )
        except Exception:
            log.exception("counting other workers' claims failed")
            return False
        return held > 0

    def _claim_room(self) -> int:
        """The claimed tasks to keep at hand: ``claim_batch``, scaled down with the limit."""
        return max(1, -(-self.claim_batch * self.limit // self.concurrency))

    async def _runs_left(self) -> int:
        """Runs still to run (0 without ``runs_outstanding``); unknown counts as some."""
        if self.runs_outstanding is None:
            return 0
        try:
            return await asyncio.to_thread(self.runs_outstanding)
        except Exception:  # an outage: do not call the queue drained; the next round asks again
            log.exception("counting outstanding runs failed")
            return 1

    async def _claim(self, room: int) -> list[Task]:
        """Claim up to ``room`` tasks, engine by engine; a failed claim is logged and waited out."""
        claimed: list[Task] = []
        for engine_id, slot in self._slots.items():
            if len(claimed) >= room or self._stopping:
                break
            if await self._is_disabled(engine_id):
                continue
            try:
                claimed += await asyncio.to_thread(
                    self.queue.claim,
                    owner=self.owner,
                    limit=room - len(claimed),
                    engine_id=engine_id,
                    action_ids=slot.item_action_ids,
                )
            except Exception:  # an outage must not end the worker; the next round retries
                log.exception("claiming tasks of %s failed", slot.engine.name)
        self.stats.claimed += len(claimed)
        return claimed

    async def _cancel_stopped(self) -> None:
        """Cancel the running actions of engines disabled meanwhile (an API stop)."""
        for event_id, task in list(self._active.items()):
            run = self._runs.get(event_id)
            if run is not None and await self._is_disabled(task.engine_id):
                log.info("engine %s was stopped: cancelling event %s", task.engine_id, event_id)
                run.cancel()

    async def _is_disabled(self, engine_id: int) -> bool:
        checked, disabled = self._disabled.get(engine_id, (-DISABLED_CHECK_EVERY, False))
        if time.monotonic() - checked < DISABLED_CHECK_EVERY:
            return disabled
        try:
            disabled = await asyncio.to_thread(
                self.db.run_read, store.is_engine_disabled, engine_id=engine_id
            )
        except Exception:
            log.exception("cannot tell whether engine %s is disabled", engine_id)
        self._disabled[engine_id] = (time.monotonic(), disabled)
        return disabled

    # --- running tasks ----------------------------------------------------------------------

    async def _consume(self, index: int) -> None:
        """Run tasks one after another while ``index`` is below the limit (0 always is)."""
        while True:
            if index >= self.limit:
                async with self._limit_changed:
                    await self._limit_changed.wait_for(lambda: index < self.limit)
            task = await self._buffer.get()
            if index >= self.limit:  # lowered while this consumer waited for a task
                self._buffer.put_nowait(task)
                continue
            if self._stopping:  # taken after stop(): it never starts, and is released
                self._interrupted.append(task)
                continue
            if self._disabled.get(task.engine_id, (0.0, False))[1]:  # its engine was stopped
                await self._release([task])
                continue
            self._active[task.event_id] = task
            self._idle.clear()
            self._wake.set()  # room in the buffer: the claim loop may refill it
            try:
                await self._process(task)
            except asyncio.CancelledError:
                self._interrupted.append(task)
                raise
            finally:
                del self._active[task.event_id]
                if not self._active:
                    self._idle.set()
                if self.drain:
                    self._wake.set()  # the last task ending may mean the queue is drained

    async def _process(self, task: Task) -> None:
        slot = self._slots[task.engine_id]
        action = _action_name(slot.registered, task.action_id)
        with (
            correlation_scope(task.correlation_id),  # the id of the work that queued it, if any
            origin_scope(task.origin),  # API work fetches with the SSRF guard on, follow-ups too
            logging_context(engine_name=slot.engine.name, operation=action, item_id=task.item_id),
        ):
            run = asyncio.create_task(
                run_item_action_async(
                    slot.engine,
                    self.db,
                    task,
                    registered=slot.registered,
                    queue=self.queue,
                    fetchers=self.fetchers,
                )
            )
            self._runs[task.event_id] = run
            try:
                result = await run
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not run.cancelled() or (current is not None and current.cancelling()):
                    raise  # the worker itself is being cancelled
                await self._release([task])  # cancelled by _cancel_stopped: handed back
                return
            finally:
                del self._runs[task.event_id]
            self.stats.items_stored += result.items_stored
            if result.ok and result.event_done:
                self.stats.finished += 1  # committed with the action's own results
            elif result.ok:
                self._done.append(task)
                if len(self._done) >= self.finish_batch:
                    self._flush_now.set()
            else:
                await self._retry(task, result)
        if self.on_task is not None:
            self.on_task(self.stats)

    async def _retry(self, task: Task, result: ActionResult) -> None:
        self.stats.failed += 1
        try:
            outcome = await asyncio.to_thread(
                self.queue.retry, task, error=result.error or "failed"
            )
        except Exception:  # the lease runs out and the task is claimed again: nothing lost
            log.exception("could not record the failure of event %s", task.event_id)
            return
        if outcome is Outcome.DEAD:
            self.stats.dead += 1
            log.warning("event %s is dead after %d attempts", task.event_id, task.attempts)
        elif outcome is Outcome.RETRYING:
            self.stats.retried += 1

    # --- finishing -------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self.finish_flush)
            self._flush_now.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Finish every completed task in one call; on failure they wait for the next flush."""
        async with self._flush_lock:
            tasks, self._done = self._done, []
            if not tasks:
                return
            try:
                still_pending = await asyncio.to_thread(self.queue.finish, *tasks)
            except Exception:
                log.exception("finishing %d task(s) failed; will try again", len(tasks))
                self._done[:0] = tasks
                return
            self.stats.finished += len(tasks)
            if still_pending < len(tasks):
                # Their leases ran out and another worker finished them first.
                log.warning("%d finished task(s) were already done", len(tasks) - still_pending)

    # --- stopping --------------------------------------------------------------------------

    async def _wind_down(self, helpers: list[asyncio.Task[None]]) -> None:
        """Release what never started, let running tasks finish (or cancel them), flush."""
        unstarted = []
        while not self._buffer.empty():
            unstarted.append(self._buffer.get_nowait())
        await self._release(unstarted)
        await self._wait_for_running()
        # Under the flush lock, so a flush in progress completes (and is counted) before its
        # loop is cancelled: cancelled mid-call, it would lose track of the tasks it finished.
        async with self._flush_lock:
            for helper in [*self._consumers, *helpers]:
                helper.cancel()
            await asyncio.gather(*self._consumers, *helpers, return_exceptions=True)
        await self._release(self._interrupted)
        await self._flush()
        if self._done:
            log.error(
                "%d completed task(s) could not be finished; they will run again", len(self._done)
            )
        self.stats.stopped = time.monotonic()
        log.info("worker %s done: %s", self.owner, self.stats.line())
        await asyncio.to_thread(self._record_status)
        await asyncio.to_thread(self._heartbeat, self._heartbeat_stats(), "stopped")

    async def _wait_for_running(self) -> None:
        if not self._active:
            return
        idle = asyncio.create_task(self._idle.wait())
        hard = asyncio.create_task(self._hard_stop.wait())
        try:
            await asyncio.wait({idle, hard}, timeout=self.grace, return_when="FIRST_COMPLETED")
        finally:
            idle.cancel()
            hard.cancel()
        if self._active:
            log.warning("cancelling %d task(s) still running", len(self._active))

    async def _release(self, tasks: list[Task]) -> None:
        for task in tasks:
            try:
                if await asyncio.to_thread(self.queue.release, task):
                    self.stats.released += 1
            except Exception:  # its lease runs out instead
                log.exception("could not release event %s", task.event_id)
        tasks.clear()

    def _record_status(self) -> None:
        try:
            self.db.run(
                store.add_status, message=f"worker {self.owner} stopped: {self.stats.line()}"
            )
        except Exception:
            log.exception("could not record the worker's status")

    # --- heartbeats ------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_every)
            # The stats are gathered here, on the loop: each engine's fetcher belongs to it.
            await asyncio.to_thread(self._heartbeat, self._heartbeat_stats())
            if await asyncio.to_thread(self._release_dead):
                self._wake.set()  # claimable now
            await asyncio.to_thread(self._prune)

    def _release_dead(self) -> int:
        """Release the claims of workers dead for ``stall_timeout``; returns how many events
        (run in a thread: it does not touch the loop). An outage only logs."""
        try:
            gone = self._gone_here()
            released = self.db.run(
                release_dead_workers,
                stall_timeout=timedelta(seconds=self.stall_timeout),
                alive=self.owner,
                gone=gone,
            )
        except Exception:
            log.exception("releasing dead workers' claims failed")
            return 0
        for owner in released.owners:
            why = "its process is gone" if owner in gone else "it missed its heartbeats"
            log.warning("worker %s is dead: %s", owner, why)
        if released.events:
            log.warning("released %d event(s) dead workers held", released.events)
        return released.events

    def _gone_here(self) -> list[str]:
        """Running workers whose process was on this machine, in this pid namespace, and is
        gone: dead now, whatever their last heartbeat (a killed crawl run again at once)."""
        if self.process is None:
            return []
        gone = []
        for row in self.db.run_read(running_workers):
            if row.owner == self.owner or row.pid is None or row.pid == os.getpid():
                continue
            if row.stats.get("process") != self.process:
                continue  # another machine, container or boot: its pid means nothing here
            try:
                os.kill(row.pid, 0)
            except ProcessLookupError:
                gone.append(row.owner)
            except PermissionError:  # alive, someone else's
                continue
        return gone

    def _prune(self) -> None:
        """Every ``prune_every`` seconds, delete long-gone workers' rows; an outage only logs."""
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < self.prune_every:
            return
        self._pruned_at = now
        try:
            pruned = self.db.run(prune_workers)
        except Exception:
            log.exception("pruning old worker rows failed")
            return
        if pruned:
            log.info(
                "deleted the rows of %d worker(s) unseen for over %d days",
                pruned,
                WORKER_RETENTION.days,
            )

    def _heartbeat_stats(self) -> dict[str, Any]:
        return {
            **self.stats.as_dict(),
            "concurrency": self.concurrency,
            "limit": self.limit,
            "hosts": self.fetchers.hosts(),
            "process": self.process,
        }

    def _heartbeat(self, stats: dict[str, Any] | None, state: str = "running") -> None:
        """Register (``stats`` None) or refresh this worker's row; an outage only logs."""
        try:
            if stats is not None and self.db.run(
                heartbeat_worker,
                owner=self.owner,
                finished=self.stats.finished,
                failed=self.stats.failed,
                stats=stats,
                state=state,
            ):
                return
            self.db.run(
                register_worker,
                owner=self.owner,
                host=self.host,
                pid=os.getpid(),
                engines=[engine.name for engine in self.engines],
            )
        except Exception:
            log.exception("worker heartbeat failed")

    # --- the Config table ------------------------------------------------------------------

    async def _config_loop(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self._follow_config()

    async def _follow_config(self) -> None:
        """Apply MaxConcurrentJobs and DefaultDelay as the Config table holds them now."""
        try:
            config = await asyncio.to_thread(self.db.run_read, store.all_config)
        except Exception:  # an outage: keep what was read last; the next round reads again
            log.exception("reading the Config table failed")
            return
        cap = self._config_number(config, MAX_CONCURRENT_JOBS, _positive_int)
        limit = self.concurrency if cap is None else min(int(cap), self.concurrency)
        if limit != self.limit:
            log.info(
                "%s: at most %d of %d task(s) at once", MAX_CONCURRENT_JOBS, limit, self.concurrency
            )
            async with self._limit_changed:
                self.limit = limit
                self._limit_changed.notify_all()
            self._wake.set()  # the claim loop may keep more (or fewer) tasks at hand
        delay = self._config_number(config, DEFAULT_DELAY, _seconds)
        if delay != self.fetchers.delay:
            shown = "the settings' delay" if delay is None else f"{delay:g}s"
            log.info("%s: %s between requests to a host", DEFAULT_DELAY, shown)
            self.fetchers.set_delay(delay)

    def _config_number(
        self, config: Mapping[str, str | None], name: str, parse: Callable[[str], float | None]
    ) -> float | None:
        """The row's number, None when empty, missing or bad (a bad value is logged once)."""
        raw = config.get(name)
        value = parse(raw.strip()) if raw and raw.strip() else None
        if value is None and raw and raw.strip() and self._config_seen.get(name) != raw:
            log.warning("Config %s=%r is not a valid value: ignored", name, raw)
        self._config_seen[name] = raw
        return value

    # --- the scheduler ---------------------------------------------------------------------

    async def _schedule_loop(self, scheduler: Scheduler) -> None:
        while True:
            try:
                await asyncio.to_thread(scheduler.run_once)
            except Exception:  # a database outage must not end the worker
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.schedule_every)


def _positive_int(text: str) -> float | None:
    try:
        number = int(text)
    except ValueError:
        return None
    return number if number >= 1 else None


def _seconds(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _action_name(registered: RegisteredEngine, action_id: int) -> str:
    for name, known in registered.action_ids.items():
        if known == action_id:
            return name
    return str(action_id)


# --- running a worker as a process (the CLI) ----------------------------------------------

# How often the TTY progress line is redrawn, in seconds.
PROGRESS_REFRESH_S = 0.5


def run_worker(
    worker: Worker,
    *,
    stats_interval: float = 10.0,
    tty: bool | None = None,
    threads: int | None = None,
) -> WorkerStats:
    """Run ``worker`` on a new event loop with SIGINT/SIGTERM wired to ``stop()``.

    Progress goes to stderr: a live line on a terminal, a stats line every
    ``stats_interval`` seconds otherwise. ``threads``: the loop's executor (default: one per
    task plus 8 for the helpers; ``Runtime.threads``).
    """
    interactive = sys.stderr.isatty() if tty is None else tty
    size = threads if threads is not None else worker.concurrency + 8
    return asyncio.run(
        _main(worker, stats_interval=stats_interval, interactive=interactive, threads=size)
    )


async def _main(
    worker: Worker, *, stats_interval: float, interactive: bool, threads: int
) -> WorkerStats:
    loop = asyncio.get_running_loop()
    # Every store call runs in a thread: size the pool for all tasks plus the helpers.
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="haystack")
    )
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, worker.stop)
    report = _live_progress(worker) if interactive else _stats_lines(worker, stats_interval)
    reporter = asyncio.create_task(report)
    try:
        return await worker.run()
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter


async def _stats_lines(worker: Worker, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        line = f"worker {worker.owner}: {worker.stats.line()}"
        log.info("%s", line)
        print(line, file=sys.stderr, flush=True)


async def _live_progress(worker: Worker) -> None:
    with Live(console=Console(stderr=True), transient=True, auto_refresh=False) as live:
        while True:
            stats = worker.stats
            live.update(
                Text.assemble(
                    ("haystack worker ", "bold"),
                    f"pages {stats.finished}  items {stats.items_stored}  ",
                    (f"errors {stats.failed}", "red" if stats.failed else ""),
                    f"  dead {stats.dead}  {stats.rate:.1f}/s",
                    ("  stopping" if worker.stopping else "", "yellow"),
                ),
                refresh=True,
            )
            await asyncio.sleep(PROGRESS_REFRESH_S)
