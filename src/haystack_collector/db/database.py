"""One pooled SQLAlchemy engine per database, and units of work on it.

``Database.transaction()`` is the only way code touches a connection: it begins, commits on
success, rolls back on error and maps driver errors onto Haystack's tree. ``Database.run()``
does the same for a function and retries it when the server dropped the connection.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext, make_url
from sqlalchemy.pool import QueuePool, StaticPool

from haystack_collector.errors import (
    DatabaseConnectionError,
    DatabaseError,
    DatabaseQueryError,
    HaystackError,
    IntegrityViolation,
)
from haystack_collector.resilience import DATABASE_POLICY, RetryPolicy, retrying
from haystack_collector.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("haystack.db")

_DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "postgresql": "postgresql+psycopg",
}

# Driver errors that mean "the server went away or is busy", worth a retry of the unit of work.
_MYSQL_TRANSIENT = {1040, 1053, 1205, 1213, 1927, 2002, 2003, 2006, 2013, 2055}
_PG_TRANSIENT_CLASSES = ("08", "57P", "40001", "40P01", "53300")
# The server ended the connection: the connection is unusable and the work worth a retry.
_DROPPED = (
    r"server closed the connection|terminating connection|lost connection|gone away"
    r"|connection (?:is )?closed|broken pipe|the database system is shutting down"
    # psycopg, when the server ends the connection in the middle of a pipelined executemany.
    r"|cannot exit pipeline mode"
)
_TRANSIENT_TEXT = re.compile(
    _DROPPED + r"|database is locked|connection refused|could not connect"
    # libpq's refusals while the server starts carry no SQLSTATE, only this text.
    r"|the database system is (?:starting up|in recovery mode|not yet accepting)",
    re.IGNORECASE,
)
# Errors after which the connection itself is unusable, though the driver may not say so: the
# pool must discard it rather than hand it out again (a deadlock, by contrast, leaves it fine).
_BROKEN_CONNECTION = re.compile(
    _DROPPED + r"|connection in transaction status ACTIVE|another command is already in progress",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PoolStatus:
    """A snapshot of the connection pool."""

    size: int
    checked_in: int
    checked_out: int
    overflow: int

    def as_dict(self) -> dict[str, int]:
        return {
            "size": self.size,
            "checked_in": self.checked_in,
            "checked_out": self.checked_out,
            "overflow": self.overflow,
        }


@dataclass(frozen=True, slots=True)
class Health:
    """Whether the database answered, how fast, and why not."""

    ok: bool
    dialect: str
    latency_ms: float
    error: str | None = None


class Database:
    """A pooled engine plus units of work; thread-safe, share one per process."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_timeout: float = 30.0,
        pool_recycle: int = 3600,
        pool_pre_ping: bool = True,
        connect_timeout: float = 10.0,
        sqlite_busy_timeout: float = 30.0,
        retry_policy: RetryPolicy = DATABASE_POLICY,
        echo: bool = False,
    ) -> None:
        self.url = _with_driver(make_url(url))
        self.retry_policy = retry_policy
        self.engine: Engine = _create_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=pool_recycle,
            pool_pre_ping=pool_pre_ping,
            connect_timeout=connect_timeout,
            sqlite_busy_timeout=sqlite_busy_timeout,
            echo=echo,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            settings.url,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
            pool_recycle=settings.pool_recycle,
            pool_pre_ping=settings.pool_pre_ping,
            connect_timeout=settings.db_connect_timeout,
            sqlite_busy_timeout=settings.sqlite_busy_timeout,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside a write transaction: committed on success, rolled back on error."""
        with _mapped_errors(), self.engine.connect() as raw:
            # Take SQLite's write lock up front: a deferred transaction that reads and then
            # writes can fail with SQLITE_BUSY no matter how long the busy timeout is.
            conn = (
                raw.execution_options(sqlite_begin="IMMEDIATE") if self.dialect == "sqlite" else raw
            )
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads; rolled back at the end, so it never holds a write lock."""
        with _mapped_errors(), self.engine.connect() as conn, conn.begin() as tx:
            yield conn
            tx.rollback()

    def run(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work(conn, ...)`` as one transaction, retried whole if the connection drops."""
        return self._retried(self.transaction, lambda conn: work(conn, *args, **kwargs))

    def run_read(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Like ``run`` for work that only reads: it never takes SQLite's write lock."""
        return self._retried(self.read, lambda conn: work(conn, *args, **kwargs))

    def _retried(
        self,
        unit: Callable[[], AbstractContextManager[Connection]],
        work: Callable[[Connection], T],
    ) -> T:
        # The first attempt runs bare: building tenacity's state costs more than a small read,
        # and almost every unit of work succeeds the first time.
        try:
            with unit() as conn:
                return work(conn)
        except Exception as error:
            if not self.retry_policy.should_retry(error):
                raise
            failed: Exception | None = error
        for attempt in retrying(self.retry_policy):
            with attempt:
                if failed is not None:  # replayed as tenacity's attempt 1: same waits, same log
                    first, failed = failed, None
                    raise first
                with unit() as conn:
                    return work(conn)
        raise AssertionError("unreachable: retrying() re-raises the last error")  # pragma: no cover

    def pool_status(self) -> PoolStatus:
        pool = self.engine.pool
        if isinstance(pool, QueuePool):
            return PoolStatus(
                size=pool.size(),
                checked_in=pool.checkedin(),
                checked_out=pool.checkedout(),
                overflow=max(pool.overflow(), 0),
            )
        # SQLite in memory shares one connection; report it as a pool of one.
        return PoolStatus(size=1, checked_in=0, checked_out=0, overflow=0)

    def health_check(self) -> Health:
        started = time.perf_counter()
        try:
            with _mapped_errors(), self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except HaystackError as error:
            return Health(False, self.dialect, _elapsed_ms(started), str(error))
        return Health(True, self.dialect, _elapsed_ms(started))

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or after a fork)."""
        self.engine.dispose()


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _with_driver(url: URL) -> URL:
    backend = url.get_backend_name()
    if url.get_driver_name() in ("", None) or url.drivername == backend:
        url = url.set(drivername=_DRIVERS.get(backend, url.drivername))
    if backend in ("mysql", "mariadb") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def _create_engine(
    url: URL,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    pool_recycle: int,
    pool_pre_ping: bool,
    connect_timeout: float,
    sqlite_busy_timeout: float,
    echo: bool,
) -> Engine:
    backend = url.get_backend_name()
    if backend != "sqlite":
        server = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=pool_recycle,
            pool_pre_ping=pool_pre_ping,
            # Both drivers wait minutes for an unreachable host without this; a URL's own wins.
            connect_args={}
            if "connect_timeout" in url.query
            else {"connect_timeout": max(1, round(connect_timeout))},
            # PostgreSQL's default. InnoDB's REPEATABLE READ would keep a transaction's first
            # snapshot, so re-reading a row another transaction just inserted (insert-ignore,
            # then select) would find nothing.
            isolation_level="READ COMMITTED",
            echo=echo,
        )
        _install_server_hooks(server, mysql=backend in ("mysql", "mariadb"))
        return server
    in_memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {}
    if in_memory:
        options["poolclass"] = StaticPool
    else:
        options.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout},
        echo=echo,
        **options,
    )
    _install_sqlite_hooks(engine, wal=not in_memory, busy_timeout=sqlite_busy_timeout)
    return engine


def _install_server_hooks(engine: Engine, *, mysql: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:
        cursor = dbapi_conn.cursor()
        try:
            # Timestamps are UTC everywhere, including server-side defaults of legacy columns.
            if mysql:
                cursor.execute("SET time_zone = '+00:00'")
                # Strict mode turns a too-long value into an error instead of silent truncation.
                cursor.execute(
                    "SET SESSION sql_mode ="
                    " TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES'))"
                )
                # The store reads every warning after INSERT IGNORE; the default keeps 64.
                cursor.execute("SET SESSION max_error_count = 65535")
            else:
                cursor.execute("SET TIME ZONE 'UTC'")
        finally:
            cursor.close()
        if not mysql:
            dbapi_conn.commit()  # psycopg opened a transaction for the SET

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if not context.is_disconnect and _BROKEN_CONNECTION.search(str(context.original_exception)):
            context.is_disconnect = True


def _install_sqlite_hooks(engine: Engine, *, wal: bool, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def is_transient(error: exc.DBAPIError) -> bool:
    """True when a driver error means the connection, not the statement, failed."""
    if error.connection_invalidated:
        return True
    if isinstance(error, exc.IntegrityError | exc.ProgrammingError | exc.DataError):
        return False
    orig = error.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_TRANSIENT:
        return True
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_PG_TRANSIENT_CLASSES):
        return True
    return bool(_TRANSIENT_TEXT.search(str(orig)))


def map_db_error(error: Exception) -> DatabaseError:
    """Translate a SQLAlchemy/driver error into Haystack's tree (the caller chains it)."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]
    if isinstance(error, exc.TimeoutError):
        return DatabaseConnectionError(f"database pool exhausted: {detail}")
    if isinstance(error, exc.IntegrityError):
        return IntegrityViolation(f"constraint violated: {detail}")
    if isinstance(error, exc.DBAPIError) and is_transient(error):
        return DatabaseConnectionError(f"database unavailable: {detail}")
    return DatabaseQueryError(f"database error: {detail}")


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except (exc.DBAPIError, exc.TimeoutError) as error:
        mapped = map_db_error(error)
        log.warning("database error: %s", mapped, extra={"error_type": type(mapped).__name__})
        raise mapped from error
