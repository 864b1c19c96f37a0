"""Routes: the postings board — job postings from every source, deduplicated, with a status.

``GET /api/postings`` lists them (filters, paging, newest first), ``GET /api/postings.csv``
exports the same selection as CSV, streamed, ``GET /api/postings/{fingerprint}`` gives one
with its sources and status history, and ``POST /api/postings/{fingerprint}/status`` moves it
through the workflow (a token is required). See ``store/postings.py`` and docs/postings.md.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from haystack_collector.api.deps import DbDep, ReadAccess, WriteAccess
from haystack_collector.api.models import READ_ERRORS, WRITE_ERRORS, error_responses
from haystack_collector.csv_export import POSTING_FIELDS, csv_pieces, posting_rows
from haystack_collector.store.postings import (
    NOTE_MAX,
    PostingFilter,
    PostingStatus,
    get_posting,
    iter_postings,
    list_postings,
    set_posting_status,
)

router = APIRouter(prefix="/api", tags=["postings"], responses=READ_ERRORS)

Fingerprint = Annotated[
    str, Path(min_length=1, max_length=64, description="the posting's `fingerprint`")
]
MAX_LIMIT = 500


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PostingSourceOut(_FromAttributes):
    item_id: int
    uri: str
    url: str | None = Field(description="the web address to open (the URI when it is one)")
    source: str | None = Field(description="the engine or site definition that found it")
    state: str = Field(description="the item's state (`gone`: removed at its source)")
    found: datetime | None


class PostingOut(_FromAttributes):
    fingerprint: str
    title: str | None
    company: str | None
    location: str | None
    compensation: str | None
    compensation_amount: float | None = Field(
        description="the most the compensation text offers, per year (see docs/postings.md)"
    )
    employment_type: str | None
    posted: datetime | date | None
    status: PostingStatus
    status_changed: datetime | None
    found: datetime | None = Field(description="when Haystack first stored an item of it")
    gone: bool = Field(description="every item that carries it is gone at its source")
    gone_at: datetime | None
    sources: list[str]
    items: list[PostingSourceOut]


class PostingListOut(BaseModel):
    postings: list[PostingOut]
    total: int
    counts: dict[str, int] = Field(
        description="postings per status among those every other filter selects"
    )
    offset: int
    limit: int


class PostingHistoryOut(_FromAttributes):
    status: PostingStatus
    date: datetime
    note: str | None
    by: str | None = Field(description="the name of the token that made the change")


class PostingDetailOut(PostingOut):
    description: str | None
    history: list[PostingHistoryOut]
    allowed: list[PostingStatus] = Field(description="the statuses it may move to from here")


class PostingStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PostingStatus
    note: Annotated[str | None, Field(max_length=NOTE_MAX)] = None


class PostingStatusChangeOut(_FromAttributes):
    fingerprint: str
    previous: PostingStatus
    status: PostingStatus
    changed: bool = Field(description="false: the posting already had this status")
    date: datetime


class PostingFilterQuery(BaseModel):
    """The filters shared by the list and the export."""

    q: Annotated[
        str | None,
        Field(max_length=500, description="every word in the title, company or description"),
    ] = None
    source: Annotated[
        str | None, Field(max_length=100, description="found by this engine or site")
    ] = None
    location: Annotated[
        str | None, Field(max_length=200, description="this text in the location")
    ] = None
    compensation: Annotated[
        bool | None,
        Field(description="true: states a compensation; false: states none"),
    ] = None
    min_compensation: Annotated[
        float | None,
        Field(ge=0, description="can pay at least this much per year (see docs/postings.md)"),
    ] = None
    posted_since: Annotated[date | None, Field(description="posted on or after this day")] = None
    status: Annotated[
        list[PostingStatus] | None,
        Field(max_length=8, description="in one of these statuses (repeat the parameter)"),
    ] = None
    gone: Annotated[
        bool | None, Field(description="true: only gone postings; false: only listed ones")
    ] = None

    def filter(self) -> PostingFilter:
        return PostingFilter(
            q=self.q or None,
            source=self.source or None,
            location=self.location or None,
            compensation=self.compensation,
            min_compensation=self.min_compensation,
            posted_since=self.posted_since,
            status=None if not self.status else tuple(self.status),
            gone=self.gone,
        )


class PostingListQuery(PostingFilterQuery):
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 50
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0


@router.get("/postings", response_model=PostingListOut, summary="The postings board")
def list_board(
    _access: ReadAccess, db: DbDep, params: Annotated[PostingListQuery, Query()]
) -> PostingListOut:
    """Postings from every source, one per job, newest first; ``offset`` pages through."""
    page = db.run_read(
        list_postings, where=params.filter(), limit=params.limit, offset=params.offset
    )
    return PostingListOut(
        postings=[PostingOut.model_validate(posting) for posting in page.postings],
        total=page.total,
        counts=page.counts,
        offset=params.offset,
        limit=params.limit,
    )


@router.get(
    "/postings.csv",
    summary="The board's postings as CSV, streamed",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {}},
            "description": f"One row per posting: {', '.join(POSTING_FIELDS)}",
        }
    },
)
def export_board(
    _access: ReadAccess, db: DbDep, params: Annotated[PostingFilterQuery, Query()]
) -> StreamingResponse:
    """Every posting the filters select (no paging), formula-looking cells defused."""
    postings = db.run_read(lambda conn: list(iter_postings(conn, where=params.filter())))
    return StreamingResponse(
        csv_pieces(POSTING_FIELDS, posting_rows(postings)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="postings.csv"'},
    )


@router.get(
    "/postings/{fingerprint}",
    response_model=PostingDetailOut,
    summary="One posting with its sources and status history",
    responses=error_responses(404),
)
def get_board_posting(_access: ReadAccess, db: DbDep, fingerprint: Fingerprint) -> PostingDetailOut:
    detail = db.run_read(get_posting, fingerprint=fingerprint)
    out = PostingOut.model_validate(detail.posting).model_dump()
    return PostingDetailOut(
        **out,
        description=detail.posting.description,
        history=[PostingHistoryOut.model_validate(entry) for entry in detail.history],
        allowed=detail.allowed,
    )


@router.post(
    "/postings/{fingerprint}/status",
    response_model=PostingStatusChangeOut,
    summary="Move a posting through the workflow",
    responses=WRITE_ERRORS,
)
def set_board_status(
    principal: WriteAccess, db: DbDep, fingerprint: Fingerprint, body: PostingStatusIn
) -> PostingStatusChangeOut:
    """Set the posting's status, with an optional note; 409 names the allowed moves."""
    change = db.run(
        set_posting_status,
        fingerprint=fingerprint,
        status=body.status,
        note=body.note,
        by=principal.name,
    )
    return PostingStatusChangeOut.model_validate(change)
