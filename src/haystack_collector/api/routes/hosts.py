"""``GET /api/hosts``: per-host fetch state (requests, errors, latency, delay, breaker).

Workers report their fetchers' host state in their heartbeats (``Workers.workerStats``); the
API merges the latest heartbeat of every recently seen worker, plus the fetchers of engines
running in this process (an embedded worker reports through its heartbeat too, so those are
only added when given to ``create_app`` through ``app.state.fetchers``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from haystack_collector.api.deps import DbDep, ReadAccess
from haystack_collector.api.models import READ_ERRORS
from haystack_collector.logs import get_logger
from haystack_collector.store.workers import current_hosts, merge_hosts

router = APIRouter(prefix="/api/hosts", tags=["hosts"], responses=READ_ERRORS)
log = get_logger("haystack.api.hosts")

BreakerState = Literal["closed", "half_open", "open"]


class HostOut(BaseModel):
    host: str
    requests: int
    errors: int
    in_flight: int
    delay: float | None  # seconds between requests to the host now
    last_latency: float | None  # seconds
    avg_latency: float | None  # seconds
    breaker: BreakerState


class HostList(BaseModel):
    hosts: list[HostOut]


def _in_process(request: Request) -> dict[str, Any]:
    """Host state of fetchers registered on the app (callables returning ``hosts()``)."""
    sources: Iterable[Callable[[], dict[str, Any]]] = getattr(request.app.state, "fetchers", ())
    snapshots = []
    for source in sources:
        try:
            snapshots.append(source())
        except Exception:  # a fetcher being torn down must not break the page
            log.exception("reading an in-process fetcher's hosts failed")
    return merge_hosts(*snapshots)


@router.get("", response_model=HostList)
def hosts(
    request: Request,
    db: DbDep,
    _principal: ReadAccess,
    breaker: Annotated[BreakerState | None, Query(description="Only hosts in this state.")] = None,
) -> HostList:
    """Every host the workers fetched from recently, by name."""
    merged = merge_hosts(db.run_read(current_hosts), _in_process(request))
    out = []
    for host, info in merged.items():
        state = info.get("breaker")
        item = HostOut(
            host=host,
            requests=info["requests"],
            errors=info["errors"],
            in_flight=info["in_flight"],
            delay=info["delay"],
            last_latency=info["last_latency"],
            avg_latency=info["avg_latency"],
            breaker=state if state in ("closed", "half_open", "open") else "closed",
        )
        if breaker is None or item.breaker == breaker:
            out.append(item)
    return HostList(hosts=out)
