"""Store benchmark: the batch API against the legacy one-call-per-row API, and the pool.

    .venv/bin/python bench/store_bench.py [--items N] [--backends sqlite,mariadb,postgresql]
                                          [--queries 2000] [--batch-size 1000] [--profile]

(a) Insert N items, each with 5 ItemData rows, 1 link and 1 event: through
    ``store.store_items`` (``--batch-size`` items per transaction), then through PeregrinDB
    (addItem + 5x addItemData + addItemLink + addItemEvent, one transaction each) for N/5
    items. Each run gets a fresh database: SQLite in a temporary folder, ``haystack_bench`` on
    the MariaDB and PostgreSQL servers (dropped and created again; never a test database).
(b) On MariaDB, ``--queries`` config lookups through the pool (one Database, a checkout per
    query) against a new pymysql connection per query.

Targets: batch >= 20,000 items/s on SQLite and >= 5,000 on MariaDB; pooled >= 2x per-query
connections. ``--profile`` prints where the batch API's time goes (cProfile). Not a test:
pytest never collects this folder.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pymysql
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL, make_url

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.migrate import upgrade
from haystack_collector.db.schema import item_data, item_events, item_links, items
from haystack_collector.legacy import PeregrinDB

BENCH_DATABASE = "haystack_bench"
SERVERS = {
    "mariadb": os.environ.get("HAYSTACK_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306"),
    "postgresql": os.environ.get(
        "HAYSTACK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
    ),
}
BATCH_TARGETS = {"sqlite": 20_000.0, "mariadb": 5_000.0}
POOL_RATIO_TARGET = 2.0
HUB = "https://bench.example/index"


@dataclass
class Outcome:
    label: str
    ok: bool


# Databases -----------------------------------------------------------------------------------


@contextmanager
def fresh_database(backend: str, folder: Path, run: str) -> Iterator[Database]:
    """An empty, migrated database of its own for one run."""
    if backend == "sqlite":
        url: str | URL = f"sqlite:///{folder / f'{run}.db'}"
    else:
        url = recreate(backend, BENCH_DATABASE)
    db = Database(url, pool_size=5, max_overflow=5)
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()


def recreate(backend: str, name: str) -> URL:
    """Drop and create a database on a server; returns its URL."""
    server = make_url(SERVERS[backend])
    admin_db = "postgres" if backend == "postgresql" else "mysql"
    admin = create_engine(server.set(database=admin_db), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    finally:
        admin.dispose()
    return server.set(database=name)


def counts(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (items, item_data, item_links, item_events)
        }


def check_counts(db: Database, n: int) -> None:
    found = counts(db)
    wanted = {"Items": n + 1, "ItemData": 5 * n, "ItemLinks": n, "ItemEvents": n}
    if found != wanted:
        raise SystemExit(f"the benchmark stored the wrong rows: {found}, expected {wanted}")


# (a) inserts ---------------------------------------------------------------------------------


def item_uri(number: int) -> str:
    return f"https://bench.example/posting/{number:07d}"


def item_values(number: int, when: datetime) -> dict[str, Any]:
    return {
        "title": f"Posting number {number}",
        "company": f"Company {number % 97}",
        "salary": 30_000 + number,
        "posted": when,
        "remote": number % 2 == 0,
    }


def records(n: int, action_id: int, when: datetime) -> list[store.ItemRecord]:
    hub = [store.LinkSpec(uri=HUB, link_type="contains", direction="in")]
    return [
        store.ItemRecord(
            uri=item_uri(number),
            data=item_values(number, when),
            links=hub,
            events=[action_id],
            date=when,
        )
        for number in range(n)
    ]


def setup(db: Database) -> tuple[int, int]:
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name="Bench", version="1.0")
        action_id = store.register_action(conn, name="extractor")
    return engine_id, action_id


def bench_batch(db: Database, n: int, batch_size: int) -> float:
    engine_id, action_id = setup(db)
    when = datetime.now(UTC) - timedelta(days=1)
    prepared = records(n, action_id, when)
    started = time.perf_counter()
    for first in range(0, n, batch_size):
        db.run(store.store_items, engine_id=engine_id, records=prepared[first : first + batch_size])
    elapsed = time.perf_counter() - started
    check_counts(db, n)
    return elapsed


def bench_legacy(db: Database, n: int) -> float:
    engine_id, action_id = setup(db)
    peregrin = PeregrinDB.from_database(db)
    when = datetime.now(UTC) - timedelta(days=1)
    started = time.perf_counter()
    hub = peregrin.addItem(engine_id, HUB, when)
    for number in range(n):
        item = peregrin.addItem(engine_id, item_uri(number), when)
        for key, value in item_values(number, when).items():
            peregrin.addItemData(item, key, value)
        peregrin.addItemLink(engine_id, hub, item, "contains")
        peregrin.addItemEvent(engine_id, action_id, item)
    elapsed = time.perf_counter() - started
    check_counts(db, n)
    return elapsed


def profile_batch(db: Database, n: int, batch_size: int, top: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    bench_batch(db, n, batch_size)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


# (b) pooled queries --------------------------------------------------------------------------


def bench_pooled(db: Database, queries: int) -> float:
    for _ in range(10):  # fill the pool first
        db.run(store.get_config, name="RunQueue")
    started = time.perf_counter()
    for _ in range(queries):
        db.run(store.get_config, name="RunQueue")
    return time.perf_counter() - started


def bench_connection_per_query(url: URL, queries: int) -> float:
    def lookup() -> None:
        conn = pymysql.connect(
            host=url.host,
            port=url.port or 3306,
            user=url.username,
            password=url.password or "",
            database=url.database,
            charset="utf8mb4",
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT configValue FROM Config WHERE configName = %s", ("RunQueue",)
                )
                cursor.fetchall()
        finally:
            conn.close()

    for _ in range(10):
        lookup()
    started = time.perf_counter()
    for _ in range(queries):
        lookup()
    return time.perf_counter() - started


# Report --------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run_inserts(
    backend: str, folder: Path, args: argparse.Namespace, outcomes: list[Outcome]
) -> None:
    legacy_n = args.legacy_items or max(args.items // 5, 1)
    with fresh_database(backend, folder, "batch") as db:
        batch_s = bench_batch(db, args.items, args.batch_size)
    with fresh_database(backend, folder, "legacy") as db:
        legacy_s = bench_legacy(db, legacy_n)
    batch_rate, legacy_rate = rate(args.items, batch_s), rate(legacy_n, legacy_s)
    target = BATCH_TARGETS.get(backend)
    judged = "" if target is None else f"target >= {target:>9,.0f}  {verdict(batch_rate >= target)}"
    print(
        f"{backend:<11} batch   {args.items:>7,} items {batch_s:>8.2f} s "
        f"{batch_rate:>10,.0f} items/s  {judged}"
    )
    print(
        f"{backend:<11} legacy  {legacy_n:>7,} items {legacy_s:>8.2f} s "
        f"{legacy_rate:>10,.0f} items/s"
    )
    print(f"{backend:<11} ratio batch/legacy {batch_rate / legacy_rate:>8.1f}x")
    if target is not None:
        outcomes.append(
            Outcome(f"{backend} batch {batch_rate:,.0f}/s (>= {target:,.0f})", batch_rate >= target)
        )


def run_pool(folder: Path, queries: int, outcomes: list[Outcome]) -> None:
    with fresh_database("mariadb", folder, "pool") as db:
        pooled_s = bench_pooled(db, queries)
        direct_s = bench_connection_per_query(db.url, queries)
    pooled, direct = rate(queries, pooled_s), rate(queries, direct_s)
    ratio = pooled / direct
    ok = ratio >= POOL_RATIO_TARGET
    print(
        f"mariadb     pooled           {queries:>7,} queries {pooled_s:>6.2f} s {pooled:>9,.0f} q/s"
    )
    print(
        f"mariadb     conn-per-query   {queries:>7,} queries {direct_s:>6.2f} s {direct:>9,.0f} q/s"
    )
    print(
        f"mariadb     ratio pooled/per-connection {ratio:>6.1f}x"
        f"  target >= {POOL_RATIO_TARGET:.0f}x  {verdict(ok)}"
    )
    outcomes.append(Outcome(f"pooled/per-connection {ratio:.1f}x (>= 2x)", ok))


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5000, help="items for the batch API")
    parser.add_argument("--legacy-items", type=int, default=0, help="default: items / 5")
    parser.add_argument("--batch-size", type=int, default=1000, help="items per transaction")
    parser.add_argument("--backends", default="sqlite,mariadb,postgresql")
    parser.add_argument("--queries", type=int, default=2000, help="queries for the pool bench")
    parser.add_argument("--profile", action="store_true", help="cProfile the batch API")
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = set(args.backends) - {"sqlite", "mariadb", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    outcomes: list[Outcome] = []
    print(
        f"Haystack store benchmark: {args.items:,} items x (5 data rows, 1 link, 1 event), "
        f"batches of {args.batch_size:,}; backends {', '.join(args.backends)}"
    )
    with tempfile.TemporaryDirectory(prefix="haystack-bench-") as tmp:
        folder = Path(tmp)
        steps: list[Callable[[], None]] = []
        for backend in args.backends:
            if args.profile:
                steps.append(partial(_profile, backend, folder, args))
            else:
                steps.append(partial(run_inserts, backend, folder, args, outcomes))
        if "mariadb" in args.backends and not args.profile:
            steps.append(partial(run_pool, folder, args.queries, outcomes))
        for step in steps:
            step()
    if args.profile:
        return 0
    passed = sum(outcome.ok for outcome in outcomes)
    summary = "; ".join(f"{o.label} {verdict(o.ok)}" for o in outcomes) or "no targets measured"
    print(
        f"SUMMARY: {verdict(passed == len(outcomes))} ({passed} of {len(outcomes)} targets met)"
        f" - {summary}"
    )
    return 0 if passed == len(outcomes) else 1


def _profile(backend: str, folder: Path, args: argparse.Namespace) -> None:
    print(f"--- cProfile of the batch API on {backend} ---")
    with fresh_database(backend, folder, "profile") as db:
        profile_batch(db, args.items, args.batch_size)


if __name__ == "__main__":
    sys.exit(main())
