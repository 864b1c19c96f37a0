"""Routes: the database admin over the known Peregrin tables (``store.admin``); token only.

Every route, reads included, needs a bearer token: the admin shows and edits raw rows. A table
or column name that is not one of the known tables' real columns is a 404 and never reaches SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status
from pydantic import BaseModel

from haystack_collector.api.deps import DbDep, WriteAccess
from haystack_collector.api.models import WRITE_ERRORS
from haystack_collector.store import admin
from haystack_collector.store._sql import from_db

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=WRITE_ERRORS)

TablePath = Annotated[str, Path(max_length=64, description="a Peregrin table, e.g. Items")]
RecordPath = Annotated[int, Path(ge=0, le=2**31 - 1, description="the row's primary key")]
Values = Annotated[
    dict[str, Any],
    Body(description="column name to value; timestamps as ISO-8601 text", max_length=100),
]
Record = dict[str, Any]


class TableOut(BaseModel):
    name: str
    primary_key: str
    columns: int
    rows: int


class ColumnOut(BaseModel):
    name: str
    type: str
    nullable: bool
    primary_key: bool


class TableSchemaOut(BaseModel):
    table: str
    primary_key: str
    columns: list[ColumnOut]


class TableDataOut(BaseModel):
    table: str
    rows: list[Record]
    total: int
    limit: int
    offset: int


@router.get("/tables", response_model=list[TableOut], summary="The tables the admin can edit")
def list_tables(_token: WriteAccess, db: DbDep) -> list[TableOut]:
    return [
        TableOut(name=t.name, primary_key=t.primary_key, columns=t.columns, rows=t.rows)
        for t in db.run_read(admin.list_tables)
    ]


@router.get("/tables/{table}/schema", response_model=TableSchemaOut)
def table_schema(_token: WriteAccess, db: DbDep, table: TablePath) -> TableSchemaOut:
    """The table's columns as the database reports them."""
    columns = db.run_read(admin.table_schema, table=table)
    return TableSchemaOut(
        table=table,
        primary_key=admin.primary_key(admin.known_table(table)).name,
        columns=[
            ColumnOut(name=c.name, type=c.type, nullable=c.nullable, primary_key=c.primary_key)
            for c in columns
        ],
    )


@router.get("/tables/{table}/data", response_model=TableDataOut)
def table_data(
    _token: WriteAccess,
    db: DbDep,
    table: TablePath,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    search: Annotated[
        str | None, Query(max_length=200, description="rows where a column contains it")
    ] = None,
) -> TableDataOut:
    """A page of rows in key order; ``search`` is plain text (``%`` and ``_`` are literal)."""

    rows, total = db.run_read(
        admin.table_page, table=table, limit=limit, offset=offset, search=search
    )
    return TableDataOut(
        table=table, rows=[_aware(row) for row in rows], total=total, limit=limit, offset=offset
    )


@router.get("/tables/{table}/records/{record_id}", response_model=Record)
def get_record(_token: WriteAccess, db: DbDep, table: TablePath, record_id: RecordPath) -> Record:
    return _aware(db.run_read(admin.get_record, table=table, record_id=record_id))


@router.post("/tables/{table}/records", response_model=Record, status_code=status.HTTP_201_CREATED)
def create_record(_token: WriteAccess, db: DbDep, table: TablePath, values: Values) -> Record:
    """Insert a row; the answer is the row as stored (with its new primary key)."""

    return _aware(db.run(admin.create_and_get_record, table=table, values=values))


@router.put("/tables/{table}/records/{record_id}", response_model=Record)
def update_record(
    _token: WriteAccess, db: DbDep, table: TablePath, record_id: RecordPath, values: Values
) -> Record:
    """Change the given columns of a row; the answer is the row as stored."""

    return _aware(
        db.run(admin.update_and_get_record, table=table, record_id=record_id, values=values)
    )


@router.delete(
    "/tables/{table}/records/{record_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def delete_record(
    _token: WriteAccess, db: DbDep, table: TablePath, record_id: RecordPath
) -> Response:
    """Delete a row (an item takes its data, events and links along); 409 if others need it."""
    db.run(admin.delete_record, table=table, record_id=record_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _aware(row: Record) -> Record:
    """Timestamps as the UTC instants they are (the columns hold naive UTC)."""
    return {
        name: from_db(value) if isinstance(value, datetime) else value
        for name, value in row.items()
    }
