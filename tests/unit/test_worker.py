"""The worker on a MemoryQueue with test engines and a stand-in database (no SQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from haystack_collector.db import Database
from haystack_collector.engines import ActionContext, Engine, item_action
from haystack_collector.engines.base import RegisteredEngine
from haystack_collector.queue import MemoryQueue, QueuePolicy, Task
from haystack_collector.resilience import RetryPolicy
from haystack_collector.worker import Worker

ENGINE_ID = 1
ACTION_ID = 7


class FakeDatabase:
    """Answers the few calls the worker and the action runner make, recording Status rows."""

    def __init__(self) -> None:
        self.statuses: list[str] = []

    def run(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if work.__name__ == "_register":
            engine = args[0]
            return RegisteredEngine(ENGINE_ID, engine.name, engine.version, {"act": ACTION_ID})
        if work.__name__ == "add_status":
            self.statuses.append(kwargs["message"])
            return len(self.statuses)
        raise AssertionError(f"unexpected database call {work.__name__}")

    def run_read(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        assert work.__name__ == "is_engine_disabled"
        return False


class Probe:
    """What the test engines saw: runs per item and the peak number running at once."""

    runs: dict[int, int] = {}  # noqa: RUF012 - reset per test by the fixture
    running = 0
    peak = 0
    gate: asyncio.Event | None = None


class AsyncEngine(Engine):
    name = "async-test"

    @item_action("act")
    async def act(self, ctx: ActionContext, task: Task) -> None:
        Probe.running += 1
        Probe.peak = max(Probe.peak, Probe.running)
        try:
            await asyncio.sleep(0.01)
            if Probe.gate is not None:
                await Probe.gate.wait()
            Probe.runs[task.item_id] = Probe.runs.get(task.item_id, 0) + 1
        finally:
            Probe.running -= 1


class SyncEngine(Engine):
    name = "sync-test"

    @item_action("act")
    def act(self, ctx: ActionContext, task: Task) -> None:
        Probe.runs[task.item_id] = Probe.runs.get(task.item_id, 0) + 1


class FailingEngine(Engine):
    name = "failing-test"

    @item_action("act")
    def act(self, ctx: ActionContext, task: Task) -> None:
        raise ValueError(f"cannot parse {task.uri}")


@pytest.fixture(autouse=True)
def _probe() -> None:
    Probe.runs, Probe.running, Probe.peak, Probe.gate = {}, 0, 0, None


def queue_with(n: int, policy: QueuePolicy | None = None) -> MemoryQueue:
    queue = MemoryQueue(policy)
    queue.items = {i: f"https://w.test/{i}" for i in range(1, n + 1)}
    queue.enqueue(engine_id=ENGINE_ID, action_id=ACTION_ID, item_ids=list(queue.items))
    return queue


def worker(queue: MemoryQueue, engine: type[Engine], **options: Any) -> Worker:
    options = {"concurrency": 4, "drain": True, "idle_sleep": 0.01, "finish_flush": 0.01} | options
    return Worker(cast(Database, FakeDatabase()), queue, [engine], **options)


def pending(queue: MemoryQueue) -> int:
    return len(queue.claim(owner="check", limit=10_000))


async def test_drains_async_actions_within_the_concurrency_cap() -> None:
    queue = queue_with(40)
    stats = await asyncio.wait_for(worker(queue, AsyncEngine, concurrency=3).run(), 10)
    assert Probe.runs == dict.fromkeys(range(1, 41), 1)
    assert Probe.peak == 3
    assert (stats.claimed, stats.finished, stats.failed) == (40, 40, 0)
    assert pending(queue) == 0


async def test_runs_sync_actions_in_threads() -> None:
    queue = queue_with(10)
    stats = await asyncio.wait_for(worker(queue, SyncEngine).run(), 10)
    assert Probe.runs == dict.fromkeys(range(1, 11), 1)
    assert stats.finished == 10


async def test_failures_are_retried_then_dead() -> None:
    policy = QueuePolicy(retry=RetryPolicy(attempts=1, initial=0.0, maximum=0.0))
    queue = queue_with(3, policy)
    stats = await asyncio.wait_for(worker(queue, FailingEngine).run(), 10)
    assert (stats.failed, stats.dead, stats.finished) == (3, 3, 0)
    assert pending(queue) == 0


async def test_failures_with_attempts_left_wait_for_a_retry() -> None:
    queue = queue_with(2)  # default policy: the retry is due in 30 s, so drain exits
    stats = await asyncio.wait_for(worker(queue, FailingEngine).run(), 10)
    assert (stats.failed, stats.retried, stats.dead) == (2, 2, 0)


async def test_finishes_are_batched() -> None:
    queue = queue_with(30)
    calls: list[int] = []
    finish = queue.finish

    def counting_finish(*tasks: Task) -> int:
        calls.append(len(tasks))
        return finish(*tasks)

    queue.finish = counting_finish  # type: ignore[method-assign]
    await asyncio.wait_for(worker(queue, SyncEngine, finish_flush=60, finish_batch=10).run(), 10)
    assert sum(calls) == 30
    assert len(calls) <= 4  # batches of about 10, plus the final flush


async def test_stop_releases_unstarted_jobs_and_waits_for_running_ones() -> None:
    queue = queue_with(20)
    Probe.gate = asyncio.Event()
    the_worker = worker(queue, AsyncEngine, concurrency=2, claim_batch=5, drain=False)
    task = asyncio.create_task(the_worker.run())
    for _ in range(500):  # bounded: until both running tasks are in the action
        if Probe.running == 2:
            break
        await asyncio.sleep(0.01)
    assert Probe.running == 2
    the_worker.stop()
    Probe.gate.set()
    stats = await asyncio.wait_for(task, 10)
    assert stats.finished == 2
    # The buffered tasks never started, and every one of them is handed back (the buffer is
    # refilled once half of claim_batch is used, so 3 of 5 were still at hand).
    assert stats.released == stats.claimed - 2 == 3
    assert pending(queue) == 18


async def test_second_stop_cancels_and_releases_running_jobs() -> None:
    queue = queue_with(4)
    Probe.gate = asyncio.Event()  # never set: the tasks would run forever
    the_worker = worker(queue, AsyncEngine, concurrency=2, claim_batch=1, drain=False)
    task = asyncio.create_task(the_worker.run())
    for _ in range(500):
        if Probe.running == 2:
            break
        await asyncio.sleep(0.01)
    the_worker.stop()
    the_worker.stop()
    stats = await asyncio.wait_for(task, 5)
    assert stats.finished == 0
    assert stats.released == 3  # two cancelled, one buffered
    assert pending(queue) == 4


def test_a_worker_beats_three_times_per_stall_timeout_and_names_itself() -> None:
    db = cast(Database, FakeDatabase())
    quick = Worker(db, MemoryQueue(), [], stall_timeout=3.0, host="rack-7")
    assert quick.heartbeat_every == 1.0
    assert quick.owner.startswith("rack-7:")
    assert quick.host == "rack-7"
    assert Worker(db, MemoryQueue(), []).heartbeat_every == 5.0  # the default 30 s allows 5
    with pytest.raises(ValueError, match="stall_timeout"):
        Worker(db, MemoryQueue(), [], stall_timeout=0)
