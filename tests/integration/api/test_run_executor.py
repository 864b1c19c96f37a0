"""The run executor on real databases: runs, outcomes, correlation ids, cancellation, stopping."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from haystack_collector import metrics, store
from haystack_collector.db import Database
from haystack_collector.db.schema import items, status
from haystack_collector.engines import Engine
from haystack_collector.logs import ContextFilter
from haystack_collector.queue import SqlQueue
from haystack_collector.runs import RunExecutor, RunExecutorStats
from haystack_collector.store import EventSpec, ItemRecord
from haystack_collector.store import runs as run_store
from haystack_collector.store.runs import RunRow
from haystack_collector.worker import Worker
from tests.integration.api.runs_fixtures import PUBLIC_URL, Failing, Gate, Seeds, Slow

ENGINES: list[type[Engine]] = [Seeds, Slow, Failing]


@pytest.fixture(autouse=True)
def _gate() -> Iterator[None]:
    Gate.reset()
    yield
    Gate.release.set()


class Records(logging.Handler):
    """Every record of the haystack loggers, with the correlation id it was logged under."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(ContextFilter())
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler, logger = Records(), logging.getLogger("haystack")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def queue(db: Database, engine: type[Engine], **run: Any) -> int:
    values: dict[str, Any] = {"settings": {}, "correlation_id": None, "requested_by": "t"} | run
    return db.run(run_store.create_run, engine_id=engine.register(db).engine_id, **values)


def run(db: Database, run_id: int) -> RunRow:
    return db.run_read(run_store.get_run, run_id=run_id)


def runner(db: Database, **options: Any) -> RunExecutor:
    return RunExecutor(db, ENGINES, poll=0.05, **options)


async def run_until(
    runners: list[RunExecutor], done: Callable[[], bool], timeout: float = 20
) -> list[RunExecutorStats]:
    """Run the runners until ``done()`` holds (checked in a thread), then stop them."""
    tasks = [asyncio.create_task(each.run()) for each in runners]
    deadline = time.monotonic() + timeout
    try:
        while not await asyncio.to_thread(done):
            assert time.monotonic() < deadline, "the runners did not get there in time"
            assert not any(task.done() for task in tasks), "a runner ended early"
            await asyncio.sleep(0.05)
    finally:
        for each in runners:
            each.stop()
    return list(await asyncio.gather(*tasks))


def ended(db: Database, *run_ids: int) -> Callable[[], bool]:
    return lambda: all(run(db, i).state in run_store.FINAL_STATES for i in run_ids)


@pytest.fixture(autouse=True)
def _metrics_kept() -> None:
    """This process keeps the counters, as a serving process does (run alone, no app did it)."""
    metrics.enable()


def runs_observed(engine: str, state: str) -> float:
    """How many run durations the metrics histogram holds for the engine and final state."""
    labels = {"engine": engine, "state": state}
    return REGISTRY.get_sample_value("haystack_run_duration_seconds_count", labels) or 0.0


def count_items(db: Database, prefix: str) -> int:
    query = select(func.count()).select_from(items).where(items.c.ItemURI.startswith(prefix))
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_run_runs_every_start_action_and_records_the_outcome(
    db: Database, records: Records
) -> None:
    run_id = queue(db, Seeds, settings={"count": 3}, correlation_id="req-1234")
    durations_before = runs_observed("runs-test-seeds", "done")

    (stats,) = asyncio.run(run_until([runner(db, owner="runner-1")], ended(db, run_id)))

    done = run(db, run_id)
    assert (done.state, done.error, done.claimed_by) == ("done", None, "runner-1")
    assert (done.items_stored, done.events_enqueued) == (4, 3)  # seed-many 3 + seed-one 1
    assert done.started is not None
    assert done.finished is not None
    assert count_items(db, PUBLIC_URL) == 4
    assert (stats.claimed, stats.done, stats.failed, stats.items_stored) == (1, 1, 0, 4)
    assert runs_observed("runs-test-seeds", "done") == durations_before + 1
    # Every line logged while running it, the engine's own included, carries the request's id.
    work = [r for r in records.seen if getattr(r, "haystack_context", {}).get("run_id") == run_id]
    assert any(r.name == "haystack.engines.runs-test-seeds" for r in work)
    assert {getattr(r, "correlation_id", None) for r in work} == {"req-1234"}


def test_a_run_naming_an_action_runs_only_that_action(db: Database) -> None:
    run_id = queue(db, Seeds, action="seed-one", settings={"url": "https://one.test"})

    asyncio.run(run_until([runner(db)], ended(db, run_id)))

    done = run(db, run_id)
    assert (done.state, done.items_stored, done.events_enqueued) == ("done", 1, 0)
    assert count_items(db, "https://one.test/") == 1


def test_a_failing_action_fails_the_run_and_keeps_what_it_stored(db: Database) -> None:
    run_id = queue(db, Failing)

    (stats,) = asyncio.run(run_until([runner(db)], ended(db, run_id)))

    failed = run(db, run_id)
    assert failed.state == "failed"
    assert failed.error == "fail: RuntimeError: the source is gone"
    assert failed.items_stored == 1
    assert count_items(db, "https://failing.test/") == 1
    assert (stats.done, stats.failed) == (0, 1)
    assert runs_observed("runs-test-failing", "failed") >= 1


def test_settings_the_engine_refuses_fail_the_run(db: Database) -> None:
    run_id = queue(db, Seeds, settings={"count": "many"})

    asyncio.run(run_until([runner(db)], ended(db, run_id)))

    failed = run(db, run_id)
    assert failed.state == "failed"
    assert failed.error is not None
    assert "count: Input should be a valid integer" in failed.error


def test_two_runners_run_each_run_once(db: Database) -> None:
    run_ids = [
        queue(db, Seeds, action="seed-one", settings={"url": f"https://twice.test/{i}"})
        for i in range(12)
    ]

    stats = asyncio.run(
        run_until([runner(db, owner="runner-a"), runner(db, owner="runner-b")], ended(db, *run_ids))
    )

    assert sum(s.claimed for s in stats) == sum(s.done for s in stats) == 12
    assert {run(db, i).state for i in run_ids} == {"done"}
    # One Status row per run of the action: no run ran twice.
    engine_id = Seeds.register(db).engine_id
    with db.read() as conn:
        runs = conn.execute(
            select(func.count()).select_from(status).where(status.c.engineId == engine_id)
        ).scalar_one()
    assert runs == 12
    assert count_items(db, "https://twice.test/") == 12


def test_a_cancelled_run_stops_and_stays_cancelled(db: Database) -> None:
    slow = queue(db, Slow)
    the_runner = runner(db, concurrency=1)

    async def scenario() -> None:
        task = asyncio.create_task(the_runner.run())
        assert await asyncio.to_thread(Gate.entered.wait, 10)
        await asyncio.to_thread(
            db.run, run_store.cancel_runs, engine_id=Slow.register(db).engine_id
        )
        # The runner notices at its next renewal and frees its slot for the next run.
        nxt = await asyncio.to_thread(queue, db, Seeds, action="seed-one")
        while await asyncio.to_thread(lambda: run(db, nxt).state) != "done":
            await asyncio.sleep(0.05)
        Gate.release.set()  # the abandoned thread ends; its outcome is dropped
        await asyncio.sleep(0.2)
        the_runner.stop()
        await task

    asyncio.run(scenario())

    cancelled = run(db, slow)
    assert (cancelled.state, cancelled.error) == ("cancelled", "engine stopped")
    assert cancelled.items_stored == 0
    assert the_runner.stats.cancelled == 1
    assert the_runner.stats.done == 1


def test_stopping_hands_running_runs_back_after_the_grace(db: Database) -> None:
    slow = queue(db, Slow)
    the_runner = runner(db, grace=0.1)

    async def scenario() -> None:
        task = asyncio.create_task(the_runner.run())
        assert await asyncio.to_thread(Gate.entered.wait, 10)
        the_runner.stop()
        await task
        Gate.release.set()  # the abandoned thread ends (asyncio.run waits for it)

    asyncio.run(scenario())

    released = run(db, slow)
    assert (released.state, released.claimed_by, released.started) == ("queued", None, None)
    assert the_runner.stats.released == 1


def test_stopping_lets_a_run_finish_within_the_grace(db: Database) -> None:
    slow = queue(db, Slow)
    the_runner = runner(db, grace=10)

    async def scenario() -> None:
        task = asyncio.create_task(the_runner.run())
        assert await asyncio.to_thread(Gate.entered.wait, 10)
        the_runner.stop()
        await asyncio.sleep(0.1)
        Gate.release.set()
        await task

    asyncio.run(scenario())

    assert run(db, slow).state == "done"
    assert the_runner.stats.released == 0


def test_a_runner_in_a_thread_runs_runs_until_the_block_ends(db: Database) -> None:
    run_id = queue(db, Seeds, action="seed-one")
    the_runner = runner(db)

    with the_runner.running_in_thread():
        deadline = time.monotonic() + 20
        while run(db, run_id).state != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)

    assert the_runner.stopping
    assert the_runner.stats.done == 1


def test_a_stopped_engines_events_are_not_claimed_by_workers(db: Database) -> None:
    registered = Seeds.register(db)
    result = db.run(
        store.store_items,
        engine_id=registered.engine_id,
        records=[ItemRecord(uri=f"https://visit.test/{i}") for i in range(5)],
    )
    db.run(
        store.enqueue_events,
        events=[
            EventSpec(registered.engine_id, registered.action_ids["visit"], item_id)
            for item_id in result.item_ids.values()
        ],
    )
    db.run(store.set_engine_disabled, engine_id=registered.engine_id, disabled=True)

    def drain() -> int:
        worker = Worker(db, SqlQueue(db), [Seeds], drain=True, idle_sleep=0.05)
        return asyncio.run(worker.run()).claimed

    assert drain() == 0
    assert db.run_read(store.event_counts, engine_id=registered.engine_id)["pending"] == 5

    db.run(store.set_engine_disabled, engine_id=registered.engine_id, disabled=False)
    assert drain() == 5
    assert db.run_read(store.event_counts, engine_id=registered.engine_id)["done"] == 5


def test_queue_claims_skip_the_events_of_disabled_engines(db: Database) -> None:
    seeds = Seeds.register(db)
    result = db.run(
        store.store_items,
        engine_id=seeds.engine_id,
        records=[ItemRecord(uri=f"https://claim.test/{i}") for i in range(3)],
    )
    db.run(
        store.enqueue_events,
        events=[
            EventSpec(seeds.engine_id, seeds.action_ids["visit"], item_id)
            for item_id in result.item_ids.values()
        ],
    )
    queue_ = SqlQueue(db)
    db.run(store.set_engine_disabled, engine_id=seeds.engine_id, disabled=True)

    assert queue_.claim(owner="any-worker", limit=10) == []

    db.run(store.set_engine_disabled, engine_id=seeds.engine_id, disabled=False)
    assert len(queue_.claim(owner="any-worker", limit=10)) == 3


def test_a_lease_that_runs_out_mid_run_is_taken_over(db: Database) -> None:
    run_id = queue(db, Seeds, action="seed-one")
    first = db.run(run_store.claim_runs, owner="dead", limit=1, lease=timedelta(seconds=-1))
    assert [j.run_id for j in first] == [run_id]

    asyncio.run(run_until([runner(db, owner="heir")], ended(db, run_id)))

    assert (run(db, run_id).state, run(db, run_id).claimed_by) == ("done", "heir")
