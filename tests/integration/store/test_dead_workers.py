"""Crash recovery in the store: a worker unseen for the stall timeout is dead, and its claims
are released for any other worker (``release_dead_workers``), on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events, workers
from haystack_collector.store import EventSpec, ItemRecord
from haystack_collector.store.workers import (
    claims_of_running_workers,
    database_now,
    heartbeat_worker,
    list_workers,
    register_worker,
    release_dead_workers,
)
from tests.factories import EngineFixture, make_engine, make_uri

STALL = timedelta(seconds=30)
LEASE = timedelta(minutes=5)


def seen_ago(db: Database, owner: str, ago: timedelta) -> None:
    """Move ``owner``'s last heartbeat ``ago`` into the past, in the database's clock."""
    db.run(
        lambda conn: conn.execute(
            update(workers)
            .where(workers.c.workerOwner == owner)
            .values(workerSeen=database_now(conn) - ago)
        )
    )


def queue_events(db: Database, engine: EngineFixture, n: int) -> list[int]:
    uris = [make_uri("https://dead-workers.test/page") for _ in range(n)]
    result = db.run(
        store.store_items, engine_id=engine.engine_id, records=[ItemRecord(uri=u) for u in uris]
    )
    db.run(
        store.enqueue_events,
        events=[EventSpec(engine.engine_id, engine.action_id, result.item_ids[u]) for u in uris],
    )
    return [result.item_ids[u] for u in uris]


def claim(db: Database, engine: EngineFixture, owner: str, limit: int) -> list[int]:
    lease_until = datetime.now(UTC) + LEASE
    claimed = db.run(
        store.claim_events,
        owner=owner,
        lease_until=lease_until,
        limit=limit,
        engine_id=engine.engine_id,
    )
    return [event.event_id for event in claimed]


def holders(db: Database, event_ids: list[int]) -> dict[int, str | None]:
    e = item_events.c
    query = select(e.ItemEventId, e.itemEventClaimedBy).where(e.ItemEventId.in_(event_ids))
    with db.read() as conn:
        return {int(event): owner for event, owner in conn.execute(query).all()}


def states(db: Database) -> dict[str, str]:
    return {row.owner: row.state for row in db.run_read(list_workers)}


def test_a_stale_worker_is_dead_and_only_its_pending_claims_are_released(db: Database) -> None:
    engine = db.run(make_engine)
    queue_events(db, engine, 8)
    for owner in ("dead-host:1:aa", "live-host:2:bb"):
        db.run(register_worker, owner=owner, host=owner.split(":")[0], pid=1)
    dead = claim(db, engine, "dead-host:1:aa", 3)
    live = claim(db, engine, "live-host:2:bb", 2)
    never_registered = claim(db, engine, "nobody:3:cc", 2)
    # One of the dead worker's events was finished before it died: it stays done.
    db.run(store.finish_claimed, event_ids=dead[:1])
    seen_ago(db, "dead-host:1:aa", STALL + timedelta(seconds=5))
    seen_ago(db, "live-host:2:bb", STALL - timedelta(seconds=5))

    released = db.run(release_dead_workers, stall_timeout=STALL)

    assert released.owners == ["dead-host:1:aa"]
    assert released.events == 2
    owners = holders(db, dead + live + never_registered)
    assert [owners[e] for e in dead[1:]] == [None, None]
    assert [owners[e] for e in live] == ["live-host:2:bb"] * 2
    # No Workers row: nothing says it died, so its lease decides.
    assert [owners[e] for e in never_registered] == ["nobody:3:cc"] * 2
    assert states(db) == {"dead-host:1:aa": "dead", "live-host:2:bb": "running"}
    # The released events are claimable by anyone, at once; the done one is not.
    rescued = claim(db, engine, "other-host:4:dd", 10)
    assert set(dead[1:]) <= set(rescued)
    assert len(rescued) == 3  # and the one event nobody had claimed yet
    # Judged once: a second look releases nothing more.
    assert db.run(release_dead_workers, stall_timeout=STALL).owners == []


def test_the_caller_and_stopped_workers_are_never_judged(db: Database) -> None:
    engine = db.run(make_engine)
    queue_events(db, engine, 2)
    db.run(register_worker, owner="me:1:aa")
    db.run(register_worker, owner="quit:2:bb")
    mine = claim(db, engine, "me:1:aa", 1)
    db.run(heartbeat_worker, owner="quit:2:bb", finished=0, failed=0, stats={}, state="stopped")
    seen_ago(db, "me:1:aa", timedelta(hours=1))
    seen_ago(db, "quit:2:bb", timedelta(hours=1))

    released = db.run(release_dead_workers, stall_timeout=STALL, alive="me:1:aa")

    assert released.owners == []
    assert holders(db, mine) == {mine[0]: "me:1:aa"}
    assert states(db) == {"me:1:aa": "running", "quit:2:bb": "stopped"}


def test_a_dead_worker_that_comes_back_runs_again_and_its_late_finish_is_harmless(
    db: Database,
) -> None:
    engine = db.run(make_engine)
    queue_events(db, engine, 1)
    db.run(register_worker, owner="slow:1:aa")
    [event] = claim(db, engine, "slow:1:aa", 1)
    seen_ago(db, "slow:1:aa", STALL * 2)
    assert db.run(release_dead_workers, stall_timeout=STALL).events == 1
    assert claim(db, engine, "rescuer:2:bb", 1) == [event]
    assert db.run(store.finish_claimed, event_ids=[event]) == 1  # the rescuer's finish

    # The hung worker wakes up: its heartbeat makes it running again, and finishing the
    # event it had held changes nothing (already done).
    assert db.run(heartbeat_worker, owner="slow:1:aa", finished=1, failed=0, stats={})
    assert states(db)["slow:1:aa"] == "running"
    assert db.run(store.finish_claimed, event_ids=[event]) == 0
    counts = db.run_read(store.event_counts, engine_id=engine.engine_id)
    assert counts == {"pending": 0, "claimed": 0, "done": 1, "dead": 0}


def test_claims_of_running_workers_count_what_a_drain_waits_for(db: Database) -> None:
    engine = db.run(make_engine)
    queue_events(db, engine, 6)
    db.run(register_worker, owner="me:1:aa")
    db.run(register_worker, owner="peer:2:bb")
    db.run(register_worker, owner="quit:3:cc")
    claim(db, engine, "me:1:aa", 1)
    claim(db, engine, "peer:2:bb", 2)
    claim(db, engine, "nobody:4:dd", 1)
    claim(db, engine, "quit:3:cc", 1)
    db.run(heartbeat_worker, owner="quit:3:cc", finished=0, failed=0, stats={}, state="stopped")

    assert db.run_read(claims_of_running_workers, other_than="me:1:aa") == 2
    assert db.run_read(claims_of_running_workers) == 3
    assert db.run_read(claims_of_running_workers, engine_ids=[engine.engine_id]) == 3
    assert db.run_read(claims_of_running_workers, engine_ids=[engine.engine_id + 1]) == 0


def test_heartbeats_are_written_in_the_database_clock(db: Database) -> None:
    db.run(register_worker, owner="clock:1:aa")
    with db.read() as conn:
        now = database_now(conn)
        seen = conn.execute(
            select(workers.c.workerSeen).where(workers.c.workerOwner == "clock:1:aa")
        ).scalar_one()
    assert now.tzinfo is None
    assert timedelta(0) <= now - seen < timedelta(seconds=5)
    # The database runs on this machine here: its clock and ours agree.
    assert abs(now - datetime.now(UTC).replace(tzinfo=None)) < timedelta(seconds=5)


def test_a_worker_known_gone_is_dead_whatever_its_last_heartbeat(db: Database) -> None:
    engine = db.run(make_engine)
    queue_events(db, engine, 2)
    db.run(register_worker, owner="gone:1:aa")
    db.run(register_worker, owner="me:2:bb")
    claim(db, engine, "gone:1:aa", 1)
    mine = claim(db, engine, "me:2:bb", 1)

    released = db.run(
        release_dead_workers, stall_timeout=STALL, alive="me:2:bb", gone=["gone:1:aa", "me:2:bb"]
    )

    assert (released.owners, released.events) == (["gone:1:aa"], 1)
    assert holders(db, mine) == {mine[0]: "me:2:bb"}  # never the caller itself
    assert states(db) == {"gone:1:aa": "dead", "me:2:bb": "running"}
