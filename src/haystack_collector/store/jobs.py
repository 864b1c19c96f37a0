"""Jobs: runs of an engine's start actions requested through the API, claimed by job runners.

A job is ``queued`` until a runner claims it (``running``, with a lease the runner renews),
then ``done`` or ``failed``; ``cancelled`` when its engine is stopped. A running job whose
lease ran out (its runner died) is claimed again: start actions are idempotent.
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
    JOB_STATES,
    TOKEN_NAME_MAX,
    engines,
    items,
    jobs,
)
from haystack_collector.errors import NotFoundError
from haystack_collector.store._sql import check_length, from_db, utcnow
from haystack_collector.store.catalog import set_engine_disabled
from haystack_collector.store.events import event_counts
from haystack_collector.store.status import StatusRow, add_status, recent_status

CORRELATION_ID_MAX = 64
# States a job never leaves.
FINAL_STATES = ("done", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: int
    engine_id: int
    action: str | None  # None: every start action of the engine
    settings: dict[str, Any]
    state: str  # one of JOB_STATES
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


def create_job(
    conn: Connection,
    *,
    engine_id: int,
    action: str | None = None,
    settings: Mapping[str, Any],
    correlation_id: str | None,
    requested_by: str | None,
) -> int:
    """Queue a job; returns its id."""
    check_length("job action", action, ACTION_NAME_MAX)
    check_length("correlation id", correlation_id, CORRELATION_ID_MAX)
    check_length("requested by", requested_by, TOKEN_NAME_MAX)
    result = conn.execute(
        jobs.insert().values(
            engineId=engine_id,
            jobAction=action,
            jobSettings=json.dumps(dict(settings), sort_keys=True),
            jobState="queued",
            jobCreated=utcnow(),
            jobCorrelationId=correlation_id,
            jobRequestedBy=requested_by,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def claim_jobs(
    conn: Connection,
    *,
    owner: str,
    limit: int,
    lease: timedelta,
    engine_ids: Sequence[int] | None = None,
) -> list[JobRow]:
    """Lease up to ``limit`` queued jobs (or running ones whose lease ran out), oldest first.

    Jobs of disabled engines are left queued. Rows are picked with ``FOR UPDATE SKIP LOCKED``
    on MariaDB and PostgreSQL, so concurrent runners never take the same job; on SQLite the
    caller's write transaction (``BEGIN IMMEDIATE``) serialises claims instead.
    """
    check_length("claim owner", owner, CLAIM_OWNER_MAX)
    if limit < 1 or (engine_ids is not None and not engine_ids):
        return []
    now = utcnow()
    j = jobs.c
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
    query = select(j.jobId).where(_unclaimed(now), j.engineId.in_(enabled))
    query = query.order_by(j.jobId).limit(limit).with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    conn.execute(
        update(jobs)
        .where(j.jobId.in_(ids))
        .values(
            jobState="running",
            jobClaimedBy=owner,
            jobLeaseUntil=now + lease,
            jobStarted=now,
            jobFinished=None,
            jobError=None,
        )
    )
    rows = conn.execute(select(jobs).where(j.jobId.in_(ids)).order_by(j.jobId))
    return [_job_row(row) for row in rows]


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    """Queued, or running on a lease that ran out: a job a runner may claim."""
    j = jobs.c
    expired = or_(j.jobLeaseUntil.is_(None), j.jobLeaseUntil <= now)
    return or_(j.jobState == "queued", and_(j.jobState == "running", expired))


def outstanding_jobs(conn: Connection, *, owner: str, engine_ids: Sequence[int]) -> int:
    """Jobs of ``engine_ids`` a runner named ``owner`` has yet to run: the ones it would claim
    (of enabled engines) and the running jobs it holds (whatever their engine's state)."""
    if not engine_ids:
        return 0
    j = jobs.c
    enabled = select(engines.c.EngineId).where(engines.c.EngineDisabled == false())
    claimable = and_(j.engineId.in_(enabled), _unclaimed(utcnow()))
    held = and_(j.jobState == "running", j.jobClaimedBy == owner)
    query = (
        select(func.count())
        .select_from(jobs)
        .where(j.engineId.in_(list(engine_ids)), or_(claimable, held))
    )
    return int(conn.execute(query).scalar_one())


def renew_jobs(
    conn: Connection, *, owner: str, job_ids: Sequence[int], lease: timedelta
) -> set[int]:
    """Extend the leases of ``owner``'s running jobs; returns the ids it still holds.

    A job missing from the answer was cancelled (its engine stopped) or taken over by another
    runner after its lease ran out: its runner should stop working on it.
    """
    if not job_ids:
        return set()
    j = jobs.c
    held = (j.jobId.in_(list(job_ids)), j.jobState == "running", j.jobClaimedBy == owner)
    conn.execute(update(jobs).where(*held).values(jobLeaseUntil=utcnow() + lease))
    return {int(job_id) for job_id in conn.execute(select(j.jobId).where(*held)).scalars()}


def finish_job(
    conn: Connection, *, job_id: int, owner: str, items_stored: int, events_enqueued: int
) -> bool:
    """Mark ``owner``'s running job done; False if it no longer held it (cancelled, taken)."""
    return _end(
        conn,
        job_id,
        owner=owner,
        state="done",
        items_stored=items_stored,
        events_enqueued=events_enqueued,
        error=None,
    )


def fail_job(
    conn: Connection,
    *,
    job_id: int,
    owner: str,
    error: str,
    items_stored: int = 0,
    events_enqueued: int = 0,
) -> bool:
    """Mark ``owner``'s running job failed with ``error``; False if it no longer held it."""
    return _end(
        conn,
        job_id,
        owner=owner,
        state="failed",
        items_stored=items_stored,
        events_enqueued=events_enqueued,
        error=error,
    )


def _end(
    conn: Connection,
    job_id: int,
    *,
    owner: str,
    state: str,
    items_stored: int,
    events_enqueued: int,
    error: str | None,
) -> bool:
    j = jobs.c
    result = conn.execute(
        update(jobs)
        .where(j.jobId == job_id, j.jobState == "running", j.jobClaimedBy == owner)
        .values(
            jobState=state,
            jobFinished=utcnow(),
            jobLeaseUntil=None,
            jobItemsStored=items_stored,
            jobEventsEnqueued=events_enqueued,
            jobError=error,
        )
    )
    return result.rowcount > 0


def release_jobs(conn: Connection, *, owner: str, job_ids: Sequence[int]) -> int:
    """Put ``owner``'s running jobs back in the queue untouched (a runner shutting down)."""
    if not job_ids:
        return 0
    j = jobs.c
    result = conn.execute(
        update(jobs)
        .where(j.jobId.in_(list(job_ids)), j.jobState == "running", j.jobClaimedBy == owner)
        .values(jobState="queued", jobClaimedBy=None, jobLeaseUntil=None, jobStarted=None)
    )
    return result.rowcount


def cancel_jobs(conn: Connection, *, engine_id: int, reason: str = "engine stopped") -> int:
    """Cancel every queued and running job of the engine; returns how many.

    A runner holding one of them learns it at its next lease renewal and stops running it.
    """
    j = jobs.c
    result = conn.execute(
        update(jobs)
        .where(j.engineId == engine_id, j.jobState.in_(("queued", "running")))
        .values(jobState="cancelled", jobFinished=utcnow(), jobLeaseUntil=None, jobError=reason)
    )
    return result.rowcount


def stop_engine(conn: Connection, *, engine_id: int, message: str) -> int:
    """Disable the engine and cancel its queued and running jobs, with a Status line saying
    ``message`` and how many; returns how many were cancelled."""
    set_engine_disabled(conn, engine_id=engine_id, disabled=True)
    cancelled = cancel_jobs(conn, engine_id=engine_id)
    add_status(conn, message=f"{message}; {cancelled} job(s) cancelled", engine_id=engine_id)
    return cancelled


def set_engine_enabled(conn: Connection, *, engine_id: int, enabled: bool, message: str) -> None:
    """Enable or pause the engine (its events and jobs wait), with a Status line."""
    set_engine_disabled(conn, engine_id=engine_id, disabled=not enabled)
    add_status(conn, message=message, engine_id=engine_id)


def get_job(conn: Connection, *, job_id: int) -> JobRow:
    row = conn.execute(select(jobs).where(jobs.c.jobId == job_id)).first()
    if row is None:
        raise NotFoundError(f"no job {job_id}")
    return _job_row(row)


def job_counts(conn: Connection) -> dict[str, int]:
    """How many jobs are in each state (every state, zero when none is)."""
    counts = dict.fromkeys(JOB_STATES, 0)
    query = select(jobs.c.jobState, func.count()).group_by(jobs.c.jobState)
    counts.update({str(state): int(n) for state, n in conn.execute(query).all()})
    return counts


def list_jobs(
    conn: Connection,
    *,
    limit: int = 50,
    before: int | None = None,
    engine_id: int | None = None,
    state: str | None = None,
) -> list[JobRow]:
    """Newest first; ``before`` (a job id) pages further back."""
    if state is not None and state not in JOB_STATES:
        raise ValueError(f"unknown job state {state!r}")
    query = select(jobs)
    if before is not None:
        query = query.where(jobs.c.jobId < before)
    if engine_id is not None:
        query = query.where(jobs.c.engineId == engine_id)
    if state is not None:
        query = query.where(jobs.c.jobState == state)
    rows = conn.execute(query.order_by(jobs.c.jobId.desc()).limit(limit))
    return [_job_row(row) for row in rows]


def active_and_recent_jobs(
    conn: Connection, *, ended_within: timedelta, limit: int = 500
) -> list[tuple[JobRow, str | None]]:
    """Jobs queued or running and those that ended within ``ended_within``, oldest first,
    each with its engine's name (None when the engine row is gone)."""
    query = (
        select(jobs, engines.c.EngineName)
        .outerjoin(engines, engines.c.EngineId == jobs.c.engineId)
        .where(
            or_(
                jobs.c.jobState.in_(("queued", "running")),
                jobs.c.jobFinished >= utcnow() - ended_within,
            )
        )
        .order_by(jobs.c.jobId)
        .limit(limit)
    )
    return [(_job_row(row), row.EngineName) for row in conn.execute(query)]


def _job_row(row: Row[Any]) -> JobRow:
    created = from_db(row.jobCreated)
    assert created is not None
    return JobRow(
        job_id=row.jobId,
        engine_id=row.engineId,
        action=row.jobAction,
        settings=json.loads(row.jobSettings) if row.jobSettings else {},
        state=row.jobState,
        created=created,
        started=from_db(row.jobStarted),
        finished=from_db(row.jobFinished),
        claimed_by=row.jobClaimedBy,
        lease_until=from_db(row.jobLeaseUntil),
        items_stored=int(row.jobItemsStored or 0),
        events_enqueued=int(row.jobEventsEnqueued or 0),
        error=row.jobError,
        correlation_id=row.jobCorrelationId,
        requested_by=row.jobRequestedBy,
    )


@dataclass(frozen=True, slots=True)
class EngineActivity:
    """What an engine did: its items, its queue, its latest job and Status row."""

    items: int
    events: dict[str, int]  # pending, claimed, done, dead
    last_job: JobRow | None
    last_status: StatusRow | None


def engine_activity(conn: Connection, *, engine_id: int) -> EngineActivity:
    """Counts and last run of one engine (for the engines list)."""
    count = conn.execute(
        select(func.count()).select_from(items).where(items.c.EngineId == engine_id)
    ).scalar()
    latest = list_jobs(conn, limit=1, engine_id=engine_id)
    status_rows = recent_status(conn, limit=1, engine_id=engine_id)
    return EngineActivity(
        items=int(count or 0),
        events=event_counts(conn, engine_id=engine_id),
        last_job=latest[0] if latest else None,
        last_status=status_rows[0] if status_rows else None,
    )
