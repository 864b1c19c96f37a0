"""``Runtime``: what each command's parts build, that settings reach the parts, and that a
part switches itself off when it has nothing to do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from haystack_collector.db import Database
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.fetch import FetchSettings
from haystack_collector.runtime import API_ONLY, CRAWL, RUN, SERVE, WORKER, Parts, Runtime
from haystack_collector.settings import Settings, load_settings


class Quiet(FetchingEngine):
    name = "runtime-test-quiet"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'haystack.db'}",
        worker_concurrency=7,
        download_delay=0.25,
        per_host_concurrency=3,
        obey_robots=False,
        worker_stall_timeout=6,
        worker_name="rack-7",
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database.from_settings(settings)
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("parts", "built"),
    [
        # haystack worker
        (WORKER, ["revisiter", "scheduler", "run_executor", "worker", "notifier"]),
        (RUN, ["worker"]),  # haystack run ENGINE
        (CRAWL, ["worker"]),  # haystack crawl
        # haystack serve
        (SERVE, ["revisiter", "scheduler", "run_executor", "worker", "notifier"]),
        (API_ONLY, []),  # haystack serve --no-worker, and the extra API processes
    ],
)
def test_each_command_runs_its_parts(
    settings: Settings, db: Database, parts: Parts, built: list[str]
) -> None:
    runtime = Runtime.from_settings(settings, db=db, parts=parts, engines=[Quiet])
    assert runtime.parts_built() == built


def test_only_a_crawl_ignores_the_config_table(settings: Settings, db: Database) -> None:
    for parts, follows in ((WORKER, True), (RUN, True), (SERVE, True), (CRAWL, False)):
        worker = Runtime.from_settings(settings, db=db, parts=parts, engines=[Quiet]).worker
        assert worker is not None
        assert (worker.config_every is not None) is follows, parts


def test_the_settings_reach_every_part(settings: Settings, db: Database) -> None:
    runtime = Runtime.from_settings(settings, db=db, engines=[Quiet], drain=True, lease=42)
    worker, runner, scheduler = runtime.worker, runtime.run_executor, runtime.scheduler
    assert worker is not None
    assert runner is not None
    assert scheduler is not None
    assert worker.concurrency == 7  # worker_concurrency
    assert runtime.fetch_settings == settings.fetch_settings()
    assert runtime.fetchers.settings_for(Quiet.name).min_delay == 0.25  # download_delay
    assert runtime.fetchers.settings_for(Quiet.name).per_host_concurrency == 3
    assert not runtime.fetchers.settings_for(Quiet.name).obey_robots
    # One set of fetchers for the process: the worker's, the runner's, the scheduler's.
    assert worker.fetchers is runtime.fetchers
    assert runner.fetchers is runtime.fetchers
    assert worker.queue is runtime.queue
    assert runtime.queue.policy.lease == timedelta(seconds=42)
    assert worker.scheduler is scheduler
    assert worker.runs_outstanding == runner.outstanding  # a drain waits for API runs too
    assert runtime.threads == 7 + 8
    # Crash recovery: when the others count this worker dead, and the name in its owner id.
    assert worker.stall_timeout == 6  # worker_stall_timeout
    assert worker.heartbeat_every == 2  # three beats per stall timeout
    assert worker.owner.startswith("rack-7:")  # worker_name


def test_a_commands_choices_win_over_the_settings(settings: Settings, db: Database) -> None:
    crawl = FetchSettings(min_delay=0.0, per_host_concurrency=16)
    runtime = Runtime.from_settings(
        settings, db=db, parts=CRAWL, engines=[Quiet], fetch=crawl, concurrency=16, claim_batch=32
    )
    assert runtime.worker is not None
    assert runtime.worker.concurrency == 16
    assert runtime.worker.claim_batch == 32
    assert runtime.fetchers.settings_for(Quiet.name) == crawl
    assert runtime.worker.runs_outstanding is None  # no run executor to wait for


def test_an_engine_can_fetch_with_settings_of_its_own(settings: Settings, db: Database) -> None:
    own = FetchSettings(min_delay=5.0)
    runtime = Runtime.from_settings(
        settings, db=db, engines=[Quiet], engine_fetch={"other-engine": own}
    )
    assert runtime.fetchers.settings_for("other-engine") == own
    assert runtime.fetchers.settings_for(Quiet.name).min_delay == 0.25


def test_parts_switch_themselves_off(settings: Settings, db: Database) -> None:
    # No engine: no worker and no run executor (nothing to run), so no scheduler (nothing ticks it).
    idle = Runtime.from_settings(settings, db=db, engines=[])
    assert idle.parts_built() == []
    assert idle.threads == 8
    with pytest.raises(RuntimeError, match="no worker"):
        idle.run()
    # --no-scheduler: the worker fires no schedules.
    unscheduled = Runtime.from_settings(
        settings, db=db, parts=Parts(scheduler=False), engines=[Quiet]
    )
    assert unscheduled.parts_built() == ["run_executor", "worker", "notifier"]
    assert unscheduled.worker is not None
    assert unscheduled.worker.scheduler is None
    # Re-visits off: the scheduler skips the re-visit policies' ticks.
    unvisited = Runtime.from_settings(settings, db=db, parts=Parts(revisits=False), engines=[Quiet])
    assert unvisited.parts_built() == ["scheduler", "run_executor", "worker", "notifier"]
    assert unvisited.scheduler is not None
    assert unvisited.scheduler.revisiter is None
    # The scheduler is fired by the worker: asked for without one, it is off.
    assert Runtime.from_settings(settings, db=db, parts=Parts(worker=False)).scheduler is None


def test_a_runtime_disposes_only_the_database_it_opened(settings: Settings, db: Database) -> None:
    with Runtime.from_settings(settings, parts=API_ONLY) as opened:
        assert opened.db is not db
    with Runtime.from_settings(settings, db=db, parts=API_ONLY) as given:
        assert given.db is db
    assert db.health_check().ok  # still usable: the caller disposes it
