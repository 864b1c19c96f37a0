"""The work queue's contract, held by the SQL queue on every database and by the memory double."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events
from haystack_collector.errors import IntegrityViolation
from haystack_collector.queue import MemoryQueue, Outcome, QueuePolicy, SqlQueue, Task, WorkQueue
from haystack_collector.resilience import RetryPolicy
from tests.databases import Baseline, selected_backends
from tests.factories import make_engine

# Short leases and backoffs, so expiry and retries happen within a test.
FAST = QueuePolicy(
    lease=timedelta(seconds=0.5),
    retry=RetryPolicy(attempts=3, initial=0.05, maximum=0.1, jitter=False),
)
_uris = itertools.count(1)


@dataclass
class QueueWorld:
    """A queue plus what a test needs around it: items, an engine/action, pause, errors."""

    queue: WorkQueue
    engine_id: int
    action_id: int
    new_item: Callable[[], int]
    pause: Callable[[bool], None]
    last_error: Callable[[Task], str | None]
    # A database transaction for the *_within operations to join (a scratch SQLite one for
    # the memory double, which has nothing to commit but its own events).
    transaction: Callable[[], AbstractContextManager[Connection]]

    def enqueue(
        self, *item_ids: int, run_after: datetime | None = None, reopen: bool = False
    ) -> int:
        return self.queue.enqueue(
            engine_id=self.engine_id,
            action_id=self.action_id,
            item_ids=list(item_ids),
            run_after=run_after,
            reopen=reopen,
        )


def _memory_world(scratch: Database) -> QueueWorld:
    queue = MemoryQueue(FAST)

    def new_item() -> int:
        item_id = len(queue.items) + 1
        queue.items[item_id] = f"https://queue.test/{next(_uris)}"
        return item_id

    def pause(paused: bool) -> None:
        queue.paused = paused

    return QueueWorld(queue, 1, 1, new_item, pause, queue.last_error, scratch.transaction)


def _sql_world(db: Database) -> QueueWorld:
    with db.transaction() as conn:
        engine = make_engine(conn)

    def new_item() -> int:
        uri = f"https://queue.test/{next(_uris)}"
        return db.run(store.get_or_create_item, uri=uri, engine_id=engine.engine_id).item_id

    def pause(paused: bool) -> None:
        db.run(store.set_config, name="RunQueue", value="0" if paused else "1")

    def last_error(task: Task) -> str | None:
        with db.read() as conn:
            return conn.execute(
                select(item_events.c.itemEventLastError).where(
                    item_events.c.ItemEventId == task.event_id
                )
            ).scalar()

    return QueueWorld(
        SqlQueue(db, FAST),
        engine.engine_id,
        engine.action_id,
        new_item,
        pause,
        last_error,
        db.transaction,
    )


@pytest.fixture(params=["memory", *selected_backends()])
def world(
    request: pytest.FixtureRequest, _migrated: dict[str, tuple[Database, Baseline]]
) -> Iterator[QueueWorld]:
    """The memory double, then the SQL queue on each database (reset after each test)."""
    if request.param == "memory":
        scratch = Database("sqlite://")
        try:
            yield _memory_world(scratch)
        finally:
            scratch.dispose()
        return
    db, baseline = _migrated[request.param]
    try:
        yield _sql_world(db)
    finally:
        baseline.restore(db)


def test_enqueued_events_are_claimed_oldest_first_with_a_lease(world: QueueWorld) -> None:
    first, second = world.new_item(), world.new_item()
    assert world.enqueue(first, second) == 2
    before = datetime.now(UTC)
    tasks = world.queue.claim(owner="worker-1", limit=10)
    assert [task.item_id for task in tasks] == [first, second]
    assert all(task.owner == "worker-1" and task.attempts == 1 for task in tasks)
    assert all(task.lease_until > before for task in tasks)
    assert tasks[0].uri.startswith("https://queue.test/")


def test_enqueueing_twice_queues_once(world: QueueWorld) -> None:
    item = world.new_item()
    assert world.enqueue(item) == 1
    assert world.enqueue(item) == 0
    assert len(world.queue.claim(owner="w")) == 1


def test_an_event_for_an_unknown_item_is_refused(world: QueueWorld) -> None:
    with pytest.raises(IntegrityViolation):
        world.enqueue(987_654)


def test_claimed_events_are_not_claimed_again_while_leased(world: QueueWorld) -> None:
    world.enqueue(world.new_item(), world.new_item(), world.new_item())
    first = world.queue.claim(owner="a", limit=2)
    second = world.queue.claim(owner="b", limit=10)
    assert len(first) == 2
    assert len(second) == 1
    assert {j.event_id for j in first}.isdisjoint({j.event_id for j in second})
    assert world.queue.claim(owner="c") == []


def test_finished_events_are_done_for_good(world: QueueWorld) -> None:
    item = world.new_item()
    world.enqueue(item)
    (task,) = world.queue.claim(owner="w")
    assert world.queue.finish(task)
    assert not world.queue.finish(task)
    assert world.queue.claim(owner="w") == []
    assert world.enqueue(item) == 0  # done work is not queued again...
    world.enqueue(item, reopen=True)  # ...unless asked to run once more
    assert len(world.queue.claim(owner="w")) == 1


def test_an_expired_lease_makes_the_event_claimable_again(world: QueueWorld) -> None:
    world.enqueue(world.new_item())
    (lost,) = world.queue.claim(owner="crashed")
    time.sleep(FAST.lease.total_seconds() + 0.1)
    (again,) = world.queue.claim(owner="survivor")
    assert again.event_id == lost.event_id
    assert again.attempts == 2
    assert world.queue.finish(again)
    assert not world.queue.finish(lost)  # the first worker's late finish changes nothing


def test_failures_are_retried_after_a_backoff_then_dead_with_the_last_error(
    world: QueueWorld,
) -> None:
    world.enqueue(world.new_item())
    outcomes = []
    for attempt in range(1, FAST.max_attempts + 1):
        deadline = time.monotonic() + 2
        tasks: list[Task] = []
        while not tasks and time.monotonic() < deadline:
            tasks = world.queue.claim(owner="w")
            if not tasks:
                time.sleep(0.02)
        (task,) = tasks
        assert task.attempts == attempt
        if attempt == 1:
            assert world.queue.claim(owner="w") == []  # not due again at once
        outcomes.append(world.queue.retry(task, error=f"boom {attempt}"))
    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.DEAD]
    assert world.last_error(task) == "boom 3"
    time.sleep(0.15)
    assert world.queue.claim(owner="w") == []  # dead events stay put
    world.enqueue(task.item_id, reopen=True)  # retried by hand
    (revived,) = world.queue.claim(owner="w")
    assert revived.attempts == 1


def test_several_tasks_finish_in_one_go(world: QueueWorld) -> None:
    world.enqueue(*(world.new_item() for _ in range(5)))
    tasks = world.queue.claim(owner="w", limit=5)
    assert world.queue.finish(*tasks[:2]) == 2
    assert world.queue.finish(*tasks) == 3  # the first two were done already
    assert world.queue.finish() == 0
    assert world.queue.claim(owner="w") == []


def test_a_late_retry_of_finished_work_is_gone(world: QueueWorld) -> None:
    world.enqueue(world.new_item())
    (task,) = world.queue.claim(owner="w")
    world.queue.finish(task)
    assert world.queue.retry(task, error="late") is Outcome.GONE


def test_released_tasks_are_claimable_at_once_without_using_an_attempt(world: QueueWorld) -> None:
    world.enqueue(world.new_item())
    (task,) = world.queue.claim(owner="stopping")
    assert world.queue.release(task)
    (again,) = world.queue.claim(owner="next")
    assert again.attempts == 1
    assert not world.queue.release(task)  # no longer ours


def test_a_paused_queue_hands_out_nothing(world: QueueWorld) -> None:
    world.enqueue(world.new_item())
    world.pause(True)
    assert world.queue.claim(owner="w") == []
    world.pause(False)
    assert len(world.queue.claim(owner="w")) == 1


def test_claims_can_be_limited_to_an_engine_and_actions(world: QueueWorld) -> None:
    item = world.new_item()
    world.enqueue(item)
    assert world.queue.claim(owner="w", engine_id=world.engine_id + 1000) == []
    assert world.queue.claim(owner="w", action_ids=[]) == []
    assert world.queue.claim(owner="w", action_ids=[world.action_id + 1000]) == []
    assert len(world.queue.claim(owner="w", action_ids=[world.action_id])) == 1


def test_events_due_later_wait_their_turn(world: QueueWorld) -> None:
    later = world.new_item()
    now = world.new_item()
    world.enqueue(later, run_after=datetime.now(UTC) + timedelta(seconds=0.3))
    world.enqueue(now)
    assert [task.item_id for task in world.queue.claim(owner="w")] == [now]
    time.sleep(0.35)
    assert [task.item_id for task in world.queue.claim(owner="w")] == [later]


def test_concurrent_workers_each_get_distinct_events(world: QueueWorld) -> None:
    # Distinct claims are the point, not expiry: on a busy machine a 0.5 s lease can run out
    # between a claim and its finish, and then handing the event out again is right.
    assert isinstance(world.queue, MemoryQueue | SqlQueue)
    world.queue.policy = dataclasses.replace(FAST, lease=timedelta(minutes=5))
    items = [world.new_item() for _ in range(120)]
    world.enqueue(*items)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while True:
            tasks = world.queue.claim(owner=name, limit=7)
            if not tasks:
                return
            for task in tasks:
                world.queue.finish(task)
            with lock:
                claimed.extend(task.event_id for task in tasks)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 120


class _RolledBack(Exception):
    pass


def _rolled_back(world: QueueWorld, work: Callable[[Connection], int]) -> int:
    """What ``work`` answered inside a transaction that then failed, and so rolled back."""
    answers: list[int] = []

    def fail() -> None:
        with world.transaction() as conn:
            answers.append(work(conn))
            raise _RolledBack

    with pytest.raises(_RolledBack):
        fail()
    return answers[0]


def test_finishing_inside_a_transaction_takes_effect_when_it_commits(world: QueueWorld) -> None:
    world.enqueue(world.new_item(), world.new_item())
    done, kept = world.queue.claim(owner="w", limit=2)
    # The caller's work failed: its event stays pending.
    assert _rolled_back(world, lambda conn: world.queue.finish_within(conn, kept)) == 1
    with world.transaction() as conn:
        assert world.queue.finish_within(conn, done) == 1
    assert not world.queue.finish(done)  # finished with the transaction
    assert world.queue.finish(kept)  # still pending after the rollback


def test_enqueueing_inside_a_transaction_takes_effect_when_it_commits(world: QueueWorld) -> None:
    lost, kept = world.new_item(), world.new_item()
    within = {"engine_id": world.engine_id, "action_id": world.action_id}
    assert _rolled_back(world, lambda c: world.queue.enqueue_within(c, **within, item_ids=[lost]))
    assert world.queue.claim(owner="w") == []
    with world.transaction() as conn:
        assert world.queue.enqueue_within(conn, **within, item_ids=[kept]) == 1
    (task,) = world.queue.claim(owner="w")
    assert task.item_id == kept
    with world.transaction() as conn:  # already queued: nothing new
        assert world.queue.enqueue_within(conn, **within, item_ids=[kept]) == 0
