"""``GET /api/status``: recent Status rows, newest first, filtered by engine and action.

``status_rows`` also serves the live stream (``routes/stream.py``), which asks for the rows
after the last id it sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import Connection

from haystack_collector.api.deps import DbDep, ReadAccess
from haystack_collector.api.models import StatusOut, error_responses
from haystack_collector.db.schema import actions, engines, status
from haystack_collector.errors import NotFoundError
from haystack_collector.masking import mask_text
from haystack_collector.store._sql import from_db

router = APIRouter(
    prefix="/api/status", tags=["status"], responses=error_responses(401, 404, 422, 429, 503)
)

MAX_LIMIT = 1000


class StatusPage(BaseModel):
    status: list[StatusOut]


def status_rows(
    conn: Connection,
    *,
    limit: int = 50,
    engine: str | None = None,
    action: str | None = None,
    after_id: int | None = None,
) -> list[StatusOut]:
    """Status rows with their engine and action names: newest first, or oldest first after
    ``after_id`` (what a stream needs). An unknown engine or action name is NotFoundError."""
    query = (
        select(status, engines.c.EngineName, actions.c.actionName)
        .outerjoin(engines, engines.c.EngineId == status.c.engineId)
        .outerjoin(actions, actions.c.actionId == status.c.actionId)
    )
    if engine is not None:
        ids = conn.execute(select(engines.c.EngineId).where(engines.c.EngineName == engine))
        engine_ids = list(ids.scalars())
        if not engine_ids:
            raise NotFoundError(f"no engine named {engine!r}")
        query = query.where(status.c.engineId.in_(engine_ids))
    if action is not None:
        action_id = conn.execute(
            select(actions.c.actionId).where(actions.c.actionName == action)
        ).scalar()
        if action_id is None:
            raise NotFoundError(f"no action named {action!r}")
        query = query.where(status.c.actionId == action_id)
    if after_id is None:
        query = query.order_by(status.c.statusId.desc())
    else:
        query = query.where(status.c.statusId > after_id).order_by(status.c.statusId)
    return [
        StatusOut(
            status_id=row.statusId,
            engine_id=row.engineId,
            engine=row.EngineName,
            action_id=row.actionId,
            action=row.actionName,
            # Masked again on the way out: rows written before masking, or by other tools.
            message=mask_text(row.StatusMessage or ""),
            date=from_db(row.StatusDate),
        )
        for row in conn.execute(query.limit(limit))
    ]


def last_status_id(conn: Connection) -> int:
    """The newest Status row's id (0 when there is none)."""
    newest = conn.execute(select(status.c.statusId).order_by(status.c.statusId.desc()).limit(1))
    return int(newest.scalar() or 0)


@router.get("", response_model=StatusPage)
def recent_status(
    db: DbDep,
    _principal: ReadAccess,
    engine: Annotated[str | None, Query(max_length=200, description="Engine name.")] = None,
    action: Annotated[str | None, Query(max_length=200, description="Action name.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> StatusPage:
    """The newest Status rows (the activity log), newest first."""
    rows = db.run_read(status_rows, limit=limit, engine=engine, action=action)
    return StatusPage(status=rows)
