"""Routes: runs — engine runs requested through the API, queued for a worker's run executor."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from haystack_collector import store
from haystack_collector.api.deps import DbDep, ReadAccess, SettingsDep, WriteAccess
from haystack_collector.api.models import EventCounts, error_responses
from haystack_collector.db import Database
from haystack_collector.engines.base import Engine
from haystack_collector.engines.registry import get_engine
from haystack_collector.errors import ConfigError, NotFoundError
from haystack_collector.fetch.ssrf import BlockedAddress, check_host
from haystack_collector.logs import get_correlation_id
from haystack_collector.masking import mask_text
from haystack_collector.paths import api_engine_settings
from haystack_collector.store import runs as run_store
from haystack_collector.store.runs import RunRow
from haystack_collector.urls import canonicalize, scheme_of

# What the errors of the runs and engines routes mean there.
RUN_ERRORS = {
    404: "No such engine, action or run.",
    409: "The engine is disabled.",
    422: "Bad input: malformed request, invalid settings, or a refused URL.",
}

# ``LEGACY_PREFIX``: the routes' names before a run was called a run (see ``legacy_router``).
LEGACY_PREFIX = "/api/jobs"
router = APIRouter(
    prefix="/api/runs",
    tags=["runs"],
    responses=error_responses(401, 422, 429, 503, described=RUN_ERRORS),
)

# Ids are 32-bit INTEGER columns on MariaDB and PostgreSQL.
MAX_ID = 2**31 - 1

RunState = Literal["queued", "running", "done", "failed", "cancelled"]


class RunOut(BaseModel):
    """A requested run: what it runs, where it is, and how it went."""

    run_id: int
    engine: str
    action: str | None = Field(description="The start action run; null: all of them.")
    settings: dict[str, Any]
    state: RunState
    created: datetime
    started: datetime | None
    finished: datetime | None
    claimed_by: str | None
    items_stored: int
    events_enqueued: int
    error: str | None
    correlation_id: str | None
    requested_by: str | None


class RunDetail(RunOut):
    """A run with its engine's queue now (the events its run led to are among them)."""

    engine_events: EventCounts


class RunList(BaseModel):
    runs: list[RunOut]
    next: int | None = Field(description="Pass as `before` for older runs; null at the end.")


class RunQueued(BaseModel):
    run_id: int
    engine: str
    action: str | None
    state: RunState


class ScrapeRequest(BaseModel):
    """Run one start action (or all: ``action`` null) of an engine with these parameters."""

    model_config = ConfigDict(extra="forbid")

    engine: str = Field(min_length=1)
    action: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


def run_out(run: RunRow, engine_name: str) -> RunOut:
    return RunOut(
        run_id=run.run_id,
        engine=engine_name,
        action=run.action,
        settings=_masked(run.settings),
        state=run.state,
        created=run.created,
        started=run.started,
        finished=run.finished,
        claimed_by=run.claimed_by,
        items_stored=run.items_stored,
        events_enqueued=run.events_enqueued,
        error=None if run.error is None else mask_text(run.error),
        correlation_id=run.correlation_id,
        requested_by=run.requested_by,
    )


def _masked(value: Any) -> Any:
    """Settings as shown: secrets in their strings masked (runs are readable without a token)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [_masked(each) for each in value]
    if isinstance(value, dict):
        return {key: _masked(each) for key, each in value.items()}
    return value


async def queue_run(
    db: Database,
    engine: type[Engine],
    *,
    action: str | None,
    settings: dict[str, Any],
    allow_private: bool,
    requested_by: str,
) -> RunQueued:
    """Validate the settings (422), check their URLs (422), queue the run; 409 if disabled."""
    validated = engine.validate_settings(settings)
    await check_settings_urls(validated.model_dump(mode="json"), allow_private=allow_private)
    registered = await asyncio.to_thread(engine.register, db)
    # Checked before, not inside, the insert: a run queued in the instant an engine is
    # disabled waits in the queue (claims skip disabled engines) and a stop cancels it.
    if await asyncio.to_thread(
        db.run_read, store.is_engine_disabled, engine_id=registered.engine_id
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"engine {engine.name!r} is disabled; enable it first"
        )
    run_id = await asyncio.to_thread(
        db.run,
        run_store.create_run,
        engine_id=registered.engine_id,
        action=action,
        settings=validated.model_dump(mode="json"),
        correlation_id=get_correlation_id(),
        requested_by=requested_by,
    )
    return RunQueued(run_id=run_id, engine=engine.name, action=action, state="queued")


async def check_settings_urls(settings: Any, *, allow_private: bool, path: str = "") -> None:
    """ConfigError (422) for a URL among ``settings`` that is invalid or whose host is not public.

    URLs that arrive through the API must not make the collector reach into the private
    network (SSRF) unless ``api_allow_private``; every string in the settings is looked at.
    This is the early refusal with a clear message; the fetcher checks again on every hop of
    the work (``origin``), which also covers URLs an engine composes from other settings.
    """
    if allow_private:
        return
    if isinstance(settings, dict):
        for key, value in settings.items():
            await check_settings_urls(value, allow_private=False, path=_join(path, str(key)))
    elif isinstance(settings, list):
        for index, value in enumerate(settings):
            await check_settings_urls(value, allow_private=False, path=_join(path, str(index)))
    elif isinstance(settings, str):
        await _check_url(settings, path or "(settings)")


async def _check_url(value: str, path: str) -> None:
    """Check the URL the engines will fetch: ``value`` as ``urls.canonicalize`` reads it."""
    scheme = _scheme(value)
    if scheme is None:
        return  # not a URL: some other setting
    if scheme in {"http", "https"}:
        # What a browser, and so canonicalize, makes of "http:/host", "http:\\host" and
        # "http://host\\@other" is what gets fetched, so that is what is checked.
        canonical = canonicalize(value)
        url = None if canonical is None else httpx.URL(canonical)
    else:
        try:
            url = httpx.URL(value.strip())
        except httpx.InvalidURL:
            url = None
    if url is None:
        raise ConfigError(f"{path}: not a valid URL", setting=path)
    if not url.host:
        raise ConfigError(f"{path}: not a valid URL: it names no host", setting=path)
    try:
        await check_host(url.host, url.port or _DEFAULT_PORTS[scheme])
    except BlockedAddress as error:
        raise ConfigError(
            f"{path}: {error}; URLs given to the API must be public"
            " (set HAYSTACK_API_ALLOW_PRIVATE=true to allow private addresses)",
            setting=path,
        ) from None


_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


def _scheme(value: str) -> str | None:
    """The scheme of ``value`` if it is one a fetch could use, else None (not a URL)."""
    scheme = scheme_of(value)
    return scheme if scheme in _DEFAULT_PORTS else None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@router.post(
    "/scrape",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunQueued,
    responses=error_responses(404, 409, described=RUN_ERRORS),
)
async def scrape(
    request: ScrapeRequest, db: DbDep, settings: SettingsDep, principal: WriteAccess
) -> RunQueued:
    """Queue a run of one start action (or every one) of an engine with ``parameters``."""
    engine = get_engine(request.engine)
    if request.action is not None:
        spec = engine.actions().get(request.action)
        if spec is None:
            raise NotFoundError(f"engine {engine.name!r} has no action {request.action!r}")
        if spec.kind != "start":
            raise ConfigError(
                f"action {request.action!r} of {engine.name!r} handles queued items;"
                " only start actions can be requested"
            )
    return await queue_run(
        db,
        engine,
        action=request.action,
        settings=api_engine_settings(engine, request.parameters, settings),
        allow_private=settings.api_allow_private,
        requested_by=principal.name,
    )


@router.get("", response_model=RunList, responses=error_responses(404, described=RUN_ERRORS))
def list_runs(
    db: DbDep,
    _: ReadAccess,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Runs older than this id.")
    ] = None,
    engine: Annotated[str | None, Query(description="Only this engine's runs.")] = None,
    state: RunState | None = None,
) -> RunList:
    """Recent runs, newest first."""
    names = _engine_names(db)
    engine_id = None
    if engine is not None:
        engine_id = db.run_read(store.get_engine_id, name=engine)
        if engine_id is None:
            raise NotFoundError(f"no engine named {engine!r}")
    rows = db.run_read(
        run_store.list_runs, limit=limit + 1, before=before, engine_id=engine_id, state=state
    )
    page = rows[:limit]
    return RunList(
        runs=[run_out(row, names.get(row.engine_id, str(row.engine_id))) for row in page],
        next=page[-1].run_id if len(rows) > limit else None,
    )


@router.get(
    "/{run_id:int}", response_model=RunDetail, responses=error_responses(404, described=RUN_ERRORS)
)
def get_run(run_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DbDep, _: ReadAccess) -> RunDetail:
    """A run's progress and outcome; 404 if there is none."""
    run = db.run_read(run_store.get_run, run_id=run_id)
    engine = db.run_read(store.get_engine, engine_id=run.engine_id)
    counts = db.run_read(store.event_counts, engine_id=run.engine_id)
    out = run_out(run, engine.name if engine is not None else str(run.engine_id))
    return RunDetail(**out.model_dump(), engine_events=EventCounts(**counts))


def _engine_names(db: Database) -> dict[int, str]:
    return {row.engine_id: row.name for row in db.run_read(store.list_engines)}


# The legacy names: these routes were ``/api/jobs...`` before an engine run requested through
# the API was called a run. Same handlers, marked deprecated in the OpenAPI schema, and their
# answers carry the names those routes always had (``job_id``, ``jobs``) beside the new ones, so
# a client written against them keeps working.
legacy_router = APIRouter(
    prefix=LEGACY_PREFIX,
    tags=["runs"],
    deprecated=True,
    responses=error_responses(401, 422, 429, 503, described=RUN_ERRORS),
)


class LegacyRunQueued(RunQueued):
    job_id: int = Field(description="The legacy name of `run_id`.")


class LegacyRunOut(RunOut):
    job_id: int = Field(description="The legacy name of `run_id`.")


class LegacyRunDetail(RunDetail):
    job_id: int = Field(description="The legacy name of `run_id`.")


class LegacyRunList(RunList):
    jobs: list[LegacyRunOut] = Field(description="The legacy name of `runs`.")


def _legacy_doc(route: str) -> str:
    return f"Deprecated: the legacy name of `{router.prefix}{route}`; answers also carry `job_id`."


@legacy_router.post(
    "/scrape",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=LegacyRunQueued,
    responses=error_responses(404, 409, described=RUN_ERRORS),
    summary="Scrape (legacy name)",
    description=_legacy_doc("/scrape"),
)
async def legacy_scrape(
    request: ScrapeRequest, db: DbDep, settings: SettingsDep, principal: WriteAccess
) -> LegacyRunQueued:
    queued = await scrape(request, db, settings, principal)
    return LegacyRunQueued(**queued.model_dump(), job_id=queued.run_id)


@legacy_router.get(
    "",
    response_model=LegacyRunList,
    responses=error_responses(404, described=RUN_ERRORS),
    summary="List runs (legacy name)",
    description=_legacy_doc(""),
)
def legacy_list_runs(
    db: DbDep,
    _: ReadAccess,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Runs older than this id.")
    ] = None,
    engine: Annotated[str | None, Query(description="Only this engine's runs.")] = None,
    state: RunState | None = None,
) -> LegacyRunList:
    found = list_runs(db, _, limit=limit, before=before, engine=engine, state=state)
    legacy = [LegacyRunOut(**run.model_dump(), job_id=run.run_id) for run in found.runs]
    return LegacyRunList(runs=found.runs, jobs=legacy, next=found.next)


@legacy_router.get(
    "/{run_id:int}",
    response_model=LegacyRunDetail,
    responses=error_responses(404, described=RUN_ERRORS),
    summary="Get run (legacy name)",
    description=_legacy_doc("/{run_id}"),
)
def legacy_get_run(
    run_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DbDep, access: ReadAccess
) -> LegacyRunDetail:
    run = get_run(run_id, db, access)
    return LegacyRunDetail(**run.model_dump(), job_id=run.run_id)
