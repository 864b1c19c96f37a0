"""A worker killed on one "host" is judged dead by a worker on another once it missed its
heartbeats for the stall timeout; the other releases its claims and finishes everything,
long before the killed worker's leases would have run out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from haystack_collector.db import Database
from haystack_collector.db.schema import item_events
from haystack_collector.store.workers import list_workers
from tests.databases import migrated_database, recreate_server_database
from tests.factories import as_if_on_another_machine
from tests.integration.worker.test_worker_processes import (
    SERVER_BACKENDS,
    counts,
    duplicate_uris,
    enqueue_pages,
    runs_per_item,
    wait_until_done,
)
from tests.worker_engines import SLEEP_ENV

ROOT = Path(__file__).resolve().parents[3]
STALL = 2.0  # HAYSTACK_WORKER_STALL_TIMEOUT, seconds
LEASE = "600"  # the killed worker's claims would wait 10 minutes for their lease


def start_worker(url: str, name: str, *, sleep: float) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        SLEEP_ENV: str(sleep),
        # This checkout's source first, whatever the environment installed.
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "HAYSTACK_WORKER_NAME": name,
        "HAYSTACK_WORKER_STALL_TIMEOUT": str(STALL),
    }
    command = [sys.executable, "-m", "tests.worker_engines", "--database-url", url, "worker"]
    return subprocess.Popen(
        [*command, "--no-scheduler", "--drain", "--lease", LEASE, "-c", "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def held_by(db: Database, prefix: str) -> int:
    e = item_events.c
    query = (
        select(func.count())
        .select_from(item_events)
        .where(e.itemEventDate.is_(None), e.itemEventClaimedBy.startswith(prefix))
    )
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_a_worker_on_another_host_releases_a_killed_workers_claims_after_the_stall_timeout(
    backend: str,
) -> None:
    url = recreate_server_database(backend, "haystack_dead_worker").render_as_string(
        hide_password=False
    )
    with migrated_database(url) as db:
        ids = enqueue_pages(db, 300)
        first = start_worker(url, "host-a", sleep=0.05)
        try:
            wait_until_done(db, 40, timeout=60)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=10)
        held = held_by(db, "host-a:")
        as_if_on_another_machine(db, "host-a:")
        assert held > 0, "the killed worker held nothing: nothing to recover"

        started = time.monotonic()
        second = start_worker(url, "host-b", sleep=0.0)
        try:
            _, err = second.communicate(timeout=120)
            assert second.returncode == 0, err
        finally:
            if second.poll() is None:
                second.kill()
                second.communicate(timeout=10)
        took = time.monotonic() - started

        assert counts(db) == {"pending": 0, "claimed": 0, "done": 300, "dead": 0}
        runs = runs_per_item(db, ids)
        assert set(runs) == set(ids)
        assert sum(n - 1 for n in runs.values()) <= held  # reruns only of what it held
        assert duplicate_uris(db) == 0
        # The stall timeout decided, not the lease: 260 tasks of no time take a few seconds.
        assert took < STALL + 30, took
        rows = {row.owner.split(":")[0]: row for row in db.run_read(list_workers)}
        assert rows["host-a"].state == "dead"
        assert rows["host-b"].state == "stopped"
        assert rows["host-b"].host == "host-b"
