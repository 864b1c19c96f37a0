"""Routes: engines — what each registered engine does and has done; start, stop, enable, disable.

An engine's "enabled" is the Engines row's ``EngineDisabled`` flag (the original's): workers
and run executors claim nothing of a disabled engine. Stop disables the engine and cancels its
queued and running runs; enable lets it work again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, Field

from haystack_collector import store
from haystack_collector.api.deps import DbDep, ReadAccess, SettingsDep, WriteAccess
from haystack_collector.api.models import EventCounts, StatusOut, error_responses
from haystack_collector.api.routes.runs import RUN_ERRORS, RunOut, RunQueued, queue_run, run_out
from haystack_collector.api.routes.status import status_item
from haystack_collector.db import Database
from haystack_collector.engines.base import Engine
from haystack_collector.engines.registry import all_engines, get_engine
from haystack_collector.paths import api_engine_settings
from haystack_collector.store import runs as run_store
from haystack_collector.store.schedules import list_schedules

router = APIRouter(
    prefix="/api/engines",
    tags=["engines"],
    responses=error_responses(401, 422, 429, 503, described=RUN_ERRORS),
)
NOT_FOUND = error_responses(404, described=RUN_ERRORS)


class ActionOut(BaseModel):
    name: str
    kind: Literal["start", "item"] = Field(
        description="start: run on request or schedule; item: runs on queued items."
    )
    description: str | None


class ScheduleOut(BaseModel):
    name: str
    interval: int | None = Field(description="Seconds between runs, or null for cron.")
    cron: str | None
    enabled: bool
    next_run: datetime
    last_run: datetime | None
    settings: dict[str, Any]


class EngineOut(BaseModel):
    """A registered engine, its settings schema, schedules, last run and counts."""

    name: str
    version: str
    description: str | None
    enabled: bool
    actions: list[ActionOut]
    settings_schema: dict[str, Any] = Field(description="JSON schema of the start settings.")
    schedules: list[ScheduleOut]
    last_run: RunOut | None
    last_status: StatusOut | None
    items: int = Field(description="Items this engine created.")
    events: EventCounts


class EngineList(BaseModel):
    engines: list[EngineOut]


class EngineState(BaseModel):
    name: str
    enabled: bool
    cancelled_runs: int = Field(default=0, description="Runs a stop cancelled.")


@router.get("", response_model=EngineList)
def list_engines(db: DbDep, _: ReadAccess) -> EngineList:
    """Every engine this installation knows, with what it has done."""
    return EngineList(engines=[_engine_out(db, engine) for engine in all_engines()])


@router.get("/{name}", response_model=EngineOut, responses=NOT_FOUND)
def get_one(name: str, db: DbDep, _: ReadAccess) -> EngineOut:
    """One engine; 404 for an unknown name."""
    return _engine_out(db, get_engine(name))


@router.post(
    "/{name}/start",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunQueued,
    responses=error_responses(404, 409, described=RUN_ERRORS),
)
async def start(
    name: str,
    db: DbDep,
    settings: SettingsDep,
    principal: WriteAccess,
    engine_settings: Annotated[
        dict[str, Any] | None, Body(description="The engine's settings (see settings_schema).")
    ] = None,
) -> RunQueued:
    """Queue a run of the engine's start actions; 422 on bad settings or a path outside the
    folders the API may use (``HAYSTACK_API_PATH_ROOTS``), 409 if disabled."""
    engine = get_engine(name)
    return await queue_run(
        db,
        engine,
        action=None,
        settings=api_engine_settings(engine, engine_settings, settings),
        allow_private=settings.api_allow_private,
        requested_by=principal.name,
    )


@router.post("/{name}/stop", response_model=EngineState, responses=NOT_FOUND)
def stop(name: str, db: DbDep, principal: WriteAccess) -> EngineState:
    """Disable the engine (nothing of it is claimed) and cancel its queued and running runs."""
    engine = get_engine(name)
    engine_id = engine.register(db).engine_id
    cancelled = db.run(
        run_store.stop_engine,
        engine_id=engine_id,
        message=f"engine {engine.name} stopped by {principal.name}",
    )
    return EngineState(name=engine.name, enabled=False, cancelled_runs=cancelled)


@router.post("/{name}/enable", response_model=EngineState, responses=NOT_FOUND)
def enable(name: str, db: DbDep, principal: WriteAccess) -> EngineState:
    """Let the engine's events and runs be claimed again."""
    return _set_enabled(db, get_engine(name), enabled=True, by=principal.name)


@router.post("/{name}/disable", response_model=EngineState, responses=NOT_FOUND)
def disable(name: str, db: DbDep, principal: WriteAccess) -> EngineState:
    """Pause the engine: its events and runs stay queued until it is enabled."""
    return _set_enabled(db, get_engine(name), enabled=False, by=principal.name)


def _set_enabled(db: Database, engine: type[Engine], *, enabled: bool, by: str) -> EngineState:
    engine_id = engine.register(db).engine_id
    db.run(
        run_store.set_engine_enabled,
        engine_id=engine_id,
        enabled=enabled,
        message=f"engine {engine.name} {'enabled' if enabled else 'disabled'} by {by}",
    )
    return EngineState(name=engine.name, enabled=enabled)


def _engine_out(db: Database, engine: type[Engine]) -> EngineOut:
    # Read-only: an engine never registered (never run) has no row yet, and nothing done.
    engine_id = db.run_read(store.get_engine_id, name=engine.name, version=engine.version)
    actions = [
        ActionOut(name=spec.name, kind=spec.kind, description=spec.description)
        for spec in engine.actions().values()
    ]
    base = {
        "name": engine.name,
        "version": engine.version,
        "description": engine.description,
        "actions": actions,
        "settings_schema": engine.settings_schema(),
    }
    if engine_id is None:
        return EngineOut(
            **base,
            enabled=True,
            schedules=[],
            last_run=None,
            last_status=None,
            items=0,
            events=EventCounts(pending=0, claimed=0, done=0, dead=0),
        )
    row = db.run_read(store.get_engine, engine_id=engine_id)
    activity = db.run_read(run_store.engine_activity, engine_id=engine_id)
    schedules = db.run_read(list_schedules, engine_id=engine_id)
    last = activity.last_status
    return EngineOut(
        **base,
        enabled=not (row is not None and row.disabled),
        schedules=[
            ScheduleOut(
                name=s.name,
                interval=s.interval,
                cron=s.cron,
                enabled=s.enabled,
                next_run=s.next_run,
                last_run=s.last_run,
                settings=s.settings,
            )
            for s in schedules
        ],
        last_run=None if activity.last_run is None else run_out(activity.last_run, engine.name),
        last_status=None if last is None else status_item(last),
        items=activity.items,
        events=EventCounts(**activity.events),
    )
