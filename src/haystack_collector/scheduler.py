"""The scheduler: fires recurring runs of engines' start actions, stored in ``Schedules``.

Each tick, ``fire_due`` reads the due schedules and claims each with a compare-and-set UPDATE
on its due time (``store.schedules.claim_schedule``). Any number of schedulers may share the
database: exactly one wins each due time and fires it, the others see rowcount 0 and move on.
The claim commits before the run starts, so a run is fired at most once per due time (a
scheduler that dies between the claim and the run loses that run; the next due time fires).

Missed runs, when the scheduler was down (or the schedule disabled) past a due time:

- ``once`` (default): fire one catch-up run now, then schedule the next future time. However
  many due times were missed, there is no backlog storm.
- ``skip``: fire nothing for missed times; just move to the next future time.

A run counts as missed when a later due time has also passed; a run that is merely late by
less than one period (a slow tick) fires under both policies.

A schedule whose engine is disabled (``POST /api/engines/{name}/stop`` or ``.../disable``)
does not start it: each due run is claimed as usual (so the schedule moves on to its next
future time and never fires in a loop), skipped, and recorded as skipped in a Status row of
the engine and a log line. The flag is checked on the schedule's Engines row when the due
schedules are read, and again on the installed engine's row (the one the API disables, a
newer version's row when the engine was upgraded) just before the run would start.

A re-visit policy is a schedule too (``store.revisits``): its tick, claimed the same way, is
handed to the runtime's ``Revisiter`` (revisits.py), which queues the policy's due items
instead of running start actions. A process without one (re-visits off) skips the tick.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import Engine, run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.registry import get_engine
from haystack_collector.errors import NotFoundError
from haystack_collector.logs import get_logger
from haystack_collector.store.revisits import is_revisit
from haystack_collector.store.schedules import (
    MissedPolicy,
    ScheduleRow,
    add_schedule,
    claim_schedule,
    due_schedules,
    next_due_after,
    next_fire_time,
)

__all__ = [
    "FireCallback",
    "FiredRun",
    "RunSkipped",
    "Scheduler",
    "fire_due",
    "next_due_after",
    "next_fire_time",
    "run_schedule",
    "schedule_engine",
]

if TYPE_CHECKING:
    from haystack_collector.revisits import Revisiter

log = get_logger("haystack.scheduler")

# Called with the schedule and the due time it fires for; runs the engine's start actions.
FireCallback = Callable[[ScheduleRow, datetime], Any]


@dataclass(frozen=True, slots=True)
class FiredRun:
    """One due schedule this scheduler claimed: whether it fired, and when it is due next."""

    schedule: str
    due: datetime
    next_run: datetime
    fired: bool  # False: a missed run under the 'skip' policy, or a skipped run
    error: str | None = None  # the fire callback raised this
    skipped: str | None = None  # why the run was skipped (its engine is disabled)


class RunSkipped(Exception):
    """Raised by a fire callback that decided not to start the run (its engine is disabled)."""


def schedule_engine(
    db: Database,
    engine: type[Engine],
    *,
    name: str,
    interval: int | None = None,
    cron: str | None = None,
    settings: Mapping[str, Any] | None = None,
    missed_policy: MissedPolicy = "once",
    first_run: datetime | None = None,
    enabled: bool = True,
) -> int:
    """Store a schedule for ``engine`` after validating its settings (ConfigError if bad)."""
    validated = engine.validate_settings(settings)
    registered = engine.register(db)
    return db.run(
        add_schedule,
        name=name,
        engine_id=registered.engine_id,
        interval=interval,
        cron=cron,
        settings=validated.model_dump(mode="json"),
        missed_policy=missed_policy,
        first_run=first_run,
        enabled=enabled,
    )


def run_schedule(
    db: Database, fetchers: Fetchers | None = None, revisiter: Revisiter | None = None
) -> FireCallback:
    """The usual fire callback: run the schedule's engine's start actions with its settings
    (fetching with ``fetchers``, the runtime's); a re-visit policy's tick goes to
    ``revisiter`` (skipped without one)."""

    def fire(schedule: ScheduleRow, due: datetime) -> None:
        if is_revisit(schedule):
            _revisit(revisiter, schedule, due)
            return
        row = db.run_read(store.get_engine, engine_id=schedule.engine_id)
        if row is None:
            raise NotFoundError(f"schedule {schedule.name!r}: engine {schedule.engine_id} is gone")
        engine = get_engine(row.name)
        # Checked again here: the engine may have been stopped since the due schedules were
        # read, and the API disables the installed version's row, which may not be the
        # schedule's (a schedule made before the engine was upgraded).
        installed = engine.register(db).engine_id
        if row.disabled or db.run_read(store.is_engine_disabled, engine_id=installed):
            raise RunSkipped(f"engine {row.name!r} is disabled")
        for result in run_start_actions(engine, db, schedule.settings, fetchers=fetchers):
            if not result.ok:
                log.warning(
                    "schedule %s: %s failed: %s", schedule.name, result.action, result.error
                )

    return fire


def _revisit(revisiter: Revisiter | None, schedule: ScheduleRow, due: datetime) -> None:
    from haystack_collector.revisits import RevisitsOff  # noqa: PLC0415

    if revisiter is None:
        raise RunSkipped("re-visits are off in this process")
    try:
        revisiter.fire(schedule, due)
    except RevisitsOff as off:
        raise RunSkipped(str(off)) from None


def fire_due(
    db: Database,
    *,
    owner: str,
    fire: FireCallback,
    now: datetime | None = None,
) -> list[FiredRun]:
    """Claim and fire every schedule due at ``now``; returns what this scheduler claimed.

    Due runs of disabled engines are claimed too, and skipped: the schedule moves on.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    # (schedule, whether its engine is disabled)
    due_now = [(each, False) for each in db.run_read(due_schedules, now=moment)]
    due_now += [
        (each, True) for each in db.run_read(due_schedules, now=moment, engines_disabled=True)
    ]
    due_now.sort(key=lambda pair: (pair[0].next_run, pair[0].schedule_id))
    runs: list[FiredRun] = []
    for schedule, engine_disabled in due_now:
        due = schedule.next_run
        next_run = next_due_after(
            interval=schedule.interval, cron=schedule.cron, due=due, now=moment
        )
        missed = _later_due_passed(schedule, due, moment)
        fires = not (missed and schedule.missed_policy == "skip") and not engine_disabled
        won = db.run(
            claim_schedule,
            schedule_id=schedule.schedule_id,
            due=due,
            next_run=next_run,
            owner=owner,
            last_run=due if fires else schedule.last_run,
        )
        if not won:
            continue  # another scheduler claimed this due time first
        error = skipped = None
        if engine_disabled:
            engine = db.run_read(store.get_engine, engine_id=schedule.engine_id)
            skipped = f"engine {engine.name if engine else schedule.engine_id!r} is disabled"
        elif fires:
            error, skipped = _fire(fire, schedule, due)
        else:
            log.info("schedule %s: skipped missed run due %s", schedule.name, due.isoformat())
        if skipped is not None:
            _record_skipped(db, schedule, due, skipped)
        runs.append(
            FiredRun(schedule.name, due, next_run, fires and skipped is None, error, skipped)
        )
    return runs


def _record_skipped(db: Database, schedule: ScheduleRow, due: datetime, reason: str) -> None:
    """A Status row of the schedule's engine (and a log line) for a run that did not start."""
    message = f"schedule {schedule.name}: run due {due.isoformat()} skipped: {reason}"
    log.info("%s", message)
    try:
        db.run(store.add_status, message=message, engine_id=schedule.engine_id)
    except Exception:  # the log line stands; the schedule has moved on either way
        log.exception("schedule %s: could not record the skipped run", schedule.name)


def _later_due_passed(schedule: ScheduleRow, due: datetime, now: datetime) -> bool:
    following = next_fire_time(interval=schedule.interval, cron=schedule.cron, after=due)
    return following <= now


def _fire(
    fire: FireCallback, schedule: ScheduleRow, due: datetime
) -> tuple[str | None, str | None]:
    """Run the callback: (error, skipped). A failure is logged and reported, never stops the
    other schedules; ``RunSkipped`` reports why the callback did not start the run."""
    try:
        fire(schedule, due)
    except RunSkipped as skip:
        return None, str(skip)
    except Exception as error:
        log.exception("schedule %s: run due %s failed", schedule.name, due.isoformat())
        return f"{type(error).__name__}: {error}", None
    return None, None


def default_owner() -> str:
    return f"scheduler@{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


class Scheduler:
    """``fire_due`` with a fixed owner and fire callback; the worker calls ``run_once`` on its
    own loop every few seconds (``Worker.schedule_every``)."""

    def __init__(
        self,
        db: Database,
        *,
        fire: FireCallback | None = None,
        owner: str | None = None,
        fetchers: Fetchers | None = None,
        revisiter: Revisiter | None = None,
    ) -> None:
        self.db = db
        self.revisiter = revisiter
        self.fire = fire or run_schedule(db, fetchers, revisiter)
        self.owner = owner or default_owner()

    def run_once(self, now: datetime | None = None) -> list[FiredRun]:
        return fire_due(self.db, owner=self.owner, fire=self.fire, now=now)
