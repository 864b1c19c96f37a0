"""API benchmark: list, filter, search and detail requests against a million stored items.

    .venv/bin/python bench/api_bench.py [--items 1000000] [--backends sqlite,mariadb]
                                        [--mariadb-items N] [--requests 4000]
                                        [--concurrency 4] [--workers 1] [--rebuild]

1. Build: a fresh migrated database holding ``--items`` items, each with three data rows
   (Title, Body, JobLocation), spread over four engines and a year of creation dates, written
   with the store's bulk inserts (one driver ``executemany`` per table and chunk) while the
   full-text index (FTS5 triggers on SQLite, the FULLTEXT index on MariaDB) keeps up.
   SQLite's file is kept in the temporary folder and reused by the next run with the same
   ``--items`` unless ``--rebuild``; MariaDB's ``haystack_api_bench`` is built every time.
   MariaDB is skipped with a note when its server does not answer.
2. Serve: ``haystack_collector.api.app.create_app`` under uvicorn in a subprocess, on
   127.0.0.1 and a port the kernel picks (port 0), rate limit lifted; ``--workers N`` starts N
   such processes sharing the port (SO_REUSEPORT), as ``--scale`` would.
3. Load: an httpx.AsyncClient with ``--concurrency`` requests in flight (4 by default: past
   that, httpx's own connection pool costs more than it adds on two cores) issues ``--requests``
   requests, a random mix of four kinds: ``list`` (the first page, or the page after a random
   item), ``filter`` (by engine, data key and value, or creation range), ``search`` (``q``:
   common and rare words, two words, a prefix) and ``detail`` (one item in full). Every answer
   must be a 200. Printed: per kind p50/p99/max latency in ms, and requests/s overall.

Targets: p99 < 50 ms for list and search pages, >= 500 requests/s (on the 2-core machine the
client shares with the server). Loopback only; the run is bounded by ``--requests``.
Not a test: pytest never collects this folder.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import func, inspect, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import SERVERS, recreate
from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.migrate import upgrade
from haystack_collector.db.schema import item_data, items
from haystack_collector.store._sql import bulk_insert, param_converter
from haystack_collector.store.query import encode_cursor

CHUNK = 20_000  # items per transaction while building
ENGINES = ("bench-jobs", "bench-feeds", "bench-pages", "bench-boards")
SENIORITY = ("Junior", "Senior", "Staff", "Lead", "Principal", "Intern", "Contract", "Remote")
TECH = (
    *("python", "rust", "golang", "java", "kotlin", "swift", "scala", "elixir", "haskell"),
    *("ruby", "php", "typescript", "javascript", "clojure", "erlang", "fortran", "cobol"),
    *("perl", "lua", "julia", "dart", "ocaml", "zig", "nim", "crystal", "racket", "prolog"),
    *("postgres", "mariadb", "sqlite", "redis", "kafka", "spark", "django", "flask"),
    *("react", "vue", "svelte"),
)
ROLES = ("developer", "engineer", "architect", "analyst", "consultant", "administrator")
CITIES = (
    *("Remote", "Vancouver", "Toronto", "Berlin", "Lisbon", "Austin", "Osaka", "Nairobi"),
    *("Santiago", "Dublin"),
)
BODY_WORDS = 12
SYLLABLES = ("ka", "lo", "mi", "re", "tu", "van", "sel", "dor", "fin", "gal", "ost", "pri")


def vocabulary(size: int = 5_000) -> list[str]:
    """Made-up words for bodies: each occurs in about 12 * N / size items."""
    rng = random.Random(7)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


WORDS = vocabulary()


# --- build ---------------------------------------------------------------------------------


def build(db: Database, count: int) -> float:
    """Fill a freshly migrated database with ``count`` items; returns the seconds it took."""
    started = time.perf_counter()
    upgrade(db)
    with db.transaction() as conn:
        engine_ids = [store.register_engine(conn, name=name, version="1.0") for name in ENGINES]
    rng = random.Random(42)
    year_ago = datetime(2025, 11, 1)
    step = timedelta(days=365) / max(count, 1)
    for start in range(0, count, CHUNK):
        with db.transaction() as conn:
            stamp = param_converter(conn, items.c.itemCreated)
            item_rows: list[tuple[Any, ...]] = []
            data_rows: list[tuple[Any, ...]] = []
            for item_id in range(start + 1, min(start + CHUNK, count) + 1):
                uri = f"https://bench.test/{ENGINES[item_id % 4]}/{item_id}"
                created = year_ago + step * item_id
                item_rows.append(
                    (
                        item_id,
                        uri,
                        engine_ids[item_id % 4],
                        stamp(created + timedelta(hours=1)),
                        stamp(created),
                        hashlib.sha256(uri.encode()).hexdigest(),
                    )
                )
                title = f"{rng.choice(SENIORITY)} {rng.choice(TECH)} {rng.choice(ROLES)}"
                body = " ".join(rng.choices(WORDS, k=BODY_WORDS))
                added = stamp(created)
                data_rows.append((item_id, "Title", title, 0, added, "str"))
                data_rows.append((item_id, "Body", body, 0, added, "str"))
                data_rows.append((item_id, "JobLocation", rng.choice(CITIES), 0, added, "str"))
            bulk_insert(
                conn,
                items,
                ("itemId", "ItemURI", "EngineId", "ItemDTS", "itemCreated", "ItemURIHash"),
                item_rows,
            )
            bulk_insert(
                conn,
                item_data,
                (
                    "itemId",
                    "itemData",
                    "itemDataValue",
                    "itemDataSeq",
                    "itemDataAdded",
                    "itemDataType",
                ),
                data_rows,
            )
        done = min(start + CHUNK, count)
        if done % (10 * CHUNK) == 0 or done == count:
            rate = done / (time.perf_counter() - started)
            print(f"  {done:>9,} items stored ({rate:,.0f} items/s)", flush=True)
    if db.dialect == "postgresql":  # explicit ids leave the sequence behind
        with db.transaction() as conn:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('\"Items\"', 'itemId'), %s)", (count,)
            )
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("INSERT INTO ItemDataFts(ItemDataFts) VALUES ('optimize')")
            conn.commit()
    return time.perf_counter() - started


def stored_items(db: Database) -> int:
    """Items in an existing benchmark database (-1 when it has no schema yet)."""
    with db.read() as conn:
        if "Items" not in inspect(conn).get_table_names():
            return -1
        return int(conn.execute(select(func.count()).select_from(items)).scalar_one())


# --- serve ---------------------------------------------------------------------------------


def serve(url: str, port: int = 0) -> None:
    """Run the API on 127.0.0.1:``port`` and print the port it got (child process).

    SO_REUSEPORT lets several such processes share one port (``--workers``): the kernel
    spreads the connections between them.
    """
    import uvicorn  # noqa: PLC0415 - only the server process needs it

    from haystack_collector.api.app import create_app  # noqa: PLC0415
    from haystack_collector.settings import Settings  # noqa: PLC0415

    settings = Settings(
        database_url=url,
        api_rate_limit=1e9,
        api_rate_burst=10**9,
        api_read_access="open",
    )
    db = Database.from_settings(settings)
    app = create_app(settings, db)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that name it, and
    # without it every response waits out the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def running_server(url: str, workers: int = 1) -> Iterator[str]:
    """The API in ``workers`` subprocesses on one port; yields its base URL, then stops them."""
    children: list[subprocess.Popen[str]] = []
    try:
        port = 0
        for _ in range(workers):
            child = subprocess.Popen(
                [sys.executable, __file__, "serve", url, str(port)],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "HAYSTACK_LOG_LEVEL": "WARNING"},
            )
            children.append(child)
            assert child.stdout is not None
            line = child.stdout.readline()
            if not line.startswith("PORT "):
                raise RuntimeError(f"the server did not start: {line!r}")
            port = int(line.split()[1])
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/items?limit=1", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(1)  # every worker has finished starting
        yield base
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


# --- load ----------------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def request_mix(count: int, total_items: int, rng: random.Random) -> list[tuple[str, str]]:
    """``count`` (kind, path) pairs, the kinds in equal shares, shuffled."""
    day = timedelta(days=1)
    start = datetime(2025, 11, 1)

    def one(kind: str) -> str:
        if kind == "list":
            if rng.random() < 0.5:
                return "/api/items?limit=50"
            cursor = encode_cursor(rng.randint(1, total_items))
            return f"/api/items?limit=50&cursor={cursor}"
        if kind == "filter":
            choice = rng.randrange(3)
            if choice == 0:
                return f"/api/items?engine={rng.choice(ENGINES)}"
            if choice == 1:
                return f"/api/items?key=JobLocation&value={rng.choice(CITIES)}"
            since = start + day * rng.randint(0, 360)
            return (
                f"/api/items?created_from={since.isoformat()}"
                f"&created_to={(since + 3 * day).isoformat()}"
            )
        if kind == "search":
            choice = rng.randrange(5)
            if choice == 0:
                q = rng.choice(TECH)  # in ~1/40 of titles
            elif choice == 1:
                q = f"{rng.choice(TECH)} {rng.choice(ROLES)}"
            elif choice == 2:
                q = rng.choice(WORDS)  # a rarer body word
            elif choice == 3:
                q = rng.choice(TECH)[:4] + "*"
            else:
                q = f"{rng.choice(TECH)} {rng.choice(CITIES).lower()}"
            return f"/api/items?{urlencode({'q': q})}"
        return f"/api/items/{rng.randint(1, total_items)}"

    kinds = ["list", "filter", "search", "detail"]
    mix = [(kinds[n % 4], one(kinds[n % 4])) for n in range(count)]
    rng.shuffle(mix)
    return mix


async def load(base: str, mix: list[tuple[str, str]], concurrency: int) -> Results:
    results = Results()
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for pair in mix:
        queue.put_nowait(pair)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                kind, path = queue.get_nowait()
                began = time.perf_counter()
                response = await client.get(path)
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    results.failures.append(f"{response.status_code} {path}")
                results.latencies[kind].append(elapsed)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        results.seconds = time.perf_counter() - began
    return results


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(label: str, results: Results) -> bool:
    total = sum(len(v) for v in results.latencies.values())
    rate = total / results.seconds
    print(f"\n{label}: {total} requests in {results.seconds:.1f} s = {rate:,.0f} requests/s")
    print(f"  {'kind':<8} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}")
    ok = rate >= 500
    for kind in ("list", "filter", "search", "detail"):
        values = results.latencies.get(kind, [])
        if not values:
            continue
        p99 = percentile(values, 0.99)
        print(
            f"  {kind:<8} {len(values):>6} {percentile(values, 0.5):>8.1f} {p99:>8.1f}"
            f" {max(values):>8.1f} {statistics.fmean(values):>8.1f}"
        )
        if kind in ("list", "search") and p99 >= 50:
            ok = False
    if results.failures:
        print(f"  FAILED requests: {len(results.failures)}, e.g. {results.failures[:3]}")
        ok = False
    verdict = "met" if ok else "MISSED"
    print(f"  targets (p99 < 50 ms for list and search, >= 500 requests/s): {verdict}")
    return ok


def mariadb_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 3306), timeout=2):
            return True
    except OSError:
        return False


def bench(backend: str, args: argparse.Namespace, count: int) -> bool:
    if backend == "sqlite":
        path = Path(tempfile.gettempdir()) / f"haystack_api_bench_{count}.db"
        url = f"sqlite:///{path}"
        if args.rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        url = recreate("mariadb", "haystack_api_bench").render_as_string(hide_password=False)
    db = Database(url)
    try:
        if stored_items(db) == count:
            print(f"{backend}: reusing {count:,} items in {url}")
        else:
            if backend == "sqlite":
                db.dispose()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                db = Database(url)
            print(f"{backend}: building {count:,} items ({count * 3:,} data rows)")
            seconds = build(db, count)
            print(f"{backend}: built in {seconds:.0f} s ({count / seconds:,.0f} items/s)")
            if backend == "sqlite":
                size = sum(
                    Path(f"{path}{suffix}").stat().st_size
                    for suffix in ("", "-wal")
                    if Path(f"{path}{suffix}").exists()
                )
                print(f"{backend}: database file {size / 2**20:,.0f} MiB")
    finally:
        db.dispose()
    rng = random.Random(1)
    with running_server(url, args.workers) as base:
        warmup = request_mix(min(400, args.requests), count, rng)
        asyncio.run(load(base, warmup, args.concurrency))
        results = asyncio.run(load(base, request_mix(args.requests, count, rng), args.concurrency))
    label = (
        f"{backend}, {count:,} items, {args.workers} server process(es),"
        f" {args.concurrency} concurrent"
    )
    return report(label, results)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return 0
    # A terminated run still stops its servers (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument(
        "--mariadb-items", type=int, default=None, help="items on MariaDB (default: --items)"
    )
    parser.add_argument("--backends", default="sqlite,mariadb")
    parser.add_argument("--requests", type=int, default=4_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="server processes on one port")
    parser.add_argument("--rebuild", action="store_true", help="rebuild SQLite's file")
    args = parser.parse_args()
    ok = True
    for backend in args.backends.split(","):
        if backend == "mariadb" and not mariadb_reachable():
            print(f"mariadb: no server at {SERVERS['mariadb']}; skipped")
            continue
        count = args.mariadb_items if backend == "mariadb" and args.mariadb_items else args.items
        ok = bench(backend, args, count) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
