"""Routes: items — a filtered, keyset-paginated list, one item in full, and a streaming export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from haystack_collector.api.deps import DbDep, ReadAccess, ReadLaneDep
from haystack_collector.api.models import READ_ERRORS, EventOut, error_responses
from haystack_collector.api.responses import model_json
from haystack_collector.csv_export import csv_pieces
from haystack_collector.masking import strip_credentials
from haystack_collector.store import query
from haystack_collector.store.item_state import ItemState
from haystack_collector.store.query import MAX_LIMIT, ItemFilter, ItemSummary
from haystack_collector.store.snapshots import item_snapshots

router = APIRouter(prefix="/api/items", tags=["items"], responses=READ_ERRORS)

# "state" last: columns added later go at the end, so existing CSV readers keep their columns.
EXPORT_FIELDS = ("item_id", "uri", "engine_id", "engine", "title", "created", "seen", "state")
STATE_DESCRIPTION = (
    "the item's state: `fetched` (Haystack holds what its source said: a page or file fetched,"
    " or a record such as a feed entry), `queued` (only discovered: nothing collected yet),"
    " `failed` (the last attempt to collect it failed) or `gone` (404/410, or its source says"
    " it no longer exists)"
)
_EXPORT_CHUNK = 200  # rows per piece written to the client


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ItemOut(_FromAttributes):
    item_id: int
    uri: str
    engine_id: int | None
    engine: str | None
    title: str | None
    created: datetime | None
    seen: datetime | None
    state: Annotated[ItemState, Field(description=STATE_DESCRIPTION)]


class ItemListOut(BaseModel):
    items: list[ItemOut]
    total: int
    total_exact: bool
    next: str | None


class DataOut(_FromAttributes):
    key: str
    value: Any
    seq: int
    type: str | None
    added: datetime | None


class LinkOut(_FromAttributes):
    type: str
    item_id: int
    uri: str
    date: datetime | None


class HistoryOut(_FromAttributes):
    date: datetime
    kind: Literal["created", "data", "link", "queued", "done", "dead"]
    detail: str


class ItemDetailOut(_FromAttributes):
    item_id: int
    uri: str
    engine_id: int | None
    engine: str | None
    title: str | None
    created: datetime | None
    seen: datetime | None
    state: Annotated[ItemState, Field(description=STATE_DESCRIPTION)]
    data: list[DataOut]
    links: dict[Literal["out", "in"], list[LinkOut]]
    link_counts: dict[Literal["out", "in"], int]
    events: list[EventOut]
    history: list[HistoryOut]


class ItemQuery(BaseModel):
    """The filters shared by the list and the export, from query parameters.

    One model rather than a parameter each: FastAPI then checks them in one pydantic pass,
    which is a good part of what a list page costs.
    """

    engine: Annotated[str | None, Field(max_length=100, description="engine name")] = None
    engine_id: Annotated[int | None, Field(ge=0, le=2**31 - 1)] = None
    key: Annotated[str | None, Field(max_length=100, description="has this data key")] = None
    value: Annotated[
        str | None, Field(max_length=16_000, description="...whose value is exactly this")
    ] = None
    linked_to: Annotated[
        int | None, Field(ge=0, le=2**31 - 1, description="links to this item")
    ] = None
    linked_from: Annotated[
        int | None, Field(ge=0, le=2**31 - 1, description="is linked from this item")
    ] = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    seen_from: datetime | None = None
    seen_to: datetime | None = None
    q: Annotated[
        str | None, Field(max_length=500, description="words in the item's data (all of them)")
    ] = None
    state: Annotated[
        list[ItemState] | None,
        Field(
            max_length=4,
            description="in one of these states (repeat the parameter for several); items in"
            " every state when not given",
        ),
    ] = None

    site: Annotated[
        str | None, Field(max_length=255, description="on this host (http or https, any port)")
    ] = None
    url_prefix: Annotated[
        str | None, Field(max_length=2_000, description="the item's URI starts with this")
    ] = None

    def filter(self) -> ItemFilter:
        values = {each.name: getattr(self, each.name) for each in fields(ItemFilter)}
        values["state"] = None if self.state is None else tuple(self.state)
        return ItemFilter(**values)


class ItemListQuery(ItemQuery):
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 50
    cursor: Annotated[str | None, Field(max_length=64, description="`next` of a page")] = None


class ItemExportQuery(ItemQuery):
    format: Literal["csv", "jsonl"] = "jsonl"


@router.get("", response_model=ItemListOut, summary="Items, newest first, filtered")
async def list_items(
    _access: ReadAccess,
    db: DbDep,
    lane: ReadLaneDep,
    params: Annotated[ItemListQuery, Query()],
) -> Response:
    """A page of items; follow ``next`` for the following one (None on the last page).

    Items in every state are listed unless ``state`` narrows them (the UI asks for
    ``state=fetched`` by default); each item says its ``state``.
    """
    where = params.filter()

    def read() -> Response:
        page = db.run_read(query.list_page, where=where, limit=params.limit, cursor=params.cursor)
        return model_json(ItemListOut, page)

    return await lane.run(read)


@router.get(
    "/export",
    summary="Every matching item as CSV or JSON lines, streamed",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {}, "application/x-ndjson": {}},
            "description": f"One row per item: {', '.join(EXPORT_FIELDS)}",
        }
    },
)
def export_items(
    _access: ReadAccess, db: DbDep, params: Annotated[ItemExportQuery, Query()]
) -> StreamingResponse:
    """The list's items, all of them, read a page at a time while they are sent."""
    where = params.filter()
    query.check_filter(db.dialect, where)  # a bad filter is a 422 before anything is sent
    rows = query.iter_items(db, where=where)
    if params.format == "csv":
        body, media = _csv(rows), "text/csv; charset=utf-8"
    else:
        body, media = _jsonl(rows), "application/x-ndjson"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="items.{params.format}"'},
    )


@router.get(
    "/{item_id}",
    response_model=ItemDetailOut,
    summary="One item in full",
    responses=error_responses(404),
)
async def get_item(
    _access: ReadAccess,
    db: DbDep,
    lane: ReadLaneDep,
    item_id: Annotated[int, Path(ge=0, le=2**31 - 1)],
) -> Response:
    """The item's data, links both ways, queued actions and history; 404 if there is none."""
    return await lane.run(
        lambda: model_json(ItemDetailOut, db.run_read(query.get_item, item_id=item_id))
    )


class SnapshotOut(_FromAttributes):
    item_id: int
    kind: Annotated[str, Field(description="`html`, `png` (a full-page screenshot) or `pdf`")]
    sha256: str
    size: int | None
    linked: datetime | None
    url: Annotated[str, Field(description="where the UI serves the file")]


@router.get(
    "/{item_id}/snapshots",
    response_model=list[SnapshotOut],
    summary="The page snapshots an item links to, newest first",
)
async def get_item_snapshots(
    _access: ReadAccess,
    db: DbDep,
    lane: ReadLaneDep,
    item_id: Annotated[int, Path(ge=0, le=2**31 - 1)],
) -> list[SnapshotOut]:
    """The rendered HTML, screenshots and PDFs a browser fetch stored for the item ([] when
    none); each file is served by hash at ``url``."""
    rows = await lane.run(lambda: db.run_read(item_snapshots, item_id=item_id))
    return [
        SnapshotOut(
            item_id=row.item_id,
            kind=row.kind,
            sha256=row.sha256,
            size=row.size,
            linked=row.linked,
            url=f"/snapshots/{row.sha256}",
        )
        for row in rows
    ]


def _record(item: ItemSummary) -> dict[str, Any]:
    record = ItemOut.model_validate(item).model_dump(mode="json")
    return {k: strip_credentials(v) if isinstance(v, str) else v for k, v in record.items()}


# Formula-looking text is defused and every text cell quoted (see csv_export). Credentials in
# URLs are stripped (items stored before they were stripped at the source still carry them).
def _csv(rows: Iterator[ItemSummary]) -> Iterator[str]:
    return csv_pieces(EXPORT_FIELDS, (_record(item) for item in rows))


def _jsonl(rows: Iterator[ItemSummary]) -> Iterator[str]:
    lines: list[str] = []
    for item in rows:
        lines.append(json.dumps(_record(item), ensure_ascii=False) + "\n")
        if len(lines) == _EXPORT_CHUNK:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)
