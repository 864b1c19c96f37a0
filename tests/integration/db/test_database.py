"""The Database layer: engine factory, pool, health check and units of work, on every backend."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from sqlalchemy import exc, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import QueuePool, StaticPool

from haystack_collector import store
from haystack_collector.db import Database, map_db_error
from haystack_collector.db.schema import item_data, items
from haystack_collector.errors import (
    DatabaseConnectionError,
    DatabaseQueryError,
    IntegrityViolation,
)
from haystack_collector.resilience import DATABASE_POLICY
from haystack_collector.settings import Settings
from tests.databases import migrated_database, selected_backends

UNREACHABLE = {
    "mariadb": "mysql+pymysql://root:hunter2@127.0.0.1:1/x",
    "postgresql": "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/x",
}


def only(*backends: str) -> list[Any]:
    """Parameters for the ``db`` fixture (indirect) limited to some backends."""
    chosen = selected_backends()
    return [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                name not in chosen, reason=f"{name} is not in HAYSTACK_TEST_BACKENDS"
            ),
        )
        for name in backends
    ]


def scalar(conn: Connection, sql: str) -> Any:
    return conn.execute(text(sql)).scalar()


def item_exists(db: Database, uri: str) -> bool:
    with db.read() as conn:
        return store.find_item_id(conn, uri=uri) is not None


def pool_options(database: Database) -> dict[str, Any]:
    """What the engine's QueuePool was configured with (SQLAlchemy keeps these private)."""
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    return {
        "pool_size": pool.size(),
        "max_overflow": pool._max_overflow,
        "pool_timeout": pool._timeout,
        "pool_recycle": pool._recycle,
        "pool_pre_ping": pool._pre_ping,
    }


DEFAULT_POOL = {
    "pool_size": 10,
    "max_overflow": 20,
    "pool_timeout": 30,
    "pool_recycle": 3600,
    "pool_pre_ping": True,
}


@pytest.fixture
def clean_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HAYSTACK_*/DB_* variables and no .env file can leak into Settings()."""
    for name in list(os.environ):
        if name.startswith(("HAYSTACK_", "DB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def held(db: Database) -> Iterator[ExitStack]:
    """Connections checked out of the pool for the test; all returned before ``db`` resets."""
    with ExitStack() as stack:
        yield stack


# Engine factory ----------------------------------------------------------------------------


class TestEngineFactory:
    @pytest.mark.parametrize(("busy_timeout", "expected_ms"), [(30.0, 30000), (2.5, 2500)])
    def test_sqlite_connections_use_wal_foreign_keys_and_the_busy_timeout(
        self, tmp_path: Path, busy_timeout: float, expected_ms: int
    ) -> None:
        database = Database(f"sqlite:///{tmp_path / 'h.db'}", sqlite_busy_timeout=busy_timeout)
        try:
            # Two connections at once, so the settings are shown per connection, not per file.
            with database.engine.connect() as first, database.engine.connect() as second:
                for conn in (first, second):
                    assert scalar(conn, "PRAGMA journal_mode") == "wal"
                    assert scalar(conn, "PRAGMA foreign_keys") == 1
                    assert scalar(conn, "PRAGMA busy_timeout") == expected_ms
                    assert scalar(conn, "PRAGMA synchronous") == 1  # NORMAL
        finally:
            database.dispose()

    def test_in_memory_sqlite_is_one_shared_connection_with_foreign_keys(self) -> None:
        database = Database("sqlite://")
        try:
            assert isinstance(database.engine.pool, StaticPool)
            with database.engine.connect() as conn:
                assert scalar(conn, "PRAGMA foreign_keys") == 1
            assert database.pool_status().as_dict() == {
                "size": 1,
                "checked_in": 0,
                "checked_out": 0,
                "overflow": 0,
            }
        finally:
            database.dispose()

    @pytest.mark.parametrize("db", only("mariadb"), indirect=True)
    def test_mariadb_sessions_are_strict_and_utc(self, db: Database, held: ExitStack) -> None:
        for _ in range(2):
            conn = held.enter_context(db.engine.connect())
            assert "STRICT_ALL_TABLES" in scalar(conn, "SELECT @@SESSION.sql_mode").split(",")
            assert scalar(conn, "SELECT @@SESSION.time_zone") == "+00:00"
            # As on PostgreSQL: each statement sees what other transactions have committed.
            assert conn.get_isolation_level() == "READ COMMITTED"

    @pytest.mark.parametrize("db", only("mariadb"), indirect=True)
    def test_mariadb_refuses_a_too_long_value_instead_of_truncating_it(self, db: Database) -> None:
        def insert_too_long(conn: Connection) -> None:
            conn.execute(text("CREATE TEMPORARY TABLE short_values (v VARCHAR(3))"))
            conn.execute(text("INSERT INTO short_values (v) VALUES ('abcd')"))

        with pytest.raises(DatabaseQueryError, match="too long"):
            db.run(insert_too_long)

    @pytest.mark.parametrize("db", only("postgresql"), indirect=True)
    def test_postgresql_sessions_are_utc(self, db: Database, held: ExitStack) -> None:
        for _ in range(2):
            conn = held.enter_context(db.engine.connect())
            assert scalar(conn, "SHOW TimeZone") == "UTC"
            assert conn.get_isolation_level() == "READ COMMITTED"
            # The SET was committed, so a rolled back transaction does not undo it.
            conn.rollback()
            assert scalar(conn, "SHOW TimeZone") == "UTC"

    @pytest.mark.parametrize(
        ("url", "driver"),
        [
            ("mysql://root@127.0.0.1/haystack", "mysql+pymysql"),
            ("mariadb://root@127.0.0.1/haystack", "mariadb+pymysql"),
            ("postgresql://postgres@127.0.0.1/haystack", "postgresql+psycopg"),
        ],
    )
    def test_server_urls_get_the_default_pool_and_driver(self, url: str, driver: str) -> None:
        database = Database(url)  # creating the engine does not connect
        try:
            assert database.url.drivername == driver
            assert pool_options(database) == DEFAULT_POOL
            if driver.endswith("pymysql"):
                assert database.url.query["charset"] == "utf8mb4"
        finally:
            database.dispose()

    def test_a_sqlite_file_gets_the_default_pool_size_overflow_and_timeout(
        self, tmp_path: Path
    ) -> None:
        database = Database(f"sqlite:///{tmp_path / 'h.db'}")
        try:
            options = pool_options(database)
            assert (options["pool_size"], options["max_overflow"], options["pool_timeout"]) == (
                10,
                20,
                30,
            )
        finally:
            database.dispose()

    @pytest.mark.usefixtures("clean_settings_env")
    def test_default_settings_give_the_default_pool(self) -> None:
        settings = Settings(database_url="postgresql://postgres@127.0.0.1/haystack")
        database = Database.from_settings(settings)
        try:
            assert pool_options(database) == DEFAULT_POOL
            assert database.retry_policy is DATABASE_POLICY
        finally:
            database.dispose()

    @pytest.mark.usefixtures("clean_settings_env")
    def test_pool_settings_reach_the_engine(self) -> None:
        settings = Settings(
            database_url="mysql://root@127.0.0.1/haystack",
            pool_size=3,
            max_overflow=1,
            pool_timeout=2.5,
            pool_recycle=60,
            pool_pre_ping=False,
        )
        database = Database.from_settings(settings)
        try:
            assert pool_options(database) == {
                "pool_size": 3,
                "max_overflow": 1,
                "pool_timeout": 2.5,
                "pool_recycle": 60,
                "pool_pre_ping": False,
            }
        finally:
            database.dispose()


# Error mapping -----------------------------------------------------------------------------


def _mysql(code: int, message: str) -> exc.DBAPIError:
    if code == 1146:  # no such table
        return exc.ProgrammingError("SELECT 1", None, pymysql.err.ProgrammingError(code, message))
    return exc.OperationalError("SELECT 1", None, pymysql.err.OperationalError(code, message))


def _pg(message: str) -> exc.DBAPIError:
    return exc.OperationalError("SELECT 1", None, psycopg.OperationalError(message))


def _pg_refused(reason: str) -> exc.DBAPIError:
    """How psycopg reports a refused connection: libpq's text only, no SQLSTATE."""
    return _pg(
        f'connection failed: connection to server at "127.0.0.1", port 5432 failed: {reason}'
    )


def _sqlite(message: str) -> exc.DBAPIError:
    return exc.OperationalError("SELECT 1", None, sqlite3.OperationalError(message))


RETRYABLE_ERRORS = {
    "mysql lost connection": _mysql(2013, "Lost connection to server during query"),
    "mysql gone away": _mysql(2006, "Server has gone away"),
    "mysql connection killed": _mysql(1927, "Connection was killed"),
    "mysql shutting down": _mysql(1053, "Server shutdown in progress"),
    "mysql refused": _mysql(2003, "Can't connect to server on '127.0.0.1' (111)"),
    "mysql deadlock": _mysql(1213, "Deadlock found when trying to get lock"),
    "pg terminated": _pg("terminating connection due to administrator command"),
    "pg closed": _pg("consuming input failed: server closed the connection unexpectedly"),
    "pg refused": _pg_refused("Connection refused"),
    "pg shutting down": _pg_refused("FATAL:  the database system is shutting down"),
    "pg starting up": _pg_refused("FATAL:  the database system is starting up"),
    "pg ended mid-pipeline": _pg("sending query failed: cannot exit pipeline mode while busy"),
    "sqlite locked": _sqlite("database is locked"),
    "pool exhausted": exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached"),
}
FINAL_ERRORS = {
    "mysql no such table": (_mysql(1146, "Table 'x.Nope' doesn't exist"), DatabaseQueryError),
    "sqlite no such table": (_sqlite("no such table: Nope"), DatabaseQueryError),
    "mysql duplicate": (
        exc.IntegrityError("INSERT", None, pymysql.err.IntegrityError(1062, "Duplicate entry")),
        IntegrityViolation,
    ),
}


@pytest.mark.parametrize("error", RETRYABLE_ERRORS.values(), ids=RETRYABLE_ERRORS.keys())
def test_a_dropped_refused_or_busy_connection_is_worth_a_retry(error: Exception) -> None:
    mapped = map_db_error(error)
    assert type(mapped) is DatabaseConnectionError
    assert DATABASE_POLICY.should_retry(mapped)


@pytest.mark.parametrize(("error", "expected"), FINAL_ERRORS.values(), ids=FINAL_ERRORS.keys())
def test_a_faulty_statement_is_final(error: Exception, expected: type[Exception]) -> None:
    mapped = map_db_error(error)
    assert type(mapped) is expected
    assert not DATABASE_POLICY.should_retry(mapped)


# Pool status and health --------------------------------------------------------------------


class TestPoolStatus:
    def test_reports_connections_while_they_are_held(self, db: Database, held: ExitStack) -> None:
        idle = db.pool_status()
        assert idle.checked_out == 0
        assert set(idle.as_dict()) == {"size", "checked_in", "checked_out", "overflow"}
        size = idle.size

        for _ in range(3):
            held.enter_context(db.engine.connect())
        busy = db.pool_status()
        assert (busy.size, busy.checked_out, busy.overflow) == (size, 3, 0)

        # Past pool_size the pool opens overflow connections.
        for _ in range(size - 3 + 2):
            held.enter_context(db.engine.connect())
        assert db.pool_status().as_dict() == {
            "size": size,
            "checked_in": 0,
            "checked_out": size + 2,
            "overflow": 2,
        }

        held.close()
        after = db.pool_status()
        assert after.checked_out == 0
        assert after.checked_in == size  # overflow connections are closed, not kept

    def test_units_of_work_return_their_connection(self, db: Database) -> None:
        with db.transaction() as conn:
            conn.execute(text("SELECT 1"))
            assert db.pool_status().checked_out == 1
        with db.read() as conn:
            conn.execute(text("SELECT 1"))
            assert db.pool_status().checked_out == 1
        with pytest.raises(RuntimeError), db.transaction():
            raise RuntimeError("boom")
        assert db.pool_status().checked_out == 0


class TestHealthCheck:
    def test_is_ok_with_a_latency(self, db: Database) -> None:
        health = db.health_check()
        assert health.ok
        assert health.error is None
        assert health.dialect == db.dialect
        assert 0 < health.latency_ms < 5000

    @pytest.mark.parametrize("backend", sorted(UNREACHABLE))
    def test_reports_an_unreachable_server_quickly_without_the_password(self, backend: str) -> None:
        database = Database(UNREACHABLE[backend])
        try:
            started = time.perf_counter()
            health = database.health_check()
            elapsed = time.perf_counter() - started
        finally:
            database.dispose()
        assert not health.ok
        assert health.error is not None
        assert health.error.startswith("database unavailable:")
        assert "hunter2" not in health.error
        assert "hunter2" not in repr(database)
        assert elapsed < 3
        assert health.latency_ms <= elapsed * 1000 + 1


# Units of work -----------------------------------------------------------------------------


class TestTransaction:
    def test_commits_on_success(self, db: Database) -> None:
        with db.transaction() as conn:
            store.get_or_create_item(conn, uri="https://tx.test/committed", engine_id=None)
        assert item_exists(db, "https://tx.test/committed")

    def test_rolls_back_on_an_exception_and_lets_it_through(self, db: Database) -> None:
        def fail_halfway() -> None:
            with db.transaction() as conn:
                store.get_or_create_item(conn, uri="https://tx.test/rolled-back", engine_id=None)
                raise RuntimeError("halfway")

        with pytest.raises(RuntimeError, match="halfway"):
            fail_halfway()
        assert not item_exists(db, "https://tx.test/rolled-back")

    def test_maps_a_duplicate_key_to_integrity_violation(self, db: Database) -> None:
        with db.transaction() as conn:
            item_id = store.get_or_create_item(
                conn, uri="https://tx.test/dup", engine_id=None
            ).item_id

        def insert_duplicate() -> None:
            with db.transaction() as conn:
                store.get_or_create_item(conn, uri="https://tx.test/before-dup", engine_id=None)
                conn.execute(items.insert().values(itemId=item_id, ItemURI="https://tx.test/x"))

        with pytest.raises(IntegrityViolation) as raised:
            insert_duplicate()
        assert isinstance(raised.value.__cause__, exc.IntegrityError)
        assert str(raised.value).startswith("constraint violated:")
        assert not item_exists(db, "https://tx.test/before-dup")

    def test_maps_a_foreign_key_violation_to_integrity_violation(self, db: Database) -> None:
        with pytest.raises(IntegrityViolation) as raised, db.transaction() as conn:
            conn.execute(item_data.insert().values(itemId=2_000_000_000, itemData="orphan"))
        assert isinstance(raised.value.__cause__, exc.IntegrityError)

    def test_maps_a_bad_query_to_database_query_error_and_run_does_not_retry_it(
        self, db: Database
    ) -> None:
        calls = 0

        def bad(conn: Connection) -> None:
            nonlocal calls
            calls += 1
            conn.execute(text("SELECT nothing FROM NoSuchTable"))

        with pytest.raises(DatabaseQueryError) as raised:
            db.run(bad)
        assert type(raised.value) is DatabaseQueryError
        assert isinstance(raised.value.__cause__, exc.DBAPIError)
        assert str(raised.value).startswith("database error:")
        assert calls == 1

    def test_read_never_commits(self, db: Database) -> None:
        with db.read() as conn:
            store.get_or_create_item(conn, uri="https://tx.test/read-only", engine_id=None)
            assert store.find_item_id(conn, uri="https://tx.test/read-only") is not None
        assert not item_exists(db, "https://tx.test/read-only")

    def test_an_open_read_does_not_block_a_writer(self, db: Database) -> None:
        impatient = Database(db.url, sqlite_busy_timeout=1.0)
        try:
            with impatient.read() as reading:
                reading.execute(select(items.c.itemId).limit(1)).all()
                started = time.perf_counter()
                with impatient.transaction() as writing:
                    store.get_or_create_item(writing, uri="https://tx.test/writer", engine_id=None)
                assert time.perf_counter() - started < 0.5
        finally:
            impatient.dispose()
        assert item_exists(db, "https://tx.test/writer")

    def test_run_commits_and_returns_the_result(self, db: Database) -> None:
        ref = db.run(store.get_or_create_item, uri="https://tx.test/run", engine_id=None)
        assert ref.created
        with db.read() as conn:
            assert store.find_item_id(conn, uri="https://tx.test/run") == ref.item_id

    def test_run_retries_the_whole_unit_after_a_dropped_connection(self, db: Database) -> None:
        calls = 0

        def flaky(conn: Connection) -> int:
            nonlocal calls
            calls += 1
            ref = store.get_or_create_item(conn, uri="https://tx.test/flaky", engine_id=None)
            store.add_item_data(conn, item_id=ref.item_id, key="attempt", value=calls)
            if calls == 1:
                raise DatabaseConnectionError("database unavailable: simulated drop")
            return ref.item_id

        item_id = db.run(flaky)
        assert calls == 2
        with db.read() as conn:
            # The first attempt's rows were rolled back: one item, one value, from attempt 2.
            assert store.get_item_data(conn, item_id=item_id, key="attempt") == [2]


# Concurrency -------------------------------------------------------------------------------

THREADS = 32
UNITS_PER_THREAD = 6
SHARED_URIS = [f"https://concurrency.test/item/{n}" for n in range(12)]


def _unit(conn: Connection, thread: int, step: int) -> store.ItemRef:
    """One unit of work: find or create a (contested) item, then set this thread's key on it."""
    uri = SHARED_URIS[(thread * 5 + step) % len(SHARED_URIS)]
    ref = store.get_or_create_item(conn, uri=uri, engine_id=None)
    store.set_item_data(conn, item_id=ref.item_id, key=f"thread-{thread:02d}", value=[step, uri])
    return ref


def test_many_threads_share_a_small_pool(db: Database) -> None:
    refs: dict[str, list[store.ItemRef]] = defaultdict(list)
    expected: dict[tuple[str, str], list[Any]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    with migrated_database(db.url, pool_size=4, max_overflow=2, pool_timeout=20) as shared:
        start = threading.Barrier(THREADS)

        def worker(thread: int) -> None:
            try:
                start.wait(timeout=10)
                for step in range(UNITS_PER_THREAD):
                    ref = shared.run(_unit, thread, step)
                    uri = SHARED_URIS[(thread * 5 + step) % len(SHARED_URIS)]
                    with lock:
                        refs[uri].append(ref)
                        expected[uri, f"thread-{thread:02d}"] = [step, uri]
            except BaseException as error:
                with lock:
                    errors.append(error)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        elapsed = time.perf_counter() - started

        assert not [thread for thread in threads if thread.is_alive()]
        assert errors == []
        status = shared.pool_status()
        assert (status.size, status.checked_out) == (4, 0)
        assert status.overflow <= 2

    assert sum(len(found) for found in refs.values()) == THREADS * UNITS_PER_THREAD
    for uri, found in refs.items():
        assert len({ref.item_id for ref in found}) == 1, f"{uri} has several items"
        assert sum(ref.created for ref in found) == 1, f"{uri} was created more than once"

    with db.read() as conn:
        rows = conn.execute(
            select(items.c.ItemURI, items.c.itemId).where(
                items.c.ItemURI.like("https://concurrency.test/%")
            )
        ).all()
        assert Counter(uri for uri, _ in rows) == dict.fromkeys(refs, 1)  # one row per URI
        for uri, item_id in rows:
            assert item_id == refs[uri][0].item_id
            stored: dict[str, list[Any]] = defaultdict(list)
            for row in store.get_item_data_all(conn, item_id=item_id):
                stored[row.key].append(row.value)
            assert stored == {key: value for (u, key), value in expected.items() if u == uri}
    assert elapsed < 30


def test_an_exhausted_pool_raises_a_connection_error_naming_the_pool(db: Database) -> None:
    tiny = Database(db.url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        with tiny.engine.connect():
            started = time.perf_counter()
            with pytest.raises(DatabaseConnectionError, match="pool") as raised, tiny.read():
                pass
            assert 0.15 < time.perf_counter() - started < 2
            assert isinstance(raised.value.__cause__, exc.TimeoutError)

            health = tiny.health_check()
            assert not health.ok
            assert health.error is not None
            assert "pool" in health.error
        assert tiny.pool_status().checked_out == 0
        assert tiny.health_check().ok
    finally:
        tiny.dispose()
