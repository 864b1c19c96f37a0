"""Schedules: recurring runs of an engine's start actions, and the atomic claim of a due run.

Timing rules live here with the rows, so a schedule can never be stored with a timing the
scheduler could not compute:

- exactly one of ``interval`` (whole seconds, at least 1) and ``cron`` (a croniter expression,
  read in UTC) is set;
- interval runs stay on their grid (first due time + k * interval), so they never drift.

``claim_schedule`` is the race guard: a conditional UPDATE on the due time the caller read, so
of several schedulers that saw the same due run exactly one gets rowcount 1 and fires it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row

from haystack_collector.db.schema import (
    CLAIM_OWNER_MAX,
    SCHEDULE_CRON_MAX,
    SCHEDULE_NAME_MAX,
    engines,
    schedules,
)
from haystack_collector.errors import NotFoundError
from haystack_collector.store._sql import check_length, from_db, to_db, utcnow

MissedPolicy = Literal["once", "skip"]
MISSED_POLICIES: tuple[MissedPolicy, ...] = ("once", "skip")


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    schedule_id: int
    engine_id: int
    name: str
    interval: int | None  # seconds
    cron: str | None
    settings: dict[str, Any]
    enabled: bool
    next_run: datetime  # aware UTC
    last_run: datetime | None
    missed_policy: MissedPolicy
    lease_owner: str | None  # the scheduler that claimed the last run
    created: datetime | None


def validate_timing(*, interval: int | None, cron: str | None) -> None:
    """Raise ValueError unless exactly one of a whole ``interval`` ≥ 1 s and a valid ``cron``."""
    if (interval is None) == (cron is None):
        raise ValueError("a schedule needs exactly one of interval (seconds) and cron")
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(
                f"schedule interval must be a whole number of seconds ≥ 1, not {interval!r}"
            )
        return
    assert cron is not None
    check_length("cron expression", cron, SCHEDULE_CRON_MAX)
    expected = (
        "expected five fields 'minute hour day-of-month month day-of-week', e.g. '*/15 * * * *'"
    )
    # Five fields only: croniter's optional seconds and year fields would make the stored
    # expressions mean something other cron tools read them as.
    if len(cron.split()) != 5:
        raise ValueError(f"invalid cron expression {cron!r}: {expected}")
    try:
        croniter(cron)
    except (ValueError, KeyError) as error:  # CroniterBadCronError is a ValueError
        raise ValueError(f"invalid cron expression {cron!r}: {error}; {expected}") from None


def next_fire_time(*, interval: int | None, cron: str | None, after: datetime) -> datetime:
    """The first due time strictly after ``after`` for a timing starting at ``after``.

    Interval: ``after + interval``. Cron: the next matching minute after ``after`` (UTC).
    """
    validate_timing(interval=interval, cron=cron)
    moment = _aware(after)
    if interval is not None:
        return moment + timedelta(seconds=interval)
    found = croniter(cron, moment).get_next(datetime)
    return _aware(cast(datetime, found))


def next_due_after(
    *, interval: int | None, cron: str | None, due: datetime, now: datetime
) -> datetime:
    """The first due time of the schedule strictly after ``now``, given a due time ``due``.

    Interval schedules stay on the grid ``due + k * interval`` rather than restarting at
    ``now``, so a late scheduler tick does not shift every later run.
    """
    due, now = _aware(due), _aware(now)
    if interval is not None and now >= due:
        validate_timing(interval=interval, cron=cron)
        steps = math.floor((now - due).total_seconds() / interval) + 1
        return due + timedelta(seconds=steps * interval)
    return next_fire_time(interval=interval, cron=cron, after=max(due, now))


def add_schedule(
    conn: Connection,
    *,
    name: str,
    engine_id: int,
    interval: int | None = None,
    cron: str | None = None,
    settings: dict[str, Any] | None = None,
    enabled: bool = True,
    missed_policy: MissedPolicy = "once",
    first_run: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Create a schedule; its first run is ``first_run``, else the timing's next time after now.

    The settings are stored as given; validate them against the engine's model first (the
    scheduler's ``schedule_engine`` does).
    """
    check_length("schedule name", name, SCHEDULE_NAME_MAX)
    validate_timing(interval=interval, cron=cron)
    if missed_policy not in MISSED_POLICIES:
        raise ValueError(f"missed policy must be one of {MISSED_POLICIES}, not {missed_policy!r}")
    created = _aware(now) if now is not None else _aware(utcnow())
    next_run = first_run or next_fire_time(interval=interval, cron=cron, after=created)
    result = conn.execute(
        schedules.insert().values(
            engineId=engine_id,
            scheduleName=name,
            scheduleInterval=interval,
            scheduleCron=cron,
            scheduleSettings=json.dumps(settings or {}, sort_keys=True),
            scheduleEnabled=enabled,
            scheduleNextRun=to_db(next_run),
            scheduleMissedPolicy=missed_policy,
            scheduleCreated=to_db(created),
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def get_schedule(conn: Connection, *, name: str) -> ScheduleRow:
    row = conn.execute(select(schedules).where(schedules.c.scheduleName == name)).first()
    if row is None:
        raise NotFoundError(f"no schedule named {name!r}")
    return _schedule_row(row)


def list_schedules(
    conn: Connection, *, engine_id: int | None = None, enabled_only: bool = False
) -> list[ScheduleRow]:
    query = select(schedules)
    if engine_id is not None:
        query = query.where(schedules.c.engineId == engine_id)
    if enabled_only:
        query = query.where(schedules.c.scheduleEnabled.is_(True))
    return [_schedule_row(row) for row in conn.execute(query.order_by(schedules.c.scheduleName))]


def remove_schedule(conn: Connection, *, name: str) -> None:
    result = conn.execute(schedules.delete().where(schedules.c.scheduleName == name))
    if result.rowcount == 0:
        raise NotFoundError(f"no schedule named {name!r}")


def set_schedule_enabled(conn: Connection, *, name: str, enabled: bool) -> None:
    """Enable or disable; a schedule enabled again after a pause follows its missed policy."""
    result = conn.execute(
        update(schedules).where(schedules.c.scheduleName == name).values(scheduleEnabled=enabled)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no schedule named {name!r}")


def due_schedules(
    conn: Connection, *, now: datetime, limit: int = 100, engines_disabled: bool = False
) -> list[ScheduleRow]:
    """Enabled schedules of enabled engines (with ``engines_disabled``: of disabled ones) whose
    next run is at or before ``now``, oldest first."""
    rows = conn.execute(
        select(schedules)
        .join(engines, engines.c.EngineId == schedules.c.engineId)
        .where(
            schedules.c.scheduleEnabled.is_(True),
            engines.c.EngineDisabled.is_(engines_disabled),
            schedules.c.scheduleNextRun <= to_db(_aware(now)),
        )
        .order_by(schedules.c.scheduleNextRun, schedules.c.scheduleId)
        .limit(limit)
    )
    return [_schedule_row(row) for row in rows]


def claim_schedule(
    conn: Connection,
    *,
    schedule_id: int,
    due: datetime,
    next_run: datetime,
    owner: str,
    last_run: datetime | None,
) -> bool:
    """Move a schedule from ``due`` to ``next_run``; True only for the one caller that did.

    The WHERE on the due time the caller read makes this a compare-and-set: a scheduler that
    read the same row but comes second matches nothing (the row already moved on).
    """
    check_length("scheduler owner", owner, CLAIM_OWNER_MAX)
    result = conn.execute(
        update(schedules)
        .where(
            schedules.c.scheduleId == schedule_id,
            schedules.c.scheduleNextRun == to_db(_aware(due)),
        )
        .values(
            scheduleNextRun=to_db(_aware(next_run)),
            scheduleLastRun=to_db(last_run),
            scheduleLeaseOwner=owner,
        )
    )
    return result.rowcount == 1


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC throughout the store."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _schedule_row(row: Row[Any]) -> ScheduleRow:
    next_run = from_db(row.scheduleNextRun)
    assert next_run is not None  # NOT NULL column
    return ScheduleRow(
        schedule_id=row.scheduleId,
        engine_id=row.engineId,
        name=row.scheduleName,
        interval=row.scheduleInterval,
        cron=row.scheduleCron,
        settings=json.loads(row.scheduleSettings or "{}"),
        enabled=bool(row.scheduleEnabled),
        next_run=next_run,
        last_run=from_db(row.scheduleLastRun),
        missed_policy=cast(MissedPolicy, row.scheduleMissedPolicy),
        lease_owner=row.scheduleLeaseOwner,
        created=from_db(row.scheduleCreated),
    )
