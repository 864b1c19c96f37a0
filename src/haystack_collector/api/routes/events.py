"""The queue: ``GET /api/events`` by state, and retrying or discarding a dead event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from haystack_collector.api.deps import DbDep, ReadAccess, WriteAccess
from haystack_collector.api.models import WRITE_ERRORS, EventCounts, EventOut
from haystack_collector.store.events import (
    EventState,
    discard_dead_event,
    event_page,
    get_event,
    retry_dead_event,
)

router = APIRouter(prefix="/api/events", tags=["queue"], responses=WRITE_ERRORS)

MAX_LIMIT = 500
EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class EventPage(BaseModel):
    events: list[EventOut]
    counts: EventCounts
    next: int | None  # pass as ``after`` for the next page; None on the last page


def _out(row: object) -> EventOut:
    return EventOut.model_validate(row, from_attributes=True)


@router.get("", response_model=EventPage)
def events(
    db: DbDep,
    _principal: ReadAccess,
    state: EventState = "pending",
    engine: Annotated[str | None, Query(max_length=200, description="Engine name.")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="Cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> EventPage:
    """Events in a state, oldest first; dead ones carry their last error."""
    page = db.run_read(event_page, state=state, engine=engine, after_id=after, limit=limit)
    return EventPage(
        events=[_out(row) for row in page.events],
        counts=EventCounts(**page.counts),
        next=page.events[-1].event_id if page.more and page.events else None,
    )


@router.get("/{event_id}", response_model=EventOut)
def event(db: DbDep, _principal: ReadAccess, event_id: EventId) -> EventOut:
    """One event, whatever its state."""
    return _out(db.run_read(get_event, event_id=event_id))


@router.post("/{event_id}/retry", response_model=EventOut)
def retry_event(db: DbDep, _principal: WriteAccess, event_id: EventId) -> EventOut:
    """Make a dead event pending again with fresh attempts (409 if it is not dead)."""
    db.run(retry_dead_event, event_id=event_id)
    return _out(db.run_read(get_event, event_id=event_id))


@router.delete("/{event_id}", status_code=204, response_class=Response)
def discard_event(db: DbDep, _principal: WriteAccess, event_id: EventId) -> Response:
    """Discard a dead event (409 if it is not dead)."""
    db.run(discard_dead_event, event_id=event_id)
    return Response(status_code=204)
