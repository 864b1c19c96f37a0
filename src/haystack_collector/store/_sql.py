"""Small SQL helpers shared by the store modules: time, hashing, limits, portable upserts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult

from haystack_collector.errors import ValueTooLongError

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


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, unique: Sequence[str]
) -> int:
    """Insert rows, skipping any that collide on the unique key ``unique``; returns rows added."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # psycopg reports no rowcount for a batched insert; RETURNING lists the rows added.
        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))
        key = next(iter(table.primary_key.columns))
        return len(conn.execute(stmt.returning(key), list(rows)).all())
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    else:
        # MariaDB has no DO NOTHING. IGNORE would also hide truncation, so callers check
        # lengths first (check_length) and foreign keys are verified by the caller's re-read.
        stmt = mysql.insert(table).prefix_with("IGNORE")
    result: CursorResult[Any] = conn.execute(stmt, list(rows))
    return max(result.rowcount, 0)
