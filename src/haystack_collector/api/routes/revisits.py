"""Re-visit policies (``GET /api/revisits``, ``PUT``/``DELETE /api/revisits/{engine}``) and an
item's visits (``GET /api/items/{item_id}/visits``). Writes need a token.

The policies are ``store.revisits``'s (see docs/revisits.md); a worker's scheduler fires them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, status
from pydantic import BaseModel, Field

from haystack_collector import store
from haystack_collector.api.deps import DbDep, ReadAccess, WriteAccess
from haystack_collector.api.models import error_responses
from haystack_collector.engines.registry import get_engine
from haystack_collector.errors import ConfigError, NotFoundError
from haystack_collector.store.revisits import (
    REVISIT_PREFIX,
    RevisitPolicy,
    Visit,
    item_visits_of,
    list_revisit_policies,
    remove_revisit_policy,
    set_revisit_policy,
)

router = APIRouter(tags=["revisits"], responses=error_responses(401, 422, 429, 503))

SITE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class PolicyIn(BaseModel):
    """A re-visit policy for the engine in the path (durations in seconds)."""

    every: int = Field(ge=1, le=366 * 86400, description="Seconds between ticks.")
    older_than: int | None = Field(
        default=None, ge=0, le=10 * 366 * 86400, description="Default: half of every."
    )
    batch: int | None = Field(default=None, ge=1, le=1_000_000)
    site: str | None = Field(default=None, pattern=SITE_PATTERN, description="sites only.")
    enabled: bool = True


class PolicyOut(BaseModel):
    name: str
    engine: str | None
    every: int
    older_than: int
    batch: int | None
    site: str | None
    crawl: int | None
    enabled: bool
    next_run: datetime | None
    last_run: datetime | None


class PolicyList(BaseModel):
    policies: list[PolicyOut]


class VisitOut(BaseModel):
    visit_id: int
    item_id: int
    engine_id: int | None
    date: datetime
    outcome: Literal["unchanged", "changed", "gone"]
    status: int | None


class VisitList(BaseModel):
    visits: list[VisitOut]


def _out(policy: RevisitPolicy, engines: dict[int, str]) -> PolicyOut:
    return PolicyOut(
        name=policy.name,
        engine=engines.get(policy.engine_id),
        every=policy.every,
        older_than=policy.older_than,
        batch=policy.batch,
        site=policy.site,
        crawl=policy.crawl,
        enabled=policy.enabled,
        next_run=policy.next_run,
        last_run=policy.last_run,
    )


def _engine_names(db: DbDep) -> dict[int, str]:
    return {row.engine_id: row.name for row in db.run_read(store.list_engines)}


@router.get("/api/revisits", response_model=PolicyList)
def policies(db: DbDep, _principal: ReadAccess) -> PolicyList:
    """Every re-visit policy, crawls' included."""
    engines = _engine_names(db)
    return PolicyList(policies=[_out(p, engines) for p in db.run_read(list_revisit_policies)])


@router.put("/api/revisits/{engine}", response_model=PolicyOut, responses=error_responses(404))
def set_policy(
    engine: str,
    db: DbDep,
    _principal: WriteAccess,
    body: Annotated[PolicyIn, Body()],
) -> PolicyOut:
    """Set (or replace) the engine's re-visit policy (with ``site``: one site definition's)."""
    engine_class = get_engine(engine)  # NotFoundError: 404
    if engine_class.revisit is None:
        raise ConfigError(f"engine {engine!r} does not re-visit what it collects")
    if body.site is not None and engine_class.name != "sites":
        raise ConfigError("site applies to the sites engine only")
    name = f"{REVISIT_PREFIX}{engine_class.name}" + (f":{body.site}" if body.site else "")
    policy = RevisitPolicy(
        name=name,
        engine_id=engine_class.register(db).engine_id,
        every=body.every,
        older_than=body.every // 2 if body.older_than is None else body.older_than,
        batch=body.batch,
        site=body.site,
        enabled=body.enabled,
    )
    db.run(set_revisit_policy, policy=policy)
    [stored] = [p for p in db.run_read(list_revisit_policies) if p.name == name]
    return _out(stored, _engine_names(db))


@router.delete(
    "/api/revisits/{engine}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
)
def remove_policy(
    engine: str,
    db: DbDep,
    _principal: WriteAccess,
    site: Annotated[str | None, Query(pattern=SITE_PATTERN)] = None,
) -> None:
    """Remove the engine's re-visit policy (with ``site``: one site definition's)."""
    name = f"{REVISIT_PREFIX}{engine}" + (f":{site}" if site else "")
    if not db.run(remove_revisit_policy, name=name):
        raise NotFoundError(f"no re-visit policy named {name!r}")


@router.get("/api/items/{item_id}/visits", response_model=VisitList, responses=error_responses(404))
def visits(
    item_id: Annotated[int, Path(ge=0, le=2**31 - 1)],
    db: DbDep,
    _principal: ReadAccess,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> VisitList:
    """The item's re-visits, newest first: unchanged, changed or gone, with the HTTP status."""
    if db.run_read(store.get_item, item_id=item_id) is None:
        raise NotFoundError(f"no item {item_id}")
    rows: list[Visit] = db.run_read(item_visits_of, item_id=item_id, limit=limit)
    return VisitList(
        visits=[
            VisitOut(
                visit_id=v.visit_id,
                item_id=v.item_id,
                engine_id=v.engine_id,
                date=v.date,
                outcome=v.outcome,
                status=v.status,
            )
            for v in rows
        ]
    )
