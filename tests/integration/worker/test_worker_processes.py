"""Workers on real databases: draining, kill -9 crash safety, SIGTERM, scale-out."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_data, item_events, items
from haystack_collector.queue import SqlQueue
from haystack_collector.store import EventSpec, ItemRecord
from haystack_collector.worker import Worker
from tests.databases import migrated_database, recreate_server_database, selected_backends
from tests.worker_engines import RUN_KEY, SLEEP_ENV, Pages

ROOT = Path(__file__).resolve().parents[3]
CRASH_BACKENDS = [b for b in selected_backends() if b in ("sqlite", "mariadb")]
SERVER_BACKENDS = [b for b in selected_backends() if b != "sqlite"]


def enqueue_pages(db: Database, n: int) -> list[int]:
    registered = Pages.register(db)
    uris = [f"https://pages.test/{i}" for i in range(n)]
    result = db.run(
        store.store_items,
        engine_id=registered.engine_id,
        records=[ItemRecord(uri=uri) for uri in uris],
    )
    action_id = registered.action_ids["pages-store"]
    ids = [result.item_ids[uri] for uri in uris]
    db.run(
        store.enqueue_events, events=[EventSpec(registered.engine_id, action_id, i) for i in ids]
    )
    return ids


def counts(db: Database) -> dict[str, int]:
    engine_id = Pages.register(db).engine_id
    with db.read() as conn:
        return store.event_counts(conn, engine_id=engine_id)


def runs_per_item(db: Database, item_ids: list[int]) -> dict[int, int]:
    query = (
        select(item_data.c.itemId, func.count())
        .where(item_data.c.itemData == RUN_KEY, item_data.c.itemId.in_(item_ids))
        .group_by(item_data.c.itemId)
    )
    with db.read() as conn:
        return {int(item): int(n) for item, n in conn.execute(query).all()}


def duplicate_uris(db: Database) -> int:
    query = select(items.c.ItemURI).group_by(items.c.ItemURI).having(func.count() > 1)
    with db.read() as conn:
        return len(conn.execute(query).all())


def start_worker(url: str, *args: str, sleep: float = 0.0) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        SLEEP_ENV: str(sleep),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    command = [sys.executable, "-m", "tests.worker_engines", "--database-url", url, "worker"]
    return subprocess.Popen(
        [*command, "--no-scheduler", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=10)


def wait_until_done(db: Database, at_least: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while counts(db)["done"] < at_least:
        assert time.monotonic() < deadline, f"not {at_least} done in {timeout}s: {counts(db)}"
        time.sleep(0.05)


@pytest.fixture(params=CRASH_BACKENDS)
def scratch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, str]]:
    """A private database (workers in other processes share it): SQLite file or MariaDB."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'worker.db'}"
    else:
        url = recreate_server_database(request.param, "haystack_worker_test").render_as_string(
            hide_password=False
        )
    with migrated_database(url) as db:
        yield db, url


@pytest.fixture(params=SERVER_BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Database, str]]:
    url = recreate_server_database(request.param, "haystack_worker_scale").render_as_string(
        hide_password=False
    )
    with migrated_database(url) as db:
        yield db, url


def test_a_worker_drains_every_event_once(db: Database) -> None:
    ids = enqueue_pages(db, 60)
    the_worker = Worker(
        db, SqlQueue(db), [Pages], concurrency=4, drain=True, idle_sleep=0.05, finish_flush=0.05
    )
    stats = asyncio.run(asyncio.wait_for(the_worker.run(), 30))
    assert stats.finished == 60
    assert counts(db) == {"pending": 0, "claimed": 0, "done": 60, "dead": 0}
    assert runs_per_item(db, ids) == dict.fromkeys(ids, 1)


def test_kill_9_mid_way_then_a_new_worker_loses_and_duplicates_nothing(
    scratch: tuple[Database, str],
) -> None:
    db, url = scratch
    ids = enqueue_pages(db, 300)
    # 300 tasks of 50 ms on 4 slots take about 4 s: the kill at 40 done always lands mid-way.
    first = start_worker(url, "--drain", "--lease", "1", "-c", "4", sleep=0.05)
    try:
        wait_until_done(db, 40)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first)
    assert counts(db)["done"] < 300, "the first worker finished before it was killed"
    time.sleep(1.1)  # the dead worker's leases run out
    second = start_worker(url, "--drain", "--lease", "30", "-c", "4")
    try:
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
    finally:
        stop(second)
    assert counts(db) == {"pending": 0, "claimed": 0, "done": 300, "dead": 0}
    runs = runs_per_item(db, ids)
    assert set(runs) == set(ids)  # every page ran; reruns only of the killed worker's tasks
    assert duplicate_uris(db) == 0
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(item_events)).scalar() == 300


def test_sigterm_stops_gracefully_and_leaves_nothing_claimed(
    scratch: tuple[Database, str],
) -> None:
    db, url = scratch
    enqueue_pages(db, 300)
    process = start_worker(url, "--lease", "60", "-c", "4", "--grace", "5", sleep=0.02)
    try:
        wait_until_done(db, 20)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
    finally:
        stop(process)
    after = counts(db)
    assert after["claimed"] == 0
    assert after["done"] + after["pending"] == 300
    assert after["dead"] == 0


def test_four_workers_share_a_server_database_and_run_each_event_once(
    server: tuple[Database, str],
) -> None:
    db, url = server
    ids = enqueue_pages(db, 5000)
    workers = [start_worker(url, "--drain", "-c", "8") for _ in range(4)]
    try:
        for process in workers:
            _, err = process.communicate(timeout=240)
            assert process.returncode == 0, err
    finally:
        for process in workers:
            stop(process)
    assert counts(db) == {"pending": 0, "claimed": 0, "done": 5000, "dead": 0}
    runs = runs_per_item(db, ids)
    assert runs == dict.fromkeys(ids, 1)
