"""API benchmark: list, filter, search and detail requests against a million stored items.

    .venv/bin/python bench/api_bench.py [--items 1000000] [--backends sqlite,mariadb]
                                        [--mariadb-items N] [--seconds 20] [--concurrency 4]
                                        [--processes 2] [--rebuild]

1. Build: a fresh migrated database holding ``--items`` items, each with three data rows
   (Title, Body, JobLocation), spread over four engines and a year of creation dates, written
   with the store's bulk inserts (one driver ``executemany`` per table and chunk) while the
   full-text index (FTS5 triggers on SQLite, the FULLTEXT index on MariaDB) keeps up.
   SQLite's file is kept in the temporary folder and reused by the next run with the same
   ``--items`` unless ``--rebuild``; MariaDB's ``haystack_api_bench`` is built every time.
   MariaDB is skipped with a note when its server does not answer.
2. Serve: ``haystack serve --no-worker --api-processes N`` on 127.0.0.1, as a user starts it
   (N = 2 by default: one process per core of the 2-core machine the targets are set for),
   with the rate limit lifted and reads open.
3. Load: wrk (``scripts/bench-setup.sh`` installs it) with ``bench/api_load.lua`` keeps
   ``--concurrency`` requests in flight for ``--seconds`` (after a 5 s warm-up), replaying a
   shuffled mix of four kinds in equal shares: ``list`` (the first page, or the page after a
   random item), ``filter`` (by engine, data key and value, creation range, or state), ``search``
   (``q``: common and rare words, two words, a prefix, a word and a city) and ``detail`` (one
   item in full). wrk is written in C and takes a few percent of one core, so the server has the
   machine; its latency includes the client's side of loopback. Every answer must be a 200.
   Printed: per kind p50/p99/max latency in ms, requests/s overall, and the server's CPU time
   per request (user + system of all its processes), which moves less than throughput when
   something else runs on the machine.

Targets: p99 < 50 ms for list and search pages, >= 500 requests/s (on the 2-core machine the
client shares with the server). Loopback only. Not a test: pytest never collects this folder.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
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


def item_state(item_id: int) -> str:
    """A crawl's mix, spread evenly: 75% fetched, 15% queued, 5% failed, 5% gone."""
    return {0: "failed", 1: "gone", 2: "queued", 3: "queued", 4: "queued"}.get(
        item_id % 20, "fetched"
    )


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
                        item_state(item_id),
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
                (
                    "itemId",
                    "ItemURI",
                    "EngineId",
                    "ItemDTS",
                    "itemCreated",
                    "ItemURIHash",
                    "ItemState",
                ),
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(url: str, processes: int) -> Iterator[tuple[str, int]]:
    """``haystack serve`` on ``url``; yields its base URL and pid, then stops it (SIGTERM)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HAYSTACK_")}
    env |= {
        "HAYSTACK_DATABASE_URL": url,
        "HAYSTACK_API_PROCESSES": str(processes),
        "HAYSTACK_API_READ_ACCESS": "open",
        "HAYSTACK_API_RATE_LIMIT": "1e9",
        "HAYSTACK_API_RATE_BURST": str(10**9),
    }
    haystack = Path(sys.executable).parent / "haystack"
    child = subprocess.Popen(
        [str(haystack), "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/items?limit=1", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haystack serve did not start (exit code {child.poll()})")
            time.sleep(0.2)
        yield base, child.pid
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live child processes so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


# --- load ----------------------------------------------------------------------------------

LOAD_SCRIPT = Path(__file__).resolve().parent / "api_load.lua"
WARM_UP_S = 5


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    socket_errors: int = 0
    cpu_ms_per_request: float = 0.0


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
            choice = rng.randrange(4)
            if choice == 3:  # the UI's default (fetched) or one of the other states
                state = rng.choice(("fetched", "fetched", "queued", "failed", "gone"))
                return f"/api/items?state={state}"
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


def load(
    base: str, server: int, mix: list[tuple[str, str]], *, concurrency: int, seconds: int
) -> Results:
    """Replay ``mix`` against ``base`` with wrk for ``seconds``; what it measured."""
    with tempfile.TemporaryDirectory(prefix="haystack-api-bench-") as folder:
        mix_file, out_file = Path(folder) / "mix.tsv", Path(folder) / "out.txt"
        mix_file.write_text("".join(f"{kind}\t{path}\n" for kind, path in mix))
        env = {
            **os.environ,
            "HAYSTACK_BENCH_MIX": str(mix_file),
            "HAYSTACK_BENCH_OUT": str(out_file),
        }
        command = ["wrk", f"-t{concurrency}", f"-c{concurrency}", f"-d{seconds}s"]
        command += ["--timeout", "30s", "-s", str(LOAD_SCRIPT), base]
        before = cpu_seconds(server)
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        used = cpu_seconds(server) - before
        results = Results()
        for line in out_file.read_text().splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "summary":
                requests, micros, *errors = (int(number) for number in rest.split())
                results.requests, results.seconds = requests, micros / 1e6
                results.socket_errors = sum(errors)
            elif kind == "failed":
                results.failures.append(rest)
            else:
                results.latencies[kind].append(int(rest) / 1000)
    results.cpu_ms_per_request = 1000 * used / max(results.requests, 1)
    return results


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(label: str, results: Results) -> bool:
    total = results.requests
    rate = total / results.seconds
    print(f"\n{label}: {total} requests in {results.seconds:.1f} s = {rate:,.0f} requests/s")
    print(f"  server CPU: {results.cpu_ms_per_request:.2f} ms per request (all its processes)")
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
    if results.failures or results.socket_errors:
        print(
            f"  FAILED requests: {len(results.failures)}, e.g. {results.failures[:3]};"
            f" socket errors: {results.socket_errors}"
        )
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
        if backend == "mariadb":
            with db.read() as conn:
                pool = int(conn.exec_driver_sql("SELECT @@innodb_buffer_pool_size").scalar_one())
            print(f"mariadb: innodb_buffer_pool_size {pool / 2**20:,.0f} MiB")
    finally:
        db.dispose()
    mix = request_mix(20_000, count, random.Random(1))
    with running_server(url, args.processes) as (base, server):
        load(base, server, mix[::-1], concurrency=args.concurrency, seconds=WARM_UP_S)
        results = load(base, server, mix, concurrency=args.concurrency, seconds=args.seconds)
    label = (
        f"{backend}, {count:,} items, {args.processes} server process(es),"
        f" {args.concurrency} concurrent"
    )
    return report(label, results)


def main() -> int:
    # A terminated run still stops its server (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument(
        "--mariadb-items", type=int, default=None, help="items on MariaDB (default: --items)"
    )
    parser.add_argument("--backends", default="sqlite,mariadb")
    parser.add_argument("--seconds", type=int, default=20, help="of load, after a warm-up")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument(
        "--processes", type=int, default=2, help="API processes (haystack serve --api-processes)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild SQLite's file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: run scripts/bench-setup.sh (apt-get install wrk)")
        return 2
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
