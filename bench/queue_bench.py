"""Queue benchmark: claim + finish throughput with 1 and 4 worker processes.

    .venv/bin/python bench/queue_bench.py [--events 5000] [--workers 1,4] [--backends mariadb]
                                          [--batch 50]

Each run queues ``--events`` events in a fresh database (``haystack_bench_queue`` on the server,
dropped and created again), then starts worker processes that claim ``--batch`` events at a time
and finish them until none is left: one ``finish`` per job (``each``), or one per claimed batch
(``batch``, as a worker that commits completions together does). Prints events/s per worker count
and checks every event was finished exactly once. Target: >= 2,000 events/s with 4 workers on
MariaDB. Not a test: pytest never collects this folder.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from _servers import recreate  # bench/ is on sys.path when a bench runs
from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.migrate import upgrade
from haystack_collector.db.schema import item_events
from haystack_collector.queue import SqlQueue
from haystack_collector.store import ItemRecord

DATABASE = "haystack_bench_queue"
TARGET = {("mariadb", 4): 2_000.0}


def fresh_url(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'queue.db'}"
    return recreate(backend, DATABASE).render_as_string(hide_password=False)


def seed(url: str, events: int) -> tuple[int, int]:
    db = Database(url)
    try:
        upgrade(db)
        with db.transaction() as conn:
            engine_id = store.register_engine(conn, name="QueueBench", version="1")
            action_id = store.register_action(conn, name="extractor")
        for start in range(0, events, 1000):
            records = [
                ItemRecord(uri=f"https://bench.example/q/{n}", events=[action_id])
                for n in range(start, min(start + 1000, events))
            ]
            db.run(store.store_items, engine_id=engine_id, records=records)
        return engine_id, action_id
    finally:
        db.dispose()


def worker(
    url: str, name: str, batch: int, per_job: bool, start_at: float, counts: dict[str, int]
) -> None:
    db = Database(url, pool_size=2, max_overflow=0)
    queue = SqlQueue(db)
    done = 0
    while time.time() < start_at:
        time.sleep(0.001)
    while jobs := queue.claim(owner=name, limit=batch):
        if per_job:
            for job in jobs:
                done += queue.finish(job)
        else:
            done += queue.finish(*jobs)
    counts[name] = done
    db.dispose()


def run(url: str, workers: int, batch: int, per_job: bool) -> tuple[float, int]:
    with multiprocessing.Manager() as manager:
        counts = manager.dict()
        start_at = time.time() + 1.0  # every process connected and waiting
        processes = [
            multiprocessing.Process(
                target=worker, args=(url, f"w{n}", batch, per_job, start_at, counts)
            )
            for n in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=600)
        elapsed = time.time() - start_at
        return elapsed, sum(counts.values())


def finished(url: str) -> tuple[int, int]:
    db = Database(url)
    try:
        with db.read() as conn:
            done = conn.execute(
                select(func.count()).where(item_events.c.itemEventDate.is_not(None))
            ).scalar_one()
            total = conn.execute(select(func.count()).select_from(item_events)).scalar_one()
        return int(done), int(total)
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--backends", default="mariadb")
    parser.add_argument("--batch", type=int, default=50, help="events per claim")
    parser.add_argument(
        "--finish", default="each,batch", help="each: one finish per job; batch: per claim"
    )
    args = parser.parse_args()
    summary = []
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            for mode in args.finish.split(","):
                for workers in (int(n) for n in args.workers.split(",")):
                    Path(folder, "queue.db").unlink(missing_ok=True)
                    url = fresh_url(backend, Path(folder))
                    seed(url, args.events)
                    elapsed, count = run(url, workers, args.batch, per_job=mode == "each")
                    done, total = finished(url)
                    if not count == done == total == args.events:
                        raise SystemExit(f"lost or doubled work: {count=} {done=} {total=}")
                    rate = count / elapsed
                    target = TARGET.get((backend, workers))
                    verdict = ""
                    if target is not None:
                        verdict = f"target >= {target:,.0f} {'PASS' if rate >= target else 'FAIL'}"
                    print(
                        f"{backend:<11} finish {mode:<5} {workers} worker(s)  {count:,} events"
                        f"  {elapsed:6.2f} s  {rate:8,.0f} events/s  {verdict}"
                    )
                    summary.append(f"{backend} {mode} x{workers} {rate:,.0f}/s {verdict}".strip())
    print("SUMMARY: " + "; ".join(summary))


if __name__ == "__main__":
    main()
