"""Store benchmark: the batch API against the legacy one-call-per-row API, and the pool.

    .venv/bin/python bench/store_bench.py [--items N] [--backends sqlite,mariadb,postgresql]
                                          [--queries 2000] [--batch-size 1000] [--profile]
                                          [--no-floor]

(a) Insert N items, each with 5 ItemData rows, 1 link and 1 event: through
    ``store.store_items`` (``--batch-size`` items per transaction), then through PeregrinDB
    (addItem + 5x addItemData + addItemLink + addItemEvent, one transaction each) for N/5
    items. Each run gets a fresh database: SQLite in a temporary folder, ``haystack_bench`` on
    the MariaDB and PostgreSQL servers (dropped and created again; never a test database).
    The floor: the same rows (same tables, columns, values, conflict handling, transactions)
    written through the raw driver into a fresh database of its own, item ids read back with
    one SELECT per batch; no SQLAlchemy, no store. SQLite: ``sqlite3`` ``executemany`` with
    the app's PRAGMAs. MariaDB: one multi-row INSERT per table per batch over pymysql, escaped
    before the timer ("floor": the server's time) and inside it ("floor+esc": what any pymysql
    client pays). PostgreSQL: psycopg ``executemany``, the call the store ends in. The floor
    is information, not a target: it shows how far the targets are from what the hardware
    does. ``--no-floor`` skips it.
(b) On MariaDB, ``--queries`` config lookups through the pool (one Database, a checkout per
    query) against a new pymysql connection per query.

Targets: batch >= 20,000 items/s on SQLite and >= 5,000 on MariaDB; pooled >= 2x per-query
connections. ``--profile`` prints where the batch API's time goes (cProfile). Not a test:
pytest never collects this folder.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import sqlite3
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

import psycopg
import pymysql
from sqlalchemy import Table, func, select
from sqlalchemy.engine import URL

from _servers import recreate  # bench/ is on sys.path when a bench runs
from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.migrate import upgrade
from haystack_collector.db.schema import item_data, item_events, item_links, items
from haystack_collector.legacy import PeregrinDB
from haystack_collector.store.values import as_values, encode

BENCH_DATABASE = "haystack_bench"
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


def bench_batch(db: Database, n: int, batch_size: int, when: datetime | None = None) -> float:
    engine_id, action_id = setup(db)
    when = when or datetime.now(UTC) - timedelta(days=1)
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


# (a') the floor: the same rows through the raw driver -----------------------------------------

# What store_items writes, table by table: the columns it fills, in its order, and the unique
# key whose duplicates it skips (ON CONFLICT DO NOTHING; INSERT IGNORE on MariaDB).
FLOOR_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    "Items": (("ItemURI", "EngineId", "ItemDTS", "itemCreated", "ItemURIHash"), ("ItemURIHash",)),
    "ItemData": (
        ("itemId", "itemData", "itemDataValue", "itemDataSeq", "itemDataAdded", "itemDataType"),
        None,
    ),
    "ItemLinks": (
        ("EngineId", "itemId_left", "itemId_right", "linkTypeId", "itemLinkDTS"),
        ("itemId_left", "itemId_right", "linkTypeId"),
    ),
    "ItemEvents": (
        ("engineId", "actionId", "itemId", "itemEventAddedDate"),
        ("engineId", "actionId", "itemId"),
    ),
}
SQLITE_BUSY_TIMEOUT = 30.0  # Database's default, as fresh_database opens it


@dataclass(frozen=True, slots=True)
class FloorBatch:
    """One transaction's rows as store_items sends them, values already as the driver takes
    them; rows that point at an item lack its id, which is read back after the Items insert."""

    now: Any
    items: list[tuple[Any, ...]]  # Items rows, complete (the first batch also adds the hub)
    hashes: list[str]  # the batch's items, in order
    data: list[list[tuple[Any, ...]]]  # per item: its ItemData rows without the itemId


@dataclass(frozen=True, slots=True)
class FloorPlan:
    engine_id: int
    action_id: int
    link_type_id: int
    hub_hash: str
    batches: list[FloorBatch]

    def rows(
        self, batch: FloorBatch, found: dict[str, int]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """ItemData, ItemLinks and ItemEvents rows, given the ids read back (hash -> itemId)."""
        hub = found[self.hub_hash]
        ids = [found[digest] for digest in batch.hashes]
        data = [(i, *row) for i, rows in zip(ids, batch.data, strict=True) for row in rows]
        links = [(self.engine_id, hub, i, self.link_type_id, batch.now) for i in ids]
        events = [(self.engine_id, self.action_id, i, batch.now) for i in ids]
        return data, links, events


@dataclass(frozen=True, slots=True)
class Floor:
    label: str
    how: str
    timing: Timing


@dataclass(frozen=True, slots=True)
class Timing:
    wall: float
    cpu: float  # this process's CPU time: Python, the driver (and SQLite's engine, in-process)


class Stopwatch:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> Timing:
        return Timing(time.perf_counter() - self.wall, time.process_time() - self.cpu)


def sha256(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()


def driver_time(backend: str) -> Callable[[datetime], Any]:
    """A naive UTC datetime as store_items hands it to the driver (``param_converter``)."""
    if backend == "postgresql":
        return lambda moment: moment  # psycopg takes datetimes as they are
    # SQLAlchemy's SQLite DateTime text, and the text the store sends PyMySQL: the same format.
    return lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def floor_plan(db: Database, n: int, batch_size: int, when: datetime) -> FloorPlan:
    """Register the engine and action as the batch run does, then prepare its rows."""
    engine_id, action_id = setup(db)
    with db.read() as conn:
        link_type_id = store.get_link_type_id(conn, name="contains")
    to_param = driver_time(db.dialect)
    dated = to_param(when.astimezone(UTC).replace(tzinfo=None))
    hub_hash = sha256(HUB)
    batches = []
    for first in range(0, n, batch_size):
        now = to_param(datetime.now(UTC).replace(tzinfo=None))
        numbers = range(first, min(first + batch_size, n))
        uris = [item_uri(number) for number in numbers]
        hashes = [sha256(uri) for uri in uris]
        rows = [
            (uri, engine_id, dated, now, digest) for uri, digest in zip(uris, hashes, strict=True)
        ]
        if first == 0:  # store_items inserts a link target it has not seen, with ItemDTS = now
            rows.append((HUB, engine_id, now, now, hub_hash))
        data = [data_rows(number, when, now) for number in numbers]
        batches.append(FloorBatch(now=now, items=rows, hashes=hashes, data=data))
    return FloorPlan(engine_id, action_id, link_type_id, hub_hash, batches)


def data_rows(number: int, when: datetime, now: Any) -> list[tuple[Any, ...]]:
    """An item's ItemData rows as store_items builds them, without the itemId."""
    rows: list[tuple[Any, ...]] = []
    for key, value in item_values(number, when).items():
        for seq, one in enumerate(as_values(value)):
            value_text, tag = encode(one)
            rows.append((key, value_text, seq, now, tag))
    return rows


def insert_sql(backend: str, table: str, placeholders: bool = True) -> str:
    """The INSERT store_items sends for ``table``; without placeholders, up to VALUES."""
    columns, unique = FLOOR_TABLES[table]
    q = "`" if backend == "mariadb" else '"'
    names = ", ".join(f"{q}{name}{q}" for name in columns)
    verb = "INSERT IGNORE" if unique and backend == "mariadb" else "INSERT"
    sql = f"{verb} INTO {q}{table}{q} ({names}) VALUES "
    if not placeholders:
        return sql
    mark = "?" if backend == "sqlite" else "%s"
    sql += "(" + ", ".join([mark] * len(columns)) + ")"
    if unique and backend != "mariadb":
        sql += " ON CONFLICT (" + ", ".join(f"{q}{name}{q}" for name in unique) + ") DO NOTHING"
    return sql


def floor_sqlite(url: URL, plan: FloorPlan) -> Timing:
    """sqlite3 executemany, one BEGIN IMMEDIATE transaction per batch, the app's PRAGMAs."""
    conn = sqlite3.connect(str(url.database), timeout=SQLITE_BUSY_TIMEOUT, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
        sql = {table: insert_sql("sqlite", table) for table in FLOOR_TABLES}
        watch = Stopwatch()
        for batch in plan.batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql["Items"], batch.items)
            wanted = [*batch.hashes, plan.hub_hash]
            lookup = (
                'SELECT "ItemURIHash", "itemId" FROM "Items" WHERE "ItemURIHash" IN ('
                + ", ".join("?" * len(wanted))
                + ")"
            )
            data, links, events = plan.rows(batch, dict(conn.execute(lookup, wanted).fetchall()))
            conn.executemany(sql["ItemData"], data)
            conn.executemany(sql["ItemLinks"], links)
            conn.executemany(sql["ItemEvents"], events)
            conn.execute("COMMIT")
        return watch.stop()
    finally:
        conn.close()


def mariadb_connect(url: URL) -> Any:
    """A pymysql connection with the session the app's pool sets up (see db.database)."""
    conn = pymysql.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=url.database,
        charset="utf8mb4",
        autocommit=False,
    )
    with conn.cursor() as cursor:
        cursor.execute("SET time_zone = '+00:00'")
        cursor.execute(
            "SET SESSION sql_mode ="
            " TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES'))"
        )
        cursor.execute("SET SESSION max_error_count = 65535")
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return conn


MARIADB_LOOKUP = "SELECT `ItemURIHash`, `itemId` FROM `Items` WHERE `ItemURIHash` IN "


def floor_mariadb(url: URL, plan: FloorPlan) -> Timing:
    """One multi-row INSERT per table per batch, escaped (cursor.mogrify) before the timer.

    Only the item ids, read back inside the timer, are spliced in there (integers: no
    escaping), so what is timed is the server's work plus the round trips: the true floor.
    """
    conn = mariadb_connect(url)
    try:
        cursor = conn.cursor()

        def literal(value: Any) -> str:
            return str(cursor.mogrify("%s", (value,)))

        def tuple_literal(row: Sequence[Any]) -> str:
            return str(cursor.mogrify("(" + ",".join(["%s"] * len(row)) + ")", row))

        prefix = {table: insert_sql("mariadb", table, placeholders=False) for table in FLOOR_TABLES}
        engine, action, link_type = map(
            literal, (plan.engine_id, plan.action_id, plan.link_type_id)
        )
        prepared = []
        for batch in plan.batches:
            items_sql = prefix["Items"] + ",".join(map(tuple_literal, batch.items))
            lookup = MARIADB_LOOKUP + tuple_literal([*batch.hashes, plan.hub_hash])
            # "(" + itemId + "," + this: each ItemData row with everything but its item id
            tails = [[tuple_literal(row)[1:] for row in rows] for rows in batch.data]
            prepared.append((items_sql, lookup, batch.hashes, tails, literal(batch.now)))
        watch = Stopwatch()
        for items_sql, lookup, hashes, tails, now in prepared:
            cursor.execute(items_sql)
            cursor.execute(lookup)
            found = dict(cursor.fetchall())
            hub = found[plan.hub_hash]
            ids = [found[digest] for digest in hashes]
            pairs = zip(ids, tails, strict=True)
            cursor.execute(
                prefix["ItemData"]
                + ",".join([f"({i},{tail}" for i, rows in pairs for tail in rows])
            )
            cursor.execute(
                prefix["ItemLinks"]
                + ",".join([f"({engine},{hub},{i},{link_type},{now})" for i in ids])
            )
            cursor.execute(
                prefix["ItemEvents"] + ",".join([f"({engine},{action},{i},{now})" for i in ids])
            )
            conn.commit()
        return watch.stop()
    finally:
        conn.close()


def floor_mariadb_escaping(url: URL, plan: FloorPlan) -> Timing:
    """The same statements, with pymysql's escaping (cursor.mogrify per row) inside the timer."""
    conn = mariadb_connect(url)
    try:
        cursor = conn.cursor()
        prefix = {table: insert_sql("mariadb", table, placeholders=False) for table in FLOOR_TABLES}
        shape = {
            table: "(" + ",".join(["%s"] * len(columns)) + ")"
            for table, (columns, _unique) in FLOOR_TABLES.items()
        }

        def statement(table: str, rows: Sequence[tuple[Any, ...]]) -> str:
            mogrify, row_sql = cursor.mogrify, shape[table]
            return prefix[table] + ",".join([mogrify(row_sql, row) for row in rows])

        watch = Stopwatch()
        for batch in plan.batches:
            cursor.execute(statement("Items", batch.items))
            wanted = [*batch.hashes, plan.hub_hash]
            cursor.execute(MARIADB_LOOKUP + "(" + ",".join(["%s"] * len(wanted)) + ")", wanted)
            data, links, events = plan.rows(batch, dict(cursor.fetchall()))
            cursor.execute(statement("ItemData", data))
            cursor.execute(statement("ItemLinks", links))
            cursor.execute(statement("ItemEvents", events))
            conn.commit()
        return watch.stop()
    finally:
        conn.close()


def floor_postgresql(url: URL, plan: FloorPlan) -> Timing:
    """psycopg executemany (pipelined), the driver call store_items ends in, without SQLAlchemy."""
    with psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
    ) as conn:
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        sql = {table: insert_sql("postgresql", table) for table in FLOOR_TABLES}
        lookup = 'SELECT "ItemURIHash", "itemId" FROM "Items" WHERE "ItemURIHash" = ANY(%s)'
        with conn.cursor() as cursor:
            watch = Stopwatch()
            for batch in plan.batches:
                cursor.executemany(sql["Items"], batch.items)
                cursor.execute(lookup, ([*batch.hashes, plan.hub_hash],))
                found: dict[str, int] = dict(cursor.fetchall())
                data, links, events = plan.rows(batch, found)
                cursor.executemany(sql["ItemData"], data)
                cursor.executemany(sql["ItemLinks"], links)
                cursor.executemany(sql["ItemEvents"], events)
                conn.commit()
            return watch.stop()


FLOORS: dict[str, list[tuple[str, str, Callable[[URL, FloorPlan], Timing]]]] = {
    "sqlite": [("floor", "raw sqlite3 executemany, same rows", floor_sqlite)],
    "mariadb": [
        ("floor", "raw pymysql, SQL escaped before the timer: server time", floor_mariadb),
        (
            "floor+esc",
            "raw pymysql, escaping timed: what any pymysql client pays",
            floor_mariadb_escaping,
        ),
    ],
    "postgresql": [("floor", "raw psycopg executemany, same rows", floor_postgresql)],
}


def stored_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the inserts wrote, timestamps reduced to "set" (they differ between runs)."""
    tables: tuple[Table, ...] = (items, item_data, item_links, item_events)
    with db.read() as conn:
        return {
            table.name: [
                tuple(True if isinstance(value, datetime) else value for value in row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in tables
        }


def check_same_rows(
    db: Database, expected: dict[str, list[tuple[Any, ...]]], label: str, n: int
) -> None:
    check_counts(db, n)
    found = stored_rows(db)
    for table, rows in expected.items():
        for wanted, got in zip(rows, found[table], strict=True):
            if wanted != got:
                raise SystemExit(
                    f"the {label} wrote other rows than the batch API in {table}:"
                    f" {got} instead of {wanted}"
                )


def run_floors(
    backend: str,
    folder: Path,
    args: argparse.Namespace,
    when: datetime,
    expected: dict[str, list[tuple[Any, ...]]],
) -> list[Floor]:
    floors = []
    for index, (label, how, measure) in enumerate(FLOORS[backend]):
        with fresh_database(backend, folder, f"floor-{index}") as db:
            plan = floor_plan(db, args.items, args.batch_size, when)
            timing = measure(db.url, plan)
            check_same_rows(db, expected, label, args.items)
        floors.append(Floor(label, how, timing))
    return floors


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


def line(backend: str, label: str, n: int, seconds: float, tail: str = "") -> str:
    return (
        f"{backend:<11} {label:<9} {n:>7,} items {seconds:>8.2f} s "
        f"{rate(n, seconds):>10,.0f} items/s  {tail}"
    ).rstrip()


def run_inserts(
    backend: str,
    folder: Path,
    args: argparse.Namespace,
    outcomes: list[Outcome],
    notes: list[str],
) -> None:
    legacy_n = args.legacy_items or max(args.items // 5, 1)
    when = datetime.now(UTC) - timedelta(days=1)  # the batch and the floor store equal values
    with fresh_database(backend, folder, "batch") as db:
        batch_s = bench_batch(db, args.items, args.batch_size, when)
        expected = {} if args.no_floor else stored_rows(db)
    floors = [] if args.no_floor else run_floors(backend, folder, args, when, expected)
    with fresh_database(backend, folder, "legacy") as db:
        legacy_s = bench_legacy(db, legacy_n)
    batch_rate, legacy_rate = rate(args.items, batch_s), rate(legacy_n, legacy_s)
    target = BATCH_TARGETS.get(backend)
    judged = "" if target is None else f"target >= {target:>9,.0f}  {verdict(batch_rate >= target)}"
    print(line(backend, "batch", args.items, batch_s, judged))
    for floor in floors:
        share = batch_rate / rate(args.items, floor.timing.wall)
        tail = (
            f"({floor.how}; client CPU {floor.timing.cpu:.2f} s; batch reaches {share:.0%} of it)"
        )
        print(line(backend, floor.label, args.items, floor.timing.wall, tail))
    print(line(backend, "legacy", legacy_n, legacy_s))
    print(f"{backend:<11} ratio batch/legacy {batch_rate / legacy_rate:>8.1f}x")
    if target is not None:
        outcomes.append(
            Outcome(f"{backend} batch {batch_rate:,.0f}/s (>= {target:,.0f})", batch_rate >= target)
        )
    if floors:
        floor_rate = rate(args.items, floors[0].timing.wall)
        note = (
            f"{backend} batch {batch_rate:,.0f}/s = {batch_rate / floor_rate:.0%}"
            f" of raw floor {floor_rate:,.0f}/s"
        )
        for extra in floors[1:]:
            extra_rate = rate(args.items, extra.timing.wall)
            note += f" ({batch_rate / extra_rate:.0%} of {extra.label} {extra_rate:,.0f}/s)"
        notes.append(note)


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
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the raw-driver floor measurement"
    )
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = set(args.backends) - {"sqlite", "mariadb", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    outcomes: list[Outcome] = []
    notes: list[str] = []
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
                steps.append(partial(run_inserts, backend, folder, args, outcomes, notes))
        if "mariadb" in args.backends and not args.profile:
            steps.append(partial(run_pool, folder, args.queries, outcomes))
        for step in steps:
            step()
    if args.profile:
        return 0
    passed = sum(outcome.ok for outcome in outcomes)
    summary = "; ".join(f"{o.label} {verdict(o.ok)}" for o in outcomes) or "no targets measured"
    if notes:
        summary += " | information, not targets: " + "; ".join(notes)
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
