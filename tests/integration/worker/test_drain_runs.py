"""``haystack worker --drain`` runs the runs queued through the API (engine starts) as well as
the events, and exits only once neither is left: the events a run queues are run too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner, Result

from haystack_collector import store
from haystack_collector.cli import app
from haystack_collector.db import Database
from haystack_collector.engines import ActionContext, Engine, item_action, registry, start_action
from haystack_collector.queue import Task
from haystack_collector.store import ItemRecord
from haystack_collector.store import runs as run_store


class SeederSettings(BaseModel):
    uris: list[str] = Field(default_factory=list)
    sleep: float = 0.0  # seconds the start action takes, so the drain must wait for it


class Seeder(Engine):
    """Its start action stores its URIs and queues one fetch event each; a fetch marks the
    item fetched (what a drain that left the events behind would never do)."""

    name = "drain-seeder-test"
    description = "Seeds items and queues them"
    Settings = SeederSettings

    @start_action("drain-seed")
    def seed(self, ctx: ActionContext) -> None:
        assert isinstance(ctx.settings, SeederSettings)
        time.sleep(ctx.settings.sleep)
        result = ctx.store_items([ItemRecord(uri=uri) for uri in ctx.settings.uris])
        ctx.enqueue("drain-fetch", [result.item_ids[uri] for uri in ctx.settings.uris])

    @item_action("drain-fetch")
    def fetch(self, ctx: ActionContext, task: Task) -> None:
        ctx.store_items([ItemRecord(uri=task.uri, data={"fetched": "yes"})])


@pytest.fixture
def seeder(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Seeder]]:
    monkeypatch.setattr(registry, "BUILTIN_ENGINES", [Seeder])
    registry.discover(refresh=True)
    yield Seeder
    monkeypatch.undo()
    registry.discover(refresh=True)


def drain(db: Database, *extra: str) -> Result:
    url = db.url.render_as_string(hide_password=False)
    command = ["--database-url", url, "worker", "--drain", "--no-scheduler", "--json", *extra]
    return CliRunner().invoke(app, [*command, "-e", Seeder.name], catch_exceptions=False)


def queue_run(db: Database, *, action: str | None = None, **settings: object) -> int:
    """A run as ``POST /api/runs/scrape`` (or ``POST /api/engines/{name}/start``) queues it."""
    engine_id = Seeder.register(db).engine_id
    return db.run(
        run_store.create_run,
        engine_id=engine_id,
        action=action,
        settings=settings,
        correlation_id="drain-test",
        requested_by="tests",
    )


def fetched(db: Database, uri: str) -> bool:
    item_id = db.run_read(store.find_item_id, uri=uri)
    if item_id is None:
        return False
    return db.run_read(store.get_item_value, item_id=item_id, key="fetched") == "yes"


def run_state(db: Database, run_id: int) -> str:
    return db.run_read(run_store.get_run, run_id=run_id).state


def events(db: Database) -> dict[str, int]:
    engine_id = Seeder.register(db).engine_id
    return db.run_read(store.event_counts, engine_id=engine_id)


def test_drain_runs_queued_runs_and_the_events_they_queue_then_exits(
    db: Database, seeder: type[Seeder]
) -> None:
    uris = [f"https://drain.test/{i}" for i in range(3)]
    slow = queue_run(db, uris=uris[:2], sleep=1.0)  # still running when the queue is empty
    named = queue_run(db, action="drain-seed", uris=uris[2:])  # one start action, by name

    result = drain(db)

    assert result.exit_code == 0, result.output
    assert (run_state(db, slow), run_state(db, named)) == ("done", "done")
    assert all(fetched(db, uri) for uri in uris)  # their events ran before the exit
    counts = events(db)
    assert (counts["pending"], counts["claimed"], counts["done"]) == (0, 0, 3)
    stats = json.loads(result.stdout)
    assert stats["finished"] == 3


def test_drain_with_nothing_queued_exits_at_once(db: Database, seeder: type[Seeder]) -> None:
    started = time.monotonic()
    result = drain(db)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 10


def test_a_failing_run_ends_the_drain_like_a_finished_one(
    db: Database, seeder: type[Seeder]
) -> None:
    bad = queue_run(db, action="no-such-action")
    good = queue_run(db, uris=["https://drain.test/good"])

    result = drain(db)

    assert result.exit_code == 0, result.output
    failed = db.run_read(run_store.get_run, run_id=bad)
    assert failed.state == "failed"
    assert "no start action 'no-such-action'" in (failed.error or "")
    assert run_state(db, good) == "done"
    assert fetched(db, "https://drain.test/good")


def test_drain_does_not_wait_for_runs_of_a_disabled_engine(
    db: Database, seeder: type[Seeder]
) -> None:
    run_id = queue_run(db, uris=["https://drain.test/stopped"])
    engine_id = Seeder.register(db).engine_id
    db.run(store.set_engine_disabled, engine_id=engine_id, disabled=True)

    result = drain(db)

    assert result.exit_code == 0, result.output
    assert run_state(db, run_id) == "queued"  # left for when the engine is enabled again
    assert db.run_read(store.find_item_id, uri="https://drain.test/stopped") is None


def test_drain_does_not_wait_for_a_run_another_runner_holds(
    db: Database, seeder: type[Seeder]
) -> None:
    run_id = queue_run(db, uris=["https://drain.test/elsewhere"])
    [held] = db.run(
        run_store.claim_runs, owner="another-runner", limit=1, lease=timedelta(minutes=5)
    )
    assert held.run_id == run_id

    result = drain(db)

    assert result.exit_code == 0, result.output
    row = db.run_read(run_store.get_run, run_id=run_id)
    assert (row.state, row.claimed_by) == ("running", "another-runner")
