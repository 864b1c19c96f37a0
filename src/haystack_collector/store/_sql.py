"""Small SQL helpers shared by the store modules: time, hashing, limits, portable upserts."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Column, DateTime, Table, bindparam, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Dialect

from haystack_collector.errors import IntegrityViolation, ValueTooLongError

T = TypeVar("T")

# Bound parameters per statement stay well below every driver's limit (SQLite: 32,766).
CHUNK = 500


def utcnow() -> datetime:
    """Now, as the naive UTC datetime the timestamp columns hold."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_db(moment: datetime | None) -> datetime | None:
    """An aware or naive-UTC datetime as a naive UTC column value."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_db(moment: datetime | None) -> datetime | None:
    """A column value as an aware UTC datetime."""
    return None if moment is None else moment.replace(tzinfo=UTC)


def uri_hash(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()


def check_length(field: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise ValueTooLongError(field, length=len(value), limit=limit)


def chunks(values: Sequence[T] | Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ignoring_duplicates(dialect: str, table: Table, unique: Sequence[str]) -> Any:
    """An INSERT that skips rows colliding on the unique key ``unique``."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    # MariaDB has no DO NOTHING. IGNORE also downgrades other errors to warnings, so every
    # use is followed by _refuse_mysql_warnings; lengths are checked before (check_length).
    return mysql.insert(table).prefix_with("IGNORE")


def _refuse_mysql_warnings(conn: Connection) -> None:
    """Turn what INSERT IGNORE downgraded (a missing foreign key, a NULL) back into an error.

    Sessions raise max_error_count (see db.database), so SHOW WARNINGS lists every one.
    """
    for _level, code, message in conn.exec_driver_sql("SHOW WARNINGS").all():
        if code != _MYSQL_DUPLICATE_KEY:
            raise IntegrityViolation(f"row refused: {message}")


def _mysql_statements(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """Split rows so PyMySQL sends each part as one statement (it splits past ~1 MB itself,
    and SHOW WARNINGS only speaks of the last statement)."""
    start, size = 0, 0
    for index, row in enumerate(rows):
        size += len(repr(row))
        if size > _MYSQL_STATEMENT_BUDGET and index > start:
            yield rows[start:index]
            start, size = index, 0
    yield rows[start:]


_MYSQL_DUPLICATE_KEY = 1062
_MYSQL_STATEMENT_BUDGET = 256 * 1024


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, unique: Sequence[str]
) -> int:
    """Insert rows, skipping any that collide on the unique key ``unique``; returns rows added."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    stmt = _ignoring_duplicates(dialect, table, unique)
    if dialect == "postgresql":
        # psycopg reports no rowcount for a batched insert; RETURNING lists the rows added.
        key = next(iter(table.primary_key.columns))
        return len(conn.execute(stmt.returning(key), list(rows)).all())
    if dialect not in ("mysql", "mariadb"):
        result: CursorResult[Any] = conn.execute(stmt, list(rows))
        return max(result.rowcount, 0)
    added = 0
    for part in _mysql_statements(rows):
        added += max(conn.execute(stmt, list(part)).rowcount, 0)
        _refuse_mysql_warnings(conn)
    return added


_bulk_cache: dict[tuple[str, str, tuple[str, ...], tuple[str, ...] | None], str] = {}


def _bulk_statement(
    conn: Connection, table: Table, columns: tuple[str, ...], unique: tuple[str, ...] | None
) -> str:
    key = (conn.dialect.name, table.name, columns, unique)
    cached = _bulk_cache.get(key)
    if cached is None:
        stmt = table.insert() if unique is None else _ignoring_duplicates(key[0], table, unique)
        compiled = stmt.compile(dialect=_positional(conn.dialect), column_keys=list(columns))
        order = compiled.positiontup or []
        if tuple(order) != columns:  # rows are plain tuples: their order must be the SQL's
            raise ValueError(f"bulk_insert columns must follow the table's order: {order}")
        cached = _bulk_cache[key] = str(compiled)
    return cached


def _positional(dialect: Dialect) -> Dialect:
    """The dialect with positional parameters, so rows go to the driver as plain tuples.

    PyMySQL and psycopg take ``%s`` as well as ``%(name)s``; tuples spare building a dict
    per row on both sides.
    """
    if dialect.positional:
        return dialect
    positional = copy.copy(dialect)
    positional.paramstyle = "format"
    positional.positional = True
    return positional


def find_ids(conn: Connection, table: Table, *, key: str, values: Iterable[Any]) -> dict[Any, int]:
    """``{value: primary key}`` for the rows whose unique column ``key`` holds one of ``values``.

    One precompiled ``IN`` of CHUNK parameters per chunk (the last chunk padded by repeating
    a value), sent to the driver as it is: the batch store's lookup by URI hash.
    """
    sql = _select_in_statement(conn, table, key)
    found: dict[Any, int] = {}
    for part in chunks(values):
        part.extend([part[-1]] * (CHUNK - len(part)))
        found.update(conn.exec_driver_sql(sql, tuple(part)).all())
    return found


_select_cache: dict[tuple[str, str, str], str] = {}


def _select_in_statement(conn: Connection, table: Table, key: str) -> str:
    cache_key = (conn.dialect.name, table.name, key)
    cached = _select_cache.get(cache_key)
    if cached is None:
        pk = next(iter(table.primary_key.columns))
        column = table.c[key]
        stmt = select(column, pk).where(column.in_([bindparam(f"v{i}") for i in range(CHUNK)]))
        cached = _select_cache[cache_key] = str(stmt.compile(dialect=_positional(conn.dialect)))
    return cached


def bulk_insert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_duplicates_on: Sequence[str] | None = None,
) -> None:
    """Insert many rows as one driver ``executemany``, skipping SQLAlchemy's per-row work.

    The hot path of the batch store: rows are tuples, in the table's column order, of values
    the driver takes as they are (see ``db_value`` for timestamps). The statement is compiled
    by SQLAlchemy from the table, once per shape, so no SQL text is ever built from data.
    """
    if not rows:
        return
    unique = tuple(ignore_duplicates_on) if ignore_duplicates_on is not None else None
    names = tuple(columns)
    sql = _bulk_statement(conn, table, names, unique)
    params: Sequence[Any] = rows
    if unique is None or conn.dialect.name not in ("mysql", "mariadb"):
        conn.exec_driver_sql(sql, list(params))
        return
    for part in _mysql_statements(params):
        conn.exec_driver_sql(sql, list(part))
        _refuse_mysql_warnings(conn)


def param_converter(conn: Connection, column: Column[Any]) -> Callable[[Any], Any]:
    """A function turning values into what the driver takes for ``column`` (for bulk_insert).

    SQLite stores datetimes as text; psycopg takes Python values as they are.
    """
    if conn.dialect.name in ("mysql", "mariadb") and isinstance(column.type, DateTime):
        # PyMySQL formats each datetime in Python; text is cheaper to send, and equal.
        return lambda value: None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if processor is None:
        return _unchanged
    return lambda value: None if value is None else processor(value)


def _unchanged(value: Any) -> Any:
    return value
