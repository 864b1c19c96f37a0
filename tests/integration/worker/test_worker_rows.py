"""A running worker deletes the Workers rows of long-gone workers as part of its heartbeat."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import update

from haystack_collector.db import Database
from haystack_collector.db.schema import workers
from haystack_collector.queue import SqlQueue
from haystack_collector.store._sql import utcnow
from haystack_collector.store.workers import (
    WORKER_RETENTION,
    heartbeat_worker,
    list_workers,
    register_worker,
)
from haystack_collector.worker import Worker, process_identity
from tests.integration.worker.test_worker_processes import counts, enqueue_pages
from tests.worker_engines import Pages


def old_worker(db: Database, owner: str, ago: timedelta) -> None:
    db.run(register_worker, owner=owner)
    db.run(
        lambda conn: conn.execute(
            update(workers).where(workers.c.workerOwner == owner).values(workerSeen=utcnow() - ago)
        )
    )


async def run_briefly(worker: Worker) -> None:
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.3)  # several heartbeats
    finally:
        worker.stop()
        await task


async def test_a_running_worker_prunes_long_gone_workers_and_keeps_the_rest(db: Database) -> None:
    old_worker(db, "gone", WORKER_RETENTION + timedelta(days=1))
    old_worker(db, "recent", timedelta(days=2))
    worker = Worker(db, SqlQueue(db), [], idle_sleep=0.02, heartbeat_every=0.02)
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(200):  # the first heartbeat prunes; a busy machine may take a while
            await asyncio.sleep(0.02)
            if "gone" not in await owners(db):
                break
    finally:
        worker.stop()
        await task

    assert await owners(db) == {"recent", worker.owner}


async def owners(db: Database) -> set[str]:
    return {row.owner for row in await asyncio.to_thread(db.run_read, list_workers)}


async def test_pruning_runs_at_most_once_per_prune_period(db: Database) -> None:
    old_worker(db, "gone-before", WORKER_RETENTION + timedelta(days=1))
    worker = Worker(db, SqlQueue(db), [], idle_sleep=0.02, heartbeat_every=0.02, prune_every=3600)
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(200):  # the first heartbeat prunes
            await asyncio.sleep(0.02)
            if "gone-before" not in await owners(db):
                break
        assert "gone-before" not in await owners(db)
        # A row going stale after that first pass waits for the next one, an hour away.
        await asyncio.to_thread(old_worker, db, "gone-after", WORKER_RETENTION + timedelta(days=1))
        await asyncio.sleep(0.2)  # many heartbeats
        assert "gone-after" in await owners(db)
    finally:
        worker.stop()
        await task


async def test_a_worker_releases_the_claims_of_one_unseen_for_its_stall_timeout(
    db: Database,
) -> None:
    """The stall timeout decides: at 60 s a 2 s silence is not death; at 1 s it is."""
    enqueue_pages(db, 4)
    old_worker(db, "crashed:1:aa", timedelta(0))
    held = await asyncio.to_thread(SqlQueue(db).claim, owner="crashed:1:aa", limit=4)
    assert len(held) == 4
    old_worker(db, "crashed:1:aa", timedelta(seconds=2))  # registered again, seen 2 s ago

    patient = Worker(db, SqlQueue(db), [Pages], stall_timeout=60, idle_sleep=0.02)
    await run_briefly(patient)
    assert (await asyncio.to_thread(counts, db))["claimed"] == 4

    quick = Worker(
        db, SqlQueue(db), [Pages], drain=True, stall_timeout=1, idle_sleep=0.02, finish_flush=0.02
    )
    stats = await asyncio.wait_for(quick.run(), 30)
    assert stats.finished == 4
    assert await asyncio.to_thread(counts, db) == {
        "pending": 0,
        "claimed": 0,
        "done": 4,
        "dead": 0,
    }


async def test_a_worker_whose_process_is_gone_from_this_machine_is_dead_at_once(
    db: Database,
) -> None:
    """Same boot and pid namespace, no such pid: dead now, the stall timeout (an hour here)
    does not matter. A pid from another namespace, or a live one, proves nothing."""
    here = process_identity()
    assert here is not None, "Linux records its boot and pid namespace"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child.kill()
    child.wait()
    elsewhere = {**here, "pid_namespace": "pid:[1]"}
    rows = {"gone:1:aa": (child.pid, here), "other:2:bb": (child.pid, elsewhere)}
    rows["alive:3:cc"] = (os.getppid(), here)
    enqueue_pages(db, len(rows))
    for owner, (pid, process) in rows.items():
        db.run(register_worker, owner=owner, pid=pid)
        db.run(heartbeat_worker, owner=owner, finished=0, failed=0, stats={"process": process})
        assert len(await asyncio.to_thread(SqlQueue(db).claim, owner=owner, limit=1)) == 1

    await run_briefly(Worker(db, SqlQueue(db), [], idle_sleep=0.02, stall_timeout=3600))

    states = {row.owner: row.state for row in await asyncio.to_thread(db.run_read, list_workers)}
    assert {owner: states[owner] for owner in rows} == {
        "gone:1:aa": "dead",
        "other:2:bb": "running",
        "alive:3:cc": "running",
    }
    assert (await asyncio.to_thread(counts, db))["claimed"] == 2  # the gone one's is free
