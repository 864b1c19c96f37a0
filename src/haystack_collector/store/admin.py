"""The database admin: browse, search and edit the known Peregrin tables, nothing else.

Table and column names are looked up in the schema (``db.schema``) and checked against what
the database really has; a name that is not there raises NotFoundError, never reaches SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, String, Table, cast, delete, func, inspect, or_, select, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import PEREGRIN_TABLES, item_data, item_events, item_links, items
from haystack_collector.errors import NotFoundError

TABLES: dict[str, Table] = {table.name: table for table in PEREGRIN_TABLES}


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    name: str
    type: str
    nullable: bool
    primary_key: bool


def known_table(name: str) -> Table:
    table = TABLES.get(name)
    if table is None:
        raise NotFoundError(f"no table named {name!r}")
    return table


def primary_key(table: Table) -> Column[Any]:
    return next(iter(table.primary_key.columns))


def table_schema(conn: Connection, *, table: str) -> list[ColumnInfo]:
    """Columns as the database reports them (a legacy database may differ from a new one)."""
    known = known_table(table)
    pk = primary_key(known).name
    return [
        ColumnInfo(
            name=col["name"],
            type=str(col["type"]),
            nullable=bool(col["nullable"]),
            primary_key=col["name"] == pk,
        )
        for col in inspect(conn).get_columns(known.name)
    ]


def table_counts(conn: Connection) -> dict[str, int]:
    return {name: table_count(conn, table=name) for name in TABLES}


def table_count(conn: Connection, *, table: str, search: str | None = None) -> int:
    known = known_table(table)
    query = select(func.count()).select_from(known)
    if search:
        query = query.where(_matches(known, search))
    return int(conn.execute(query).scalar_one())


def table_rows(
    conn: Connection, *, table: str, limit: int = 50, offset: int = 0, search: str | None = None
) -> list[dict[str, Any]]:
    """A page of rows in key order; with ``search``, only rows where some column contains it."""
    known = known_table(table)
    query = select(known).order_by(primary_key(known)).limit(max(limit, 0)).offset(max(offset, 0))
    if search:
        query = query.where(_matches(known, search))
    return [dict(row) for row in conn.execute(query).mappings()]


def get_record(conn: Connection, *, table: str, record_id: int) -> dict[str, Any]:
    known = known_table(table)
    row = conn.execute(select(known).where(primary_key(known) == record_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"{table} has no record {record_id}")
    return dict(row)


def _columns(known: Table, values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(known.columns.keys()))
    if unknown:
        raise NotFoundError(f"{known.name} has no column {unknown[0]!r}")
    pk = primary_key(known).name
    return {name: value for name, value in values.items() if name != pk}


def create_record(conn: Connection, *, table: str, values: dict[str, Any]) -> int:
    known = known_table(table)
    result = conn.execute(known.insert().values(**_columns(known, values)))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def update_record(conn: Connection, *, table: str, record_id: int, values: dict[str, Any]) -> None:
    known = known_table(table)
    changes = _columns(known, values)
    if not changes:
        return
    result = conn.execute(update(known).where(primary_key(known) == record_id).values(**changes))
    if result.rowcount == 0 and not _exists(conn, known, record_id):
        raise NotFoundError(f"{table} has no record {record_id}")


def delete_record(conn: Connection, *, table: str, record_id: int) -> None:
    """Delete a row; deleting an item also deletes its data, events and links."""
    known = known_table(table)
    if known is items:
        conn.execute(delete(item_data).where(item_data.c.itemId == record_id))
        conn.execute(delete(item_events).where(item_events.c.itemId == record_id))
        conn.execute(
            delete(item_links).where(
                or_(item_links.c.itemId_left == record_id, item_links.c.itemId_right == record_id)
            )
        )
    result = conn.execute(delete(known).where(primary_key(known) == record_id))
    if result.rowcount == 0:
        raise NotFoundError(f"{table} has no record {record_id}")


def _exists(conn: Connection, known: Table, record_id: int) -> bool:
    return (
        conn.execute(select(primary_key(known)).where(primary_key(known) == record_id)).first()
        is not None
    )


def _matches(known: Table, search: str) -> Any:
    # Bound as a parameter; the wildcards of the user's text are escaped, not interpreted.
    pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(cast(col, String).like(pattern, escape="\\") for col in known.columns))
