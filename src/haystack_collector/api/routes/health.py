"""``GET /health``: is the database there, how is the pool, the queue and the workers.

Open to every client (load balancers and container health checks carry no token). 200 when
the database answers, else 503 with the same JSON shape (the parts that need the database
left empty) and ``Retry-After``. The details (database, pool, queue, workers with their hosts
and process ids) go only to a client that may read the API (``api_read_access``); anyone else
gets the status and version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from haystack_collector import __version__
from haystack_collector.api.deps import DbDep, can_read
from haystack_collector.api.models import EventCounts, error_responses
from haystack_collector.errors import HaystackError
from haystack_collector.logs import get_logger, redact
from haystack_collector.store.events import event_counts
from haystack_collector.store.workers import recent_workers

router = APIRouter(tags=["health"], responses=error_responses(429))
log = get_logger("haystack.api.health")


class DatabaseHealth(BaseModel):
    ok: bool
    dialect: str
    latency_ms: float
    error: str | None = None


class PoolHealth(BaseModel):
    size: int
    checked_in: int
    checked_out: int
    overflow: int


class WorkerSeen(BaseModel):
    owner: str
    host: str | None
    pid: int | None
    state: str
    started: datetime
    seen: datetime
    finished: int
    failed: int


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]  # degraded: the database answered, a query failed
    version: str
    # None (and no workers) for a client that may not read the API.
    database: DatabaseHealth | None
    pool: PoolHealth | None
    events: EventCounts | None
    workers: list[WorkerSeen]


Details = Annotated[bool, Depends(can_read)]


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database is unreachable."}},
)
def health(db: DbDep, details: Details) -> HealthOut | JSONResponse:
    """Database reachability, pool status, queue counts, recently seen workers, version."""
    checked = db.health_check()
    if not details:
        out = HealthOut(
            status="ok" if checked.ok else "down",
            version=__version__,
            database=None,
            pool=None,
            events=None,
            workers=[],
        )
        if checked.ok:
            return out
        return JSONResponse(
            out.model_dump(mode="json"), status_code=503, headers={"Retry-After": "5"}
        )
    out = HealthOut(
        status="ok" if checked.ok else "down",
        version=__version__,
        database=DatabaseHealth(
            ok=checked.ok,
            dialect=checked.dialect,
            latency_ms=checked.latency_ms,
            error=redact(checked.error) if checked.error else None,
        ),
        pool=PoolHealth(**db.pool_status().as_dict()),
        events=None,
        workers=[],
    )
    if not checked.ok:
        return JSONResponse(
            out.model_dump(mode="json"), status_code=503, headers={"Retry-After": "5"}
        )
    try:
        counts = db.run_read(event_counts)
        workers = db.run_read(recent_workers)
    except HaystackError as error:  # reachable but not answering queries (e.g. not migrated)
        log.warning("health: the database answered but a query failed: %s", error)
        out.status = "degraded"
        assert out.database is not None
        out.database.error = redact(str(error))
        return out
    out.events = EventCounts(**counts)
    out.workers = [
        WorkerSeen(
            owner=w.owner,
            host=w.host,
            pid=w.pid,
            state=w.state,
            started=w.started,
            seen=w.seen,
            finished=w.finished,
            failed=w.failed,
        )
        for w in workers
    ]
    return out
