"""``GET /api/status``: recent Status rows, newest first, filtered by engine and action.

``store.status_log`` also serves the live stream (``routes/stream.py``), which asks for the
rows after the last id it sent; ``status_out`` shapes them for both.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from haystack_collector.api.deps import DbDep, ReadAccess
from haystack_collector.api.models import StatusOut, error_responses
from haystack_collector.masking import mask_text
from haystack_collector.store.status import StatusRow, status_log

router = APIRouter(
    prefix="/api/status", tags=["status"], responses=error_responses(401, 404, 422, 429, 503)
)

MAX_LIMIT = 1000


class StatusPage(BaseModel):
    status: list[StatusOut]


def status_out(rows: list[StatusRow]) -> list[StatusOut]:
    """Status rows (``store.status_log``) as the API shows them."""
    return [status_item(row) for row in rows]


def status_item(row: StatusRow) -> StatusOut:
    """One Status row as the API shows it."""
    return StatusOut(
        status_id=row.status_id,
        engine_id=row.engine_id,
        engine=row.engine,
        action_id=row.action_id,
        action=row.action,
        # Masked again on the way out: rows written before masking, or by other tools.
        message=mask_text(row.message),
        date=row.date,
    )


@router.get("", response_model=StatusPage)
def recent_status(
    db: DbDep,
    _principal: ReadAccess,
    engine: Annotated[str | None, Query(max_length=200, description="Engine name.")] = None,
    action: Annotated[str | None, Query(max_length=200, description="Action name.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> StatusPage:
    """The newest Status rows (the activity log), newest first."""
    rows = db.run_read(status_log, limit=limit, engine=engine, action=action)
    return StatusPage(status=status_out(rows))
