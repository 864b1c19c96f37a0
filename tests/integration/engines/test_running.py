"""Engines register idempotently and run their actions with a context, one Status row per run."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
from sqlalchemy import func, select

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import engine_actions, engines, item_events, items
from haystack_collector.engines import (
    ActionContext,
    Engine,
    run_item_action,
    run_start_actions,
    start_action,
)
from haystack_collector.queue import SqlQueue, Task
from haystack_collector.store import StatusRow
from tests.unit.engines.sample_engines import Broken, Echo


def _statuses(db: Database, engine_id: int) -> list[StatusRow]:
    return db.run_read(store.recent_status, engine_id=engine_id)


def _claim_all(db: Database, engine: type[Engine]) -> list[Task]:
    registered = engine.register(db)
    return SqlQueue(db).claim(owner="test", limit=50, engine_id=registered.engine_id)


def test_registering_twice_changes_nothing(db: Database) -> None:
    first = Echo.register(db)
    second = Echo.register(db)
    assert first == second
    assert set(first.action_ids) == {"echo-search", "echo-extract"}
    with db.read() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(engines).where(engines.c.EngineName == "echo-test")
            ).scalar()
            == 1
        )
        rows = conn.execute(
            select(engine_actions.c.actionFunction, engine_actions.c.actionParams)
            .where(engine_actions.c.engineId == first.engine_id)
            .order_by(engine_actions.c.actionFunction)
        ).all()
    assert [tuple(row) for row in rows] == [("extract", None), ("search", '{"depth": 1}')]


def test_start_actions_store_and_enqueue_through_the_store_and_write_status(db: Database) -> None:
    seeds = ["https://echo.test/1", "https://echo.test/2"]
    [result] = run_start_actions(Echo, db, {"seeds": seeds})
    assert result.ok, result.error
    assert (result.engine, result.action) == ("echo-test", "echo-search")
    assert (result.items_stored, result.events_enqueued) == (2, 2)
    assert result.duration >= 0
    assert result.task is None
    registered = Echo.register(db)
    with db.read() as conn:
        stored = conn.execute(
            select(items.c.ItemURI).where(items.c.EngineId == registered.engine_id)
        ).scalars()
        assert sorted(stored) == seeds
        queued = conn.execute(
            select(func.count())
            .select_from(item_events)
            .where(item_events.c.actionId == registered.action_ids["echo-extract"])
        ).scalar()
    assert queued == 2
    [status] = _statuses(db, registered.engine_id)
    assert status.action_id == registered.action_ids["echo-search"]
    assert status.message.startswith("echo-test:echo-search ok in ")
    assert "items stored 2, events enqueued 2" in status.message


def test_an_async_item_action_runs_on_a_claimed_task(db: Database) -> None:
    run_start_actions(Echo, db, {"seeds": ["https://echo.test/async"]})
    [task] = _claim_all(db, Echo)
    result = run_item_action(Echo, db, task)
    assert result.ok, result.error
    assert result.task == task
    assert result.items_stored == 1
    assert db.run_read(store.get_item_value, item_id=task.item_id, key="echo") == task.uri
    messages = [s.message for s in _statuses(db, task.engine_id)]
    assert messages[0].startswith("echo-test:echo-extract ok")  # the run's own row, newest
    assert f"(event {task.event_id})" in messages[0]
    assert "echoed https://echo.test/async" in messages  # ctx.status from the action


def test_an_async_action_also_runs_from_inside_an_event_loop(db: Database) -> None:
    run_start_actions(Echo, db, {"seeds": ["https://echo.test/loop"]})
    [task] = _claim_all(db, Echo)

    async def worker() -> bool:
        return run_item_action(Echo, db, task).ok

    assert asyncio.run(worker())


def test_a_failing_action_becomes_a_failed_result_and_keeps_what_it_stored(db: Database) -> None:
    [result] = run_start_actions(Broken, db)
    assert not result.ok
    assert result.error == "RuntimeError: the site changed its layout"
    assert result.items_stored == 1  # each helper call is its own unit of work
    assert db.run_read(store.find_item_id, uri="https://broken.test/kept") is not None
    [status] = _statuses(db, Broken.register(db).engine_id)
    assert "broken-test:broken-search failed in " in status.message
    assert status.message.endswith("error: RuntimeError: the site changed its layout")


def test_a_failing_item_action_is_a_failed_result_the_worker_retries(db: Database) -> None:
    registered = Broken.register(db)
    item = db.run(store.get_or_create_item, uri="https://broken.test/item", engine_id=None)
    SqlQueue(db).enqueue(
        engine_id=registered.engine_id,
        action_id=registered.action_ids["broken-extract"],
        item_ids=[item.item_id],
    )
    [task] = _claim_all(db, Broken)
    result = run_item_action(Broken, db, task)
    assert not result.ok
    assert result.error == "ValueError: cannot parse https://broken.test/item"
    assert result.task == task


def test_every_action_run_is_timed_on_the_performance_log_failed_ones_too(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="haystack.performance"):
        run_start_actions(Echo, db, {"seeds": ["https://echo.test/timed"]})
        [task] = _claim_all(db, Echo)
        run_item_action(Echo, db, task)
        run_start_actions(Broken, db)

    timed = [r for r in caplog.records if r.name == "haystack.performance"]
    assert [r.operation for r in timed] == [  # type: ignore[attr-defined]
        "echo-test.echo-search",
        "echo-test.echo-extract",
        "broken-test.broken-search",
    ]
    assert all(r.levelno == logging.DEBUG and r.duration_ms >= 0 for r in timed)  # type: ignore[attr-defined]
    assert timed[-1].getMessage().startswith("broken-test.broken-search took ")


def test_a_task_for_an_action_the_engine_lacks_is_a_failed_result(db: Database) -> None:
    registered = Echo.register(db)
    run_start_actions(Echo, db)
    [task] = _claim_all(db, Echo)
    foreign = dataclasses.replace(task, action_id=registered.action_ids["echo-search"])
    result = run_item_action(Echo, db, foreign)
    assert not result.ok
    assert result.error is not None
    assert "has no item action" in result.error


def test_invalid_settings_fail_the_run_with_a_clear_status(db: Database) -> None:
    [result] = run_start_actions(Echo, db, {"pages": 0})
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("ConfigError: engine 'echo-test' settings are invalid: pages:")


def test_cancellation_is_not_swallowed(db: Database) -> None:
    class Cancelled(Engine):
        name = "cancelled-test"

        @start_action("cancelled-search")
        def search(self, ctx: ActionContext) -> None:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        run_start_actions(Cancelled, db)
