"""The database admin: browse, search and edit the known Peregrin tables, nothing else.

Table and column names are looked up in the schema (``db.schema``) and checked against what
the database really has; a name that is not there raises NotFoundError, never reaches SQL.
Values arriving as JSON are converted to their column's type first (an ISO-8601 text for a
timestamp, a number for an integer), so a wrong one is a ConfigError (422), not a driver error.
Primary keys and derived columns (``DERIVED``) are not written by hand (422), and the seeded
rows the engines rely on (``SEEDED``) are neither deleted nor renamed (409).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    cast,
    delete,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import (
    PEREGRIN_TABLES,
    SYSTEM_ENGINE,
    URI_MAX,
    actions,
    engines,
    item_data,
    item_events,
    item_links,
    item_versions,
    item_visits,
    items,
    link_types,
)
from haystack_collector.errors import ConfigError, IntegrityViolation, NotFoundError
from haystack_collector.origin import API
from haystack_collector.store._sql import check_length, to_db, uri_hash
from haystack_collector.store.item_state import ITEM_STATES, QUEUED

TABLES: dict[str, Table] = {table.name: table for table in PEREGRIN_TABLES}
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # INTEGER on MariaDB and PostgreSQL
_LONG_TEXT_MAX = 100_000_000  # far beyond anything typed into the admin
# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
_DECIMAL = re.compile(r"-?[0-9]{1,19}")


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


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    primary_key: str
    columns: int
    rows: int


def list_tables(conn: Connection) -> list[TableInfo]:
    """The known tables this database has, with their column and row counts."""
    present = set(inspect(conn).get_table_names())
    return [
        TableInfo(
            name=name,
            primary_key=primary_key(table).name,
            columns=len(inspect(conn).get_columns(name)),
            rows=table_count(conn, table=name),
        )
        for name, table in TABLES.items()
        if name in present
    ]


def real_columns(conn: Connection, *, table: str) -> set[str]:
    """Columns both the code and the database know (a legacy database may lack new ones)."""
    known = known_table(table)
    return {col["name"] for col in inspect(conn).get_columns(known.name)} & set(
        known.columns.keys()
    )


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


# Columns the store derives from others: never written through the admin.
DERIVED: dict[str, dict[str, str]] = {
    items.name: {
        "ItemURIHash": "ItemURI",  # the item's unique key follows its URI
        "ItemOrigin": "the admin API",  # see _API_WRITTEN
    },
    item_events.name: {"itemEventOrigin": "the admin API"},
}
# Rows the admin writes here were typed in by a token holder, so the work they lead to runs as
# API work: fetched with the SSRF guard on (see ``origin``), whoever queues it later.
_API_WRITTEN = {items.name: "ItemOrigin", item_events.name: "itemEventOrigin"}
# Rows migration 0002 seeds and the engines look up by name (see db/migrations): deleting or
# renaming one would break them, so the admin refuses (409).
SEEDED: dict[str, tuple[str, frozenset[str]]] = {
    link_types.name: (
        "LinkTypeName",
        frozenset({"contains", "references", "download", "duplicate", "related"}),
    ),
    actions.name: (
        "actionName",
        frozenset(
            {
                "WebCrawler",
                "ParseContents",
                "FileCrawler",
                "extractor",
                "downloader",
                "config",
                "Status",
            }
        ),
    ),
    engines.name: ("EngineName", frozenset({SYSTEM_ENGINE[0]})),
}


def _row_values(
    known: Table,
    values: dict[str, Any],
    present: set[str] | None = None,
    *,
    record_id: int | None = None,
) -> dict[str, Any]:
    """The values to write for ``values`` (an insert, or with ``record_id`` an update):
    converted to their columns' types, with the derived columns computed.

    The one place row values are prepared for both. NotFoundError for a column the table (or,
    given ``present``, the database) does not have; ConfigError for a primary key other than
    the row's own, or a derived column.
    """
    allowed = set(known.columns.keys()) if present is None else present
    unknown = sorted(set(values) - allowed, key=str)
    if unknown:
        shown = unknown[0] if len(unknown[0]) <= 64 else unknown[0][:64] + "…"
        raise NotFoundError(f"{known.name} has no column {shown!r}")
    pk = primary_key(known).name
    if pk in values:
        given = _coerce(known.c[pk], values[pk])
        if record_id is None:
            raise ConfigError(f"{pk}: the primary key is given by the database", setting=pk)
        if given != record_id:
            raise ConfigError(f"{pk}: the primary key cannot be changed", setting=pk)
    derived = DERIVED.get(known.name, {})
    for name, source in derived.items():
        if name in values:
            raise ConfigError(f"{name}: derived from {source}, not set by hand", setting=name)
    changes = {name: _coerce(known.c[name], value) for name, value in values.items() if name != pk}
    if known is items and "ItemURI" in changes:
        uri = changes["ItemURI"]
        changes["ItemURIHash"] = uri_hash(uri) if uri is not None else None
    if known is items and changes.get("ItemState", QUEUED) not in ITEM_STATES:
        raise ConfigError(
            f"ItemState: must be one of {', '.join(ITEM_STATES)}", setting="ItemState"
        )
    origin_column = _API_WRITTEN.get(known.name)
    if origin_column is not None and origin_column in allowed:
        changes[origin_column] = API
    return changes


def _seed_name(conn: Connection, known: Table, record_id: int) -> str | None:
    """The seeded name of the row, if it is one of the seeded rows."""
    seeded = SEEDED.get(known.name)
    if seeded is None:
        return None
    column, names = seeded
    name = conn.execute(
        select(known.c[column]).where(primary_key(known) == record_id)
    ).scalar_one_or_none()
    return name if name in names else None


def _protect_seed(conn: Connection, known: Table, record_id: int, doing: str) -> None:
    name = _seed_name(conn, known, record_id)
    if name is not None:
        raise IntegrityViolation(
            f"{known.name} row {record_id} ({name!r}) is seeded and used by Haystack;"
            f" it cannot be {doing}"
        )


def _require(col: Column[Any], value: Any) -> None:
    """Refuse a missing value for a NOT NULL column (MariaDB would fail it as a server error)."""
    if value is None:
        raise ConfigError(f"{col.name}: a value is required", setting=col.name)


def _coerce(col: Column[Any], value: Any) -> Any:
    """A JSON value as what ``col`` stores; ConfigError when it cannot be one."""
    if value is None:
        return None
    kind = col.type
    if isinstance(kind, DateTime):
        return _timestamp(col.name, value)
    if isinstance(kind, Boolean):
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise ConfigError(f"{col.name}: expected true or false", setting=col.name)
    if isinstance(kind, Integer):
        return _integer(col.name, value)
    if not isinstance(value, bool | int | float | str):
        raise ConfigError(f"{col.name}: expected text", setting=col.name)
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:  # PostgreSQL refuses it in text; no database should hold it
        raise ConfigError(f"{col.name}: text cannot contain NUL", setting=col.name)
    check_length(col.name, text, _text_limit(kind))
    return text


def _text_limit(kind: Any) -> int:
    """The characters a text column holds on every database (MariaDB's TEXT: 64 KiB)."""
    if isinstance(kind, String) and kind.length is not None:
        return int(kind.length)
    if "mysql" in getattr(kind, "_variant_mapping", {}):  # LONGTEXT there
        return _LONG_TEXT_MAX
    return URI_MAX


def _timestamp(name: str, value: Any) -> datetime | None:
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    # Years MariaDB's DATETIME holds (1000-9999) are the ones every database holds.
    if moment is None or not 1000 <= moment.year <= 9999:
        raise ConfigError(f"{name}: expected an ISO-8601 date and time", setting=name)
    return to_db(moment)


def _integer(name: str, value: Any) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        number = int(value)
    if number is None or not _INT_MIN <= number <= _INT_MAX:
        raise ConfigError(f"{name}: expected a 32-bit integer", setting=name)
    return number


def create_record(conn: Connection, *, table: str, values: dict[str, Any]) -> int:
    known = known_table(table)
    changes = _row_values(known, values, real_columns(conn, table=table))
    pk = primary_key(known).name
    for col in known.columns:
        if not col.nullable and col.server_default is None and col.name != pk:
            _require(col, changes.get(col.name))
    result = conn.execute(known.insert().values(**changes))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def update_record(conn: Connection, *, table: str, record_id: int, values: dict[str, Any]) -> None:
    known = known_table(table)
    changes = _row_values(known, values, real_columns(conn, table=table), record_id=record_id)
    seeded = SEEDED.get(known.name)
    if seeded is not None and seeded[0] in changes:
        current = _seed_name(conn, known, record_id)
        if current is not None and changes[seeded[0]] != current:
            _protect_seed(conn, known, record_id, "renamed")
    for name, value in changes.items():
        if not known.c[name].nullable:
            _require(known.c[name], value)
    if not changes:
        if not _exists(conn, known, record_id):
            raise NotFoundError(f"{table} has no record {record_id}")
        return
    result = conn.execute(update(known).where(primary_key(known) == record_id).values(**changes))
    if result.rowcount == 0 and not _exists(conn, known, record_id):
        raise NotFoundError(f"{table} has no record {record_id}")


def table_page(
    conn: Connection, *, table: str, limit: int = 50, offset: int = 0, search: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """``table_rows`` and the ``table_count`` of the same search, as one read."""
    rows = table_rows(conn, table=table, limit=limit, offset=offset, search=search)
    return rows, table_count(conn, table=table, search=search)


def create_and_get_record(
    conn: Connection, *, table: str, values: dict[str, Any]
) -> dict[str, Any]:
    """``create_record``, answered with the row as stored (its new primary key included)."""
    return get_record(conn, table=table, record_id=create_record(conn, table=table, values=values))


def update_and_get_record(
    conn: Connection, *, table: str, record_id: int, values: dict[str, Any]
) -> dict[str, Any]:
    """``update_record``, answered with the row as stored."""
    update_record(conn, table=table, record_id=record_id, values=values)
    return get_record(conn, table=table, record_id=record_id)


def delete_record(conn: Connection, *, table: str, record_id: int) -> None:
    """Delete a row; deleting an item also deletes its data, events, links, earlier versions
    and re-visits (its notifications stay: they say what was sent)."""
    known = known_table(table)
    _protect_seed(conn, known, record_id, "deleted")
    if known is items:
        conn.execute(delete(item_data).where(item_data.c.itemId == record_id))
        conn.execute(delete(item_events).where(item_events.c.itemId == record_id))
        conn.execute(delete(item_versions).where(item_versions.c.itemId == record_id))
        conn.execute(delete(item_visits).where(item_visits.c.itemId == record_id))
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
    search = search.replace("\x00", "")  # PostgreSQL refuses NUL in text; no row holds one
    pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(cast(col, String).like(pattern, escape="\\") for col in known.columns))
