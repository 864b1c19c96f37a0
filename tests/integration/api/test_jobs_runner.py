"""The job runner on real databases: runs, outcomes, correlation ids, cancellation, stopping."""

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

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import items, status
from haystack_collector.engines import Engine
from haystack_collector.jobs import JobRunner, RunnerStats
from haystack_collector.logs import ContextFilter
from haystack_collector.queue import SqlQueue
from haystack_collector.store import EventSpec, ItemRecord
from haystack_collector.store import jobs as job_store
from haystack_collector.store.jobs import JobRow
from haystack_collector.worker import Worker
from tests.integration.api.jobs_fixtures import PUBLIC_URL, Failing, Gate, Seeds, Slow

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


def queue(db: Database, engine: type[Engine], **job: Any) -> int:
    values: dict[str, Any] = {"settings": {}, "correlation_id": None, "requested_by": "t"} | job
    return db.run(job_store.create_job, engine_id=engine.register(db).engine_id, **values)


def job(db: Database, job_id: int) -> JobRow:
    return db.run_read(job_store.get_job, job_id=job_id)


def runner(db: Database, **options: Any) -> JobRunner:
    return JobRunner(db, ENGINES, poll=0.05, **options)


async def run_until(
    runners: list[JobRunner], done: Callable[[], bool], timeout: float = 20
) -> list[RunnerStats]:
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


def ended(db: Database, *job_ids: int) -> Callable[[], bool]:
    return lambda: all(job(db, i).state in job_store.FINAL_STATES for i in job_ids)


def jobs_observed(engine: str, state: str) -> float:
    """How many job durations the metrics histogram holds for the engine and final state."""
    labels = {"engine": engine, "state": state}
    return REGISTRY.get_sample_value("haystack_job_duration_seconds_count", labels) or 0.0


def count_items(db: Database, prefix: str) -> int:
    query = select(func.count()).select_from(items).where(items.c.ItemURI.startswith(prefix))
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_job_runs_every_start_action_and_records_the_outcome(
    db: Database, records: Records
) -> None:
    job_id = queue(db, Seeds, settings={"count": 3}, correlation_id="req-1234")
    durations_before = jobs_observed("jobs-test-seeds", "done")

    (stats,) = asyncio.run(run_until([runner(db, owner="runner-1")], ended(db, job_id)))

    done = job(db, job_id)
    assert (done.state, done.error, done.claimed_by) == ("done", None, "runner-1")
    assert (done.items_stored, done.events_enqueued) == (4, 3)  # seed-many 3 + seed-one 1
    assert done.started is not None
    assert done.finished is not None
    assert count_items(db, PUBLIC_URL) == 4
    assert (stats.claimed, stats.done, stats.failed, stats.items_stored) == (1, 1, 0, 4)
    assert jobs_observed("jobs-test-seeds", "done") == durations_before + 1
    # Every line logged while running it, the engine's own included, carries the request's id.
    work = [r for r in records.seen if getattr(r, "haystack_context", {}).get("job_id") == job_id]
    assert any(r.name == "haystack.engines.jobs-test-seeds" for r in work)
    assert {getattr(r, "correlation_id", None) for r in work} == {"req-1234"}


def test_a_job_naming_an_action_runs_only_that_action(db: Database) -> None:
    job_id = queue(db, Seeds, action="seed-one", settings={"url": "https://one.test"})

    asyncio.run(run_until([runner(db)], ended(db, job_id)))

    done = job(db, job_id)
    assert (done.state, done.items_stored, done.events_enqueued) == ("done", 1, 0)
    assert count_items(db, "https://one.test/") == 1


def test_a_failing_action_fails_the_job_and_keeps_what_it_stored(db: Database) -> None:
    job_id = queue(db, Failing)

    (stats,) = asyncio.run(run_until([runner(db)], ended(db, job_id)))

    failed = job(db, job_id)
    assert failed.state == "failed"
    assert failed.error == "fail: RuntimeError: the source is gone"
    assert failed.items_stored == 1
    assert count_items(db, "https://failing.test/") == 1
    assert (stats.done, stats.failed) == (0, 1)
    assert jobs_observed("jobs-test-failing", "failed") >= 1


def test_settings_the_engine_refuses_fail_the_job(db: Database) -> None:
    job_id = queue(db, Seeds, settings={"count": "many"})

    asyncio.run(run_until([runner(db)], ended(db, job_id)))

    failed = job(db, job_id)
    assert failed.state == "failed"
    assert failed.error is not None
    assert "count: Input should be a valid integer" in failed.error


def test_two_runners_run_each_job_once(db: Database) -> None:
    job_ids = [
        queue(db, Seeds, action="seed-one", settings={"url": f"https://twice.test/{i}"})
        for i in range(12)
    ]

    stats = asyncio.run(
        run_until([runner(db, owner="runner-a"), runner(db, owner="runner-b")], ended(db, *job_ids))
    )

    assert sum(s.claimed for s in stats) == sum(s.done for s in stats) == 12
    assert {job(db, i).state for i in job_ids} == {"done"}
    # One Status row per run of the action: no job ran twice.
    engine_id = Seeds.register(db).engine_id
    with db.read() as conn:
        runs = conn.execute(
            select(func.count()).select_from(status).where(status.c.engineId == engine_id)
        ).scalar_one()
    assert runs == 12
    assert count_items(db, "https://twice.test/") == 12


def test_a_cancelled_job_stops_and_stays_cancelled(db: Database) -> None:
    slow = queue(db, Slow)
    the_runner = runner(db, concurrency=1)

    async def scenario() -> None:
        task = asyncio.create_task(the_runner.run())
        assert await asyncio.to_thread(Gate.entered.wait, 10)
        await asyncio.to_thread(
            db.run, job_store.cancel_jobs, engine_id=Slow.register(db).engine_id
        )
        # The runner notices at its next renewal and frees its slot for the next job.
        nxt = await asyncio.to_thread(queue, db, Seeds, action="seed-one")
        while await asyncio.to_thread(lambda: job(db, nxt).state) != "done":
            await asyncio.sleep(0.05)
        Gate.release.set()  # the abandoned thread ends; its outcome is dropped
        await asyncio.sleep(0.2)
        the_runner.stop()
        await task

    asyncio.run(scenario())

    cancelled = job(db, slow)
    assert (cancelled.state, cancelled.error) == ("cancelled", "engine stopped")
    assert cancelled.items_stored == 0
    assert the_runner.stats.cancelled == 1
    assert the_runner.stats.done == 1


def test_stopping_hands_running_jobs_back_after_the_grace(db: Database) -> None:
    slow = queue(db, Slow)
    the_runner = runner(db, grace=0.1)

    async def scenario() -> None:
        task = asyncio.create_task(the_runner.run())
        assert await asyncio.to_thread(Gate.entered.wait, 10)
        the_runner.stop()
        await task
        Gate.release.set()  # the abandoned thread ends (asyncio.run waits for it)

    asyncio.run(scenario())

    released = job(db, slow)
    assert (released.state, released.claimed_by, released.started) == ("queued", None, None)
    assert the_runner.stats.released == 1


def test_stopping_lets_a_job_finish_within_the_grace(db: Database) -> None:
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

    assert job(db, slow).state == "done"
    assert the_runner.stats.released == 0


def test_a_runner_in_a_thread_runs_jobs_until_the_block_ends(db: Database) -> None:
    job_id = queue(db, Seeds, action="seed-one")
    the_runner = runner(db)

    with the_runner.running_in_thread():
        deadline = time.monotonic() + 20
        while job(db, job_id).state != "done":
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
    job_id = queue(db, Seeds, action="seed-one")
    first = db.run(job_store.claim_jobs, owner="dead", limit=1, lease=timedelta(seconds=-1))
    assert [j.job_id for j in first] == [job_id]

    asyncio.run(run_until([runner(db, owner="heir")], ended(db, job_id)))

    assert (job(db, job_id).state, job(db, job_id).claimed_by) == ("done", "heir")
