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
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import Engine, run_start_actions
from haystack_collector.engines.registry import get_engine
from haystack_collector.errors import NotFoundError
from haystack_collector.logs import get_logger
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
    "Scheduler",
    "fire_due",
    "next_due_after",
    "next_fire_time",
    "run_schedule",
    "schedule_engine",
]

log = get_logger("haystack.scheduler")

# Called with the schedule and the due time it fires for; runs the engine's start actions.
FireCallback = Callable[[ScheduleRow, datetime], Any]


@dataclass(frozen=True, slots=True)
class FiredRun:
    """One due schedule this scheduler claimed: whether it fired, and when it is due next."""

    schedule: str
    due: datetime
    next_run: datetime
    fired: bool  # False: a missed run under the 'skip' policy
    error: str | None = None  # the fire callback raised this


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


def run_schedule(db: Database) -> FireCallback:
    """The usual fire callback: run the schedule's engine's start actions with its settings."""

    def fire(schedule: ScheduleRow, due: datetime) -> None:
        row = db.run_read(store.get_engine, engine_id=schedule.engine_id)
        if row is None:
            raise NotFoundError(f"schedule {schedule.name!r}: engine {schedule.engine_id} is gone")
        for result in run_start_actions(get_engine(row.name), db, schedule.settings):
            if not result.ok:
                log.warning(
                    "schedule %s: %s failed: %s", schedule.name, result.action, result.error
                )

    return fire


def fire_due(
    db: Database,
    *,
    owner: str,
    fire: FireCallback,
    now: datetime | None = None,
) -> list[FiredRun]:
    """Claim and fire every schedule due at ``now``; returns what this scheduler claimed."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    runs: list[FiredRun] = []
    for schedule in db.run_read(due_schedules, now=moment):
        due = schedule.next_run
        next_run = next_due_after(
            interval=schedule.interval, cron=schedule.cron, due=due, now=moment
        )
        missed = _later_due_passed(schedule, due, moment)
        fires = not (missed and schedule.missed_policy == "skip")
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
        error = _fire(fire, schedule, due) if fires else None
        if not fires:
            log.info("schedule %s: skipped missed run due %s", schedule.name, due.isoformat())
        runs.append(FiredRun(schedule.name, due, next_run, fires, error))
    return runs


def _later_due_passed(schedule: ScheduleRow, due: datetime, now: datetime) -> bool:
    following = next_fire_time(interval=schedule.interval, cron=schedule.cron, after=due)
    return following <= now


def _fire(fire: FireCallback, schedule: ScheduleRow, due: datetime) -> str | None:
    """Run the callback; its failure is logged and reported, never stops the other schedules."""
    try:
        fire(schedule, due)
    except Exception as error:
        log.exception("schedule %s: run due %s failed", schedule.name, due.isoformat())
        return f"{type(error).__name__}: {error}"
    return None


def default_owner() -> str:
    return f"scheduler@{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


class Scheduler:
    """A loop around ``fire_due``: one tick every ``tick`` seconds until ``stop()``."""

    def __init__(
        self,
        db: Database,
        *,
        fire: FireCallback | None = None,
        owner: str | None = None,
        tick: float = 1.0,
    ) -> None:
        self.db = db
        self.fire = fire or run_schedule(db)
        self.owner = owner or default_owner()
        self.tick = tick
        self._stop = threading.Event()

    def run_once(self, now: datetime | None = None) -> list[FiredRun]:
        return fire_due(self.db, owner=self.owner, fire=self.fire, now=now)

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database outage must not end the loop; the next tick retries
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick)

    def stop(self) -> None:
        self._stop.set()
