"""The scheduler fires each due schedule exactly once per due time, whoever else is racing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines import registry
from haystack_collector.errors import ConfigError, NotFoundError
from haystack_collector.queue import SqlQueue
from haystack_collector.scheduler import (
    FiredRun,
    Scheduler,
    fire_due,
    next_due_after,
    next_fire_time,
    run_schedule,
    schedule_engine,
)
from haystack_collector.store.schedules import (
    ScheduleRow,
    add_schedule,
    get_schedule,
    list_schedules,
    remove_schedule,
    set_schedule_enabled,
    validate_timing,
)
from haystack_collector.worker import Worker
from tests.factories import make_engine
from tests.unit.engines.sample_engines import Echo

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- timing maths (no database) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "cron", "after", "expected"),
    [
        (60, None, T0, at(60)),
        (1, None, at(0.5), at(1.5)),
        (None, "*/15 * * * *", T0, at(15 * 60)),  # strictly after a matching minute
        (None, "*/15 * * * *", at(1), at(15 * 60)),
        (None, "0 3 * * *", T0, datetime(2026, 3, 2, 3, 0, tzinfo=UTC)),
        (None, "30 12 * * 1", T0, datetime(2026, 3, 2, 12, 30, tzinfo=UTC)),  # next Monday
        (None, "0 0 1 * *", T0, datetime(2026, 4, 1, tzinfo=UTC)),
    ],
)
def test_next_fire_time(
    interval: int | None, cron: str | None, after: datetime, expected: datetime
) -> None:
    assert next_fire_time(interval=interval, cron=cron, after=after) == expected


def test_naive_times_are_read_as_utc() -> None:
    naive = T0.replace(tzinfo=None)
    assert next_fire_time(interval=60, cron=None, after=naive) == at(60)


@pytest.mark.parametrize(
    ("interval", "cron", "due", "now", "expected"),
    [
        (60, None, T0, T0, at(60)),  # on time
        (60, None, T0, at(59), at(60)),  # late within the period
        (60, None, T0, at(60), at(120)),  # exactly one period late
        (60, None, T0, at(250), at(300)),  # stays on the grid, no drift
        (3600, None, T0, at(7 * 86400 + 1), at(7 * 86400 + 3600)),  # a week down
        (None, "*/15 * * * *", T0, at(3600 + 60), at(3600 + 15 * 60)),
        (None, "*/15 * * * *", T0, T0, at(15 * 60)),
    ],
)
def test_next_due_after(
    interval: int | None, cron: str | None, due: datetime, now: datetime, expected: datetime
) -> None:
    assert next_due_after(interval=interval, cron=cron, due=due, now=now) == expected


@pytest.mark.parametrize(
    ("interval", "cron", "message"),
    [
        (None, None, "exactly one of interval"),
        (60, "* * * * *", "exactly one of interval"),
        (0, None, "whole number of seconds ≥ 1, not 0"),
        (-5, None, "whole number of seconds ≥ 1, not -5"),
        (True, None, "whole number of seconds ≥ 1, not True"),
        (None, "every monday", "invalid cron expression 'every monday': expected five fields"),
        (None, "61 * * * *", r"invalid cron expression '61 \* \* \* \*': .*out of range"),
        (None, "0 0 * * * *", "expected five fields"),
        (None, "", "invalid cron expression ''"),
    ],
)
def test_timing_validation(interval: int | None, cron: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_timing(interval=interval, cron=cron)


# --- stored schedules ---------------------------------------------------------------------


class Recorder:
    """A fire callback that records what it fired, thread-safely."""

    def __init__(self) -> None:
        self.fired: list[tuple[str, datetime]] = []
        self._lock = threading.Lock()

    def __call__(self, schedule: ScheduleRow, due: datetime) -> None:
        with self._lock:
            self.fired.append((schedule.name, due))


def _add(db: Database, name: str, **options: object) -> int:
    with db.transaction() as conn:
        engine = make_engine(conn, name=options.pop("engine_name", None))  # type: ignore[arg-type]
        options.setdefault("interval", 60)
        options.setdefault("first_run", T0)
        return add_schedule(conn, name=name, engine_id=engine.engine_id, **options)  # type: ignore[arg-type]


def test_schedules_are_added_listed_disabled_and_removed(db: Database) -> None:
    _add(db, "hourly", interval=3600, settings={"city": "milwaukee"})
    _add(db, "nightly", interval=None, cron="0 3 * * *", first_run=None, now=T0)
    hourly, nightly = db.run_read(list_schedules)
    assert (hourly.name, hourly.interval, hourly.cron) == ("hourly", 3600, None)
    assert hourly.settings == {"city": "milwaukee"}
    assert (hourly.enabled, hourly.missed_policy, hourly.next_run) == (True, "once", T0)
    assert nightly.next_run == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # from the cron
    db.run(set_schedule_enabled, name="hourly", enabled=False)
    assert [s.name for s in db.run_read(list_schedules, enabled_only=True)] == ["nightly"]
    db.run(remove_schedule, name="nightly")
    assert [s.name for s in db.run_read(list_schedules)] == ["hourly"]
    with pytest.raises(NotFoundError, match="no schedule named 'nightly'"):
        db.run(remove_schedule, name="nightly")
    with pytest.raises(NotFoundError):
        db.run(set_schedule_enabled, name="nightly", enabled=True)


def test_a_bad_schedule_is_refused_before_it_is_stored(db: Database) -> None:
    with pytest.raises(ValueError, match="invalid cron expression"):
        _add(db, "bad", interval=None, cron="60 * * * *")
    with pytest.raises(ValueError, match="missed policy must be one of"):
        _add(db, "bad", missed_policy="all")
    assert db.run_read(list_schedules) == []


def test_a_due_schedule_fires_once_per_due_time(db: Database) -> None:
    _add(db, "every-minute", interval=60)
    recorder = Recorder()
    assert fire_due(db, owner="a", fire=recorder, now=at(-1)) == []  # not due yet
    [run] = fire_due(db, owner="a", fire=recorder, now=at(5))
    assert run == FiredRun("every-minute", T0, at(60), fired=True)
    assert fire_due(db, owner="a", fire=recorder, now=at(30)) == []  # same due time: done
    fire_due(db, owner="a", fire=recorder, now=at(61))
    assert recorder.fired == [("every-minute", T0), ("every-minute", at(60))]
    row = db.run_read(get_schedule, name="every-minute")
    assert (row.last_run, row.next_run, row.lease_owner) == (at(60), at(120), "a")


@pytest.mark.parametrize("rounds", [5])
def test_racing_schedulers_fire_each_due_run_exactly_once(db: Database, rounds: int) -> None:
    names = [f"race-{i}" for i in range(4)]
    for name in names:
        _add(db, name, interval=60)
    recorder = Recorder()
    errors: list[BaseException] = []

    def scheduler(owner: str, barrier: threading.Barrier, now: datetime) -> None:
        try:
            barrier.wait()
            fire_due(db, owner=owner, fire=recorder, now=now)
        except BaseException as error:  # reported to the main thread below
            errors.append(error)

    for round_ in range(rounds):
        now = at(round_ * 60 + 1)
        barrier = threading.Barrier(4)
        threads = [
            threading.Thread(target=scheduler, args=(f"s{i}", barrier, now)) for i in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    expected = sorted((name, at(r * 60)) for name in names for r in range(rounds))
    assert sorted(recorder.fired) == expected  # every due time once, none twice


@pytest.mark.parametrize(
    ("policy", "fired"),
    [("once", [("down", T0)]), ("skip", [])],
)
def test_missed_runs_after_downtime(
    db: Database, policy: str, fired: list[tuple[str, datetime]]
) -> None:
    _add(db, "down", interval=60, missed_policy=policy)
    recorder = Recorder()
    [run] = fire_due(db, owner="a", fire=recorder, now=at(250))  # four due times passed
    assert recorder.fired == fired  # 'once': a single catch-up run, no backlog
    assert run.next_run == at(300)  # the next future time on the grid
    assert run.fired is (policy == "once")
    assert fire_due(db, owner="a", fire=recorder, now=at(299)) == []
    row = db.run_read(get_schedule, name="down")
    assert row.last_run == (T0 if policy == "once" else None)


def test_a_run_late_by_less_than_a_period_fires_even_when_skipping(db: Database) -> None:
    _add(db, "late", interval=60, missed_policy="skip")
    recorder = Recorder()
    fire_due(db, owner="a", fire=recorder, now=at(59))
    assert recorder.fired == [("late", T0)]


def test_disabled_schedules_do_not_fire(db: Database) -> None:
    _add(db, "paused", interval=60)
    recorder = Recorder()
    db.run(set_schedule_enabled, name="paused", enabled=False)
    assert fire_due(db, owner="a", fire=recorder, now=at(10)) == []
    db.run(set_schedule_enabled, name="paused", enabled=True)
    assert len(fire_due(db, owner="a", fire=recorder, now=at(10))) == 1
    assert recorder.fired == [("paused", T0)]


def skip_lines(db: Database, engine_id: int) -> list[str]:
    rows = db.run_read(store.recent_status, engine_id=engine_id)
    return [row.message for row in rows if "skipped" in row.message]


def test_a_due_run_of_a_disabled_engine_is_skipped_recorded_and_the_schedule_moves_on(
    db: Database,
) -> None:
    _add(db, "stopped", interval=60, engine_name="test-engine")
    engine_id = db.run_read(get_schedule, name="stopped").engine_id
    db.run(store.set_engine_disabled, engine_id=engine_id, disabled=True)
    recorder = Recorder()

    [run] = fire_due(db, owner="a", fire=recorder, now=at(10))

    assert recorder.fired == []  # the engine was not started
    assert run == FiredRun(
        "stopped", T0, at(60), fired=False, skipped="engine 'test-engine' is disabled"
    )
    assert skip_lines(db, engine_id) == [
        f"schedule stopped: run due {T0.isoformat()} skipped: engine 'test-engine' is disabled"
    ]
    row = db.run_read(get_schedule, name="stopped")
    assert (row.next_run, row.last_run) == (at(60), None)  # moved on; never ran
    # The same due time is not claimed again: no loop, no second Status row.
    assert fire_due(db, owner="a", fire=recorder, now=at(20)) == []
    assert fire_due(db, owner="b", fire=recorder, now=at(30)) == []
    assert len(skip_lines(db, engine_id)) == 1
    # Each later due time while it stays disabled is skipped once, on the grid.
    [later] = fire_due(db, owner="a", fire=recorder, now=at(61))
    assert (later.due, later.next_run, later.fired) == (at(60), at(120), False)
    assert len(skip_lines(db, engine_id)) == 2
    # Enabled again, it runs at its next due time, with no catch-up of the skipped runs.
    db.run(store.set_engine_disabled, engine_id=engine_id, disabled=False)
    assert fire_due(db, owner="a", fire=recorder, now=at(90)) == []
    [run] = fire_due(db, owner="a", fire=recorder, now=at(121))
    assert run.fired
    assert recorder.fired == [("stopped", at(120))]


def test_a_disabled_engine_missed_for_long_is_skipped_once_not_per_missed_time(
    db: Database,
) -> None:
    _add(db, "long-stopped", interval=60)
    engine_id = db.run_read(get_schedule, name="long-stopped").engine_id
    db.run(store.set_engine_disabled, engine_id=engine_id, disabled=True)
    recorder = Recorder()
    [run] = fire_due(db, owner="a", fire=recorder, now=at(250))  # four due times passed
    assert (run.fired, run.next_run) == (False, at(300))
    assert recorder.fired == []
    assert len(skip_lines(db, engine_id)) == 1


# --- engines on a schedule ----------------------------------------------------------------
def test_a_failing_run_is_reported_and_the_schedule_moves_on(db: Database) -> None:
    _add(db, "flaky", interval=60)
    _add(db, "fine", interval=60)
    recorder = Recorder()

    def fire(schedule: ScheduleRow, due: datetime) -> None:
        if schedule.name == "flaky":
            raise RuntimeError("boom")
        recorder(schedule, due)

    runs = {run.schedule: run for run in fire_due(db, owner="a", fire=fire, now=at(1))}
    assert runs["flaky"].error == "RuntimeError: boom"
    assert runs["fine"].error is None
    assert recorder.fired == [("fine", T0)]
    assert db.run_read(get_schedule, name="flaky").next_run == at(60)


@pytest.fixture
def echo_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "BUILTIN_ENGINES", [Echo])
    registry.discover(refresh=True)
    yield
    monkeypatch.undo()
    registry.discover(refresh=True)


def test_a_schedule_runs_its_engines_start_actions_with_its_settings(
    db: Database, echo_installed: None
) -> None:
    schedule_engine(
        db,
        Echo,
        name="echo-hourly",
        interval=3600,
        settings={"seeds": ["https://s.test/1"]},
        first_run=T0,
    )
    scheduler = Scheduler(db, owner="only")
    [run] = scheduler.run_once(now=at(1))
    assert run.fired
    assert run.error is None
    assert db.run_read(store.find_item_id, uri="https://s.test/1") is not None
    engine_id = Echo.register(db).engine_id
    [status] = db.run_read(store.recent_status, engine_id=engine_id)
    assert status.message.startswith("echo-test:echo-search ok")


def test_schedule_settings_are_validated_when_the_schedule_is_made(db: Database) -> None:
    with pytest.raises(ConfigError, match="pages: Input should be greater than or equal to 1"):
        schedule_engine(db, Echo, name="bad", interval=60, settings={"pages": 0})
    assert db.run_read(list_schedules) == []


def test_a_schedule_whose_engine_is_not_installed_reports_it(db: Database) -> None:
    schedule_engine(db, Echo, name="orphan", interval=60, first_run=T0)
    [run] = fire_due(db, owner="a", fire=run_schedule(db), now=at(1))
    assert run.error is not None
    assert "no engine named 'echo-test'" in run.error


async def test_a_worker_ticks_its_scheduler_until_stopped_and_survives_a_failing_tick(
    db: Database,
) -> None:
    recorder = Recorder()
    _add(db, "now", interval=3600, first_run=datetime.now(UTC) - timedelta(seconds=1))
    scheduler = Scheduler(db, fire=recorder, owner="only")
    ticks = 0
    run_once = scheduler.run_once

    def flaky_tick(now: datetime | None = None) -> list[FiredRun]:
        nonlocal ticks
        ticks += 1
        if ticks == 1:  # e.g. the database was briefly away
            raise ConnectionError("database unavailable")
        return run_once(now)

    scheduler.run_once = flaky_tick  # type: ignore[method-assign]
    worker = Worker(db, SqlQueue(db), [], idle_sleep=0.02, scheduler=scheduler, schedule_every=0.01)
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(500):
            if recorder.fired:
                break
            await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await task
    assert ticks >= 2
    assert [name for name, _due in recorder.fired] == ["now"]


def test_an_engine_stopped_after_the_due_schedules_were_read_is_not_started(
    db: Database, echo_installed: None
) -> None:
    schedule_engine(db, Echo, name="echo-race", interval=60, first_run=T0)
    engine_id = Echo.register(db).engine_id
    start = run_schedule(db)

    def stopped_meanwhile(schedule: ScheduleRow, due: datetime) -> None:
        db.run(store.set_engine_disabled, engine_id=engine_id, disabled=True)  # an API stop
        start(schedule, due)

    [run] = fire_due(db, owner="a", fire=stopped_meanwhile, now=at(1))

    assert (run.fired, run.error) == (False, None)
    assert run.skipped == "engine 'echo-test' is disabled"
    assert db.run_read(store.find_item_id, uri="https://echo.test/a") is None  # never ran
    assert skip_lines(db, engine_id) == [
        f"schedule echo-race: run due {T0.isoformat()} skipped: engine 'echo-test' is disabled"
    ]
    assert db.run_read(get_schedule, name="echo-race").next_run == at(60)


def test_a_schedule_of_an_older_engine_version_obeys_the_installed_engines_flag(
    db: Database, echo_installed: None
) -> None:
    # Made before the engine was upgraded: the schedule points at the old version's row,
    # while the API stops the installed version's row.
    old_id = db.run(store.register_engine, name=Echo.name, version="0.9")
    with db.transaction() as conn:
        add_schedule(conn, name="echo-old", engine_id=old_id, interval=60, first_run=T0)
    installed_id = Echo.register(db).engine_id
    assert installed_id != old_id
    db.run(store.set_engine_disabled, engine_id=installed_id, disabled=True)

    [run] = Scheduler(db, owner="only").run_once(now=at(1))

    assert (run.fired, run.skipped) == (False, "engine 'echo-test' is disabled")
    assert db.run_read(store.find_item_id, uri="https://echo.test/a") is None
    db.run(store.set_engine_disabled, engine_id=installed_id, disabled=False)
    [run] = Scheduler(db, owner="only").run_once(now=at(61))
    assert run.fired
    assert db.run_read(store.find_item_id, uri="https://echo.test/a") is not None
