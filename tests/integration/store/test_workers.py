"""The Workers table keeps recent workers and forgets the long gone (``WORKER_RETENTION``)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from haystack_collector.db import Database
from haystack_collector.db.schema import workers
from haystack_collector.store._sql import utcnow
from haystack_collector.store.workers import (
    WORKER_RETENTION,
    heartbeat_worker,
    list_workers,
    prune_workers,
    register_worker,
)


def worker_last_seen(db: Database, owner: str, ago: timedelta, *, state: str = "stopped") -> None:
    """A Workers row of ``owner`` whose last heartbeat was ``ago``."""
    db.run(register_worker, owner=owner, host="box", pid=1)
    db.run(heartbeat_worker, owner=owner, finished=1, failed=0, stats={}, state=state)
    db.run(
        lambda conn: conn.execute(
            update(workers).where(workers.c.workerOwner == owner).values(workerSeen=utcnow() - ago)
        )
    )


def owners(db: Database) -> set[str]:
    return {row.owner for row in db.run_read(list_workers)}


def test_rows_of_workers_unseen_beyond_the_retention_are_deleted(db: Database) -> None:
    worker_last_seen(db, "gone-long-ago", WORKER_RETENTION + timedelta(days=30))
    worker_last_seen(db, "died-last-week", WORKER_RETENTION + timedelta(hours=1), state="running")
    worker_last_seen(db, "stopped-yesterday", timedelta(days=1))
    worker_last_seen(db, "alive", timedelta(0), state="running")

    assert db.run(prune_workers) == 2

    assert owners(db) == {"stopped-yesterday", "alive"}
    assert db.run(prune_workers) == 0  # nothing more to do


def test_an_explicit_cutoff_wins_over_the_retention(db: Database) -> None:
    worker_last_seen(db, "an-hour-ago", timedelta(hours=1))
    worker_last_seen(db, "alive", timedelta(0), state="running")

    assert db.run(prune_workers, seen_before=utcnow() - timedelta(minutes=30)) == 1

    assert owners(db) == {"alive"}


def test_a_pruned_worker_registers_again_on_its_next_heartbeat(db: Database) -> None:
    worker_last_seen(db, "napper", WORKER_RETENTION + timedelta(days=1), state="running")
    db.run(prune_workers)

    assert not db.run(heartbeat_worker, owner="napper", finished=2, failed=0, stats={})
    db.run(register_worker, owner="napper")
    assert owners(db) == {"napper"}
