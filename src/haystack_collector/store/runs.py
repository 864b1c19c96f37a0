"""Runs: engine start actions requested through the API, queued here and claimed by run executors.

A run is ``queued`` until an executor claims it (``running``, with a lease the executor renews),
then ``done`` or ``failed``; ``cancelled`` when its engine is stopped. A ``running`` run whose
lease ran out (its executor died) is claimed again: start actions are idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, func, or_, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from haystack_collector.db.schema import (
    ACTION_NAME_MAX,
    CLAIM_OWNER_MAX,
    RUN_STATES,
    TOKEN_NAME_MAX,
    engines,
    items,
    runs,
)
from haystack_collector.errors import NotFoundError
from haystack_collector.store._sql import check_length, from_db, utcnow
from haystack_collector.store.catalog import set_engine_disabled
from haystack_collector.store.events import event_counts
from haystack_collector.store.status import StatusRow, add_status, recent_status

CORRELATION_ID_MAX = 64
# States a run never leaves.
FINAL_STATES = ("done", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: int
    engine_id: int
    action: str | None  # None: every start action of the engine
    settings: dict[str, Any]
    state: str  # one of RUN_STATES
    created: datetime
    started: datetime | None
    finished: datetime | None
    claimed_by: str | None
    lease_until: datetime | None
    items_stored: int
    events_enqueued: int
    error: str | None
    correlation_id: str | None
    requested_by: str | None


def create_run(
    conn: Connection,
    *,
    engine_id: int,
    action: str | None = None,
    settings: Mapping[str, Any],
    correlation_id: str | None,
    requested_by: str | None,
) -> int:
    """Queue a run; returns its id."""
    check_length("run action", action, ACTION_NAME_MAX)
    check_length("correlation id", correlation_id, CORRELATION_ID_MAX)
    check_length("requested by", requested_by, TOKEN_NAME_MAX)
    result = conn.execute(
        runs.insert().values(
            engineId=engine_id,
            runAction=action,
            runSettings=json.dumps(dict(settings), sort_keys=True),
            runState="queued",
            runCreated=utcnow(),
            runCorrelationId=correlation_id,
            runRequestedBy=requested_by,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def claim_runs(
    conn: Connection,
    *,
    owner: str,
    limit: int,
    lease: timedelta,
    engine_ids: Sequence[int] | None = None,
) -> list[RunRow]:
    """Lease up to ``limit`` queued runs (or running ones whose lease ran out), oldest first.

    Runs of disabled engines are left queued. Rows are picked with ``FOR UPDATE SKIP LOCKED``
    on MariaDB and PostgreSQL, so concurrent executors never take the same run; on SQLite the
    caller's write transaction (``BEGIN IMMEDIATE``) serialises claims instead.
    """
    check_length("claim owner", owner, CLAIM_OWNER_MAX)
    if limit < 1 or (engine_ids is not None and not engine_ids):
        return []
    now = utcnow()
    r = runs.c
    # Read apart from the locking select, so claiming never locks Engines rows.
    enabled = list(
        conn.execute(
            select(engines.c.EngineId).where(engines.c.EngineDisabled == false())
        ).scalars()
    )
    if engine_ids is not None:
        wanted = set(engine_ids)
        enabled = [engine_id for engine_id in enabled if engine_id in wanted]
    if not enabled:
        return []
    query = select(r.runId).where(_unclaimed(now), r.engineId.in_(enabled))
    query = query.order_by(r.runId).limit(limit).with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    conn.execute(
        update(runs)
        .where(r.runId.in_(ids))
        .values(
            runState="running",
            runClaimedBy=owner,
            runLeaseUntil=now + lease,
            runStarted=now,
            runFinished=None,
            runError=None,
        )
    )
    rows = conn.execute(select(runs).where(r.runId.in_(ids)).order_by(r.runId))
    return [_run_row(row) for row in rows]


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    """Queued, or running on a lease that ran out: a run an executor may claim."""
    r = runs.c
    expired = or_(r.runLeaseUntil.is_(None), r.runLeaseUntil <= now)
    return or_(r.runState == "queued", and_(r.runState == "running", expired))


def outstanding_runs(conn: Connection, *, owner: str, engine_ids: Sequence[int]) -> int:
    """Runs of ``engine_ids`` an executor named ``owner`` has yet to run: the ones it would claim
    (of enabled engines) and the running runs it holds (whatever their engine's state)."""
    if not engine_ids:
        return 0
    r = runs.c
    enabled = select(engines.c.EngineId).where(engines.c.EngineDisabled == false())
    claimable = and_(r.engineId.in_(enabled), _unclaimed(utcnow()))
    held = and_(r.runState == "running", r.runClaimedBy == owner)
    query = (
        select(func.count())
        .select_from(runs)
        .where(r.engineId.in_(list(engine_ids)), or_(claimable, held))
    )
    return int(conn.execute(query).scalar_one())


def renew_runs(
    conn: Connection, *, owner: str, run_ids: Sequence[int], lease: timedelta
) -> set[int]:
    """Extend the leases of ``owner``'s running runs; returns the ids it still holds.

    A run missing from the answer was cancelled (its engine stopped) or taken over by another
    executor after its lease ran out: its executor should stop working on it.
    """
    if not run_ids:
        return set()
    r = runs.c
    held = (r.runId.in_(list(run_ids)), r.runState == "running", r.runClaimedBy == owner)
    conn.execute(update(runs).where(*held).values(runLeaseUntil=utcnow() + lease))
    return {int(run_id) for run_id in conn.execute(select(r.runId).where(*held)).scalars()}


def finish_run(
    conn: Connection, *, run_id: int, owner: str, items_stored: int, events_enqueued: int
) -> bool:
    """Mark ``owner``'s running run done; False if it no longer held it (cancelled, taken)."""
    return _end(
        conn,
        run_id,
        owner=owner,
        state="done",
        items_stored=items_stored,
        events_enqueued=events_enqueued,
        error=None,
    )


def fail_run(
    conn: Connection,
    *,
    run_id: int,
    owner: str,
    error: str,
    items_stored: int = 0,
    events_enqueued: int = 0,
) -> bool:
    """Mark ``owner``'s running run failed with ``error``; False if it no longer held it."""
    return _end(
        conn,
        run_id,
        owner=owner,
        state="failed",
        items_stored=items_stored,
        events_enqueued=events_enqueued,
        error=error,
    )


def _end(
    conn: Connection,
    run_id: int,
    *,
    owner: str,
    state: str,
    items_stored: int,
    events_enqueued: int,
    error: str | None,
) -> bool:
    r = runs.c
    result = conn.execute(
        update(runs)
        .where(r.runId == run_id, r.runState == "running", r.runClaimedBy == owner)
        .values(
            runState=state,
            runFinished=utcnow(),
            runLeaseUntil=None,
            runItemsStored=items_stored,
            runEventsEnqueued=events_enqueued,
            runError=error,
        )
    )
    return result.rowcount > 0


def release_runs(conn: Connection, *, owner: str, run_ids: Sequence[int]) -> int:
    """Put ``owner``'s running runs back in the queue untouched (an executor shutting down)."""
    if not run_ids:
        return 0
    r = runs.c
    result = conn.execute(
        update(runs)
        .where(r.runId.in_(list(run_ids)), r.runState == "running", r.runClaimedBy == owner)
        .values(runState="queued", runClaimedBy=None, runLeaseUntil=None, runStarted=None)
    )
    return result.rowcount


def cancel_runs(conn: Connection, *, engine_id: int, reason: str = "engine stopped") -> int:
    """Cancel every queued and running run of the engine; returns how many.

    An executor holding one of them learns it at its next lease renewal and stops running it.
    """
    r = runs.c
    result = conn.execute(
        update(runs)
        .where(r.engineId == engine_id, r.runState.in_(("queued", "running")))
        .values(runState="cancelled", runFinished=utcnow(), runLeaseUntil=None, runError=reason)
    )
    return result.rowcount


def stop_engine(conn: Connection, *, engine_id: int, message: str) -> int:
    """Disable the engine and cancel its queued and running runs, with a Status line saying
    ``message`` and how many; returns how many were cancelled."""
    set_engine_disabled(conn, engine_id=engine_id, disabled=True)
    cancelled = cancel_runs(conn, engine_id=engine_id)
    add_status(conn, message=f"{message}; {cancelled} run(s) cancelled", engine_id=engine_id)
    return cancelled


def set_engine_enabled(conn: Connection, *, engine_id: int, enabled: bool, message: str) -> None:
    """Enable or pause the engine (its events and runs wait), with a Status line."""
    set_engine_disabled(conn, engine_id=engine_id, disabled=not enabled)
    add_status(conn, message=message, engine_id=engine_id)


def get_run(conn: Connection, *, run_id: int) -> RunRow:
    row = conn.execute(select(runs).where(runs.c.runId == run_id)).first()
    if row is None:
        raise NotFoundError(f"no run {run_id}")
    return _run_row(row)


def run_counts(conn: Connection) -> dict[str, int]:
    """How many runs are in each state (every state, zero when none is)."""
    counts = dict.fromkeys(RUN_STATES, 0)
    query = select(runs.c.runState, func.count()).group_by(runs.c.runState)
    counts.update({str(state): int(n) for state, n in conn.execute(query).all()})
    return counts


def list_runs(
    conn: Connection,
    *,
    limit: int = 50,
    before: int | None = None,
    engine_id: int | None = None,
    state: str | None = None,
) -> list[RunRow]:
    """Newest first; ``before`` (a run id) pages further back."""
    if state is not None and state not in RUN_STATES:
        raise ValueError(f"unknown run state {state!r}")
    query = select(runs)
    if before is not None:
        query = query.where(runs.c.runId < before)
    if engine_id is not None:
        query = query.where(runs.c.engineId == engine_id)
    if state is not None:
        query = query.where(runs.c.runState == state)
    rows = conn.execute(query.order_by(runs.c.runId.desc()).limit(limit))
    return [_run_row(row) for row in rows]


def active_and_recent_runs(
    conn: Connection, *, ended_within: timedelta, limit: int = 500
) -> list[tuple[RunRow, str | None]]:
    """Runs queued or running and those that ended within ``ended_within``, oldest first,
    each with its engine's name (None when the engine row is gone)."""
    query = (
        select(runs, engines.c.EngineName)
        .outerjoin(engines, engines.c.EngineId == runs.c.engineId)
        .where(
            or_(
                runs.c.runState.in_(("queued", "running")),
                runs.c.runFinished >= utcnow() - ended_within,
            )
        )
        .order_by(runs.c.runId)
        .limit(limit)
    )
    return [(_run_row(row), row.EngineName) for row in conn.execute(query)]


def _run_row(row: Row[Any]) -> RunRow:
    created = from_db(row.runCreated)
    assert created is not None
    return RunRow(
        run_id=row.runId,
        engine_id=row.engineId,
        action=row.runAction,
        settings=json.loads(row.runSettings) if row.runSettings else {},
        state=row.runState,
        created=created,
        started=from_db(row.runStarted),
        finished=from_db(row.runFinished),
        claimed_by=row.runClaimedBy,
        lease_until=from_db(row.runLeaseUntil),
        items_stored=int(row.runItemsStored or 0),
        events_enqueued=int(row.runEventsEnqueued or 0),
        error=row.runError,
        correlation_id=row.runCorrelationId,
        requested_by=row.runRequestedBy,
    )


@dataclass(frozen=True, slots=True)
class EngineActivity:
    """What an engine did: its items, its queue, its latest run and Status row."""

    items: int
    events: dict[str, int]  # pending, claimed, done, dead
    last_run: RunRow | None
    last_status: StatusRow | None


def engine_activity(conn: Connection, *, engine_id: int) -> EngineActivity:
    """Counts and last run of one engine (for the engines list)."""
    count = conn.execute(
        select(func.count()).select_from(items).where(items.c.EngineId == engine_id)
    ).scalar()
    latest = list_runs(conn, limit=1, engine_id=engine_id)
    status_rows = recent_status(conn, limit=1, engine_id=engine_id)
    return EngineActivity(
        items=int(count or 0),
        events=event_counts(conn, engine_id=engine_id),
        last_run=latest[0] if latest else None,
        last_status=status_rows[0] if status_rows else None,
    )
