"""Stopping an engine through the API reaches a running worker: its actions are cancelled,
their events handed back, nothing more of the engine is claimed until it is enabled."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from haystack_collector import store, worker
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events
from haystack_collector.engines import ActionContext, Engine, item_action
from haystack_collector.queue import SqlQueue, Task
from haystack_collector.store import EventSpec, ItemRecord
from haystack_collector.worker import Worker
from tests.integration.api.runs_fixtures import Api, api_for, installed_engines


class Hold:
    """Whether the held action may finish, and which items it entered."""

    entered: set[int] = set()  # noqa: RUF012 - reset per test by the fixture
    open = threading.Event()


class Held(Engine):
    """An item action that waits (cancellably) until the test opens the hold."""

    name = "tasks-test-held"

    @item_action("hold")
    async def hold(self, ctx: ActionContext, task: Task) -> None:
        Hold.entered.add(task.item_id)
        while not Hold.open.is_set():
            await asyncio.sleep(0.02)
        await asyncio.to_thread(ctx.store_items, [ItemRecord(uri=task.uri, data={"held": True})])


@pytest.fixture
def api(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    Hold.entered, Hold.open = set(), threading.Event()
    monkeypatch.setattr(worker, "DISABLED_CHECK_EVERY", 0.05)
    with installed_engines(monkeypatch, [Held]), api_for(db) as api:
        yield api
    Hold.open.set()


def queue_items(db: Database, n: int) -> None:
    registered = Held.register(db)
    result = db.run(
        store.store_items,
        engine_id=registered.engine_id,
        records=[ItemRecord(uri=f"https://held.test/{i}") for i in range(n)],
    )
    db.run(
        store.enqueue_events,
        events=[
            EventSpec(registered.engine_id, registered.action_ids["hold"], item_id)
            for item_id in result.item_ids.values()
        ],
    )


def events(db: Database) -> dict[str, int]:
    return db.run_read(store.event_counts, engine_id=Held.register(db).engine_id)


def attempts(db: Database) -> list[int]:
    query = select(item_events.c.itemEventAttempts).where(
        item_events.c.engineId == Held.register(db).engine_id
    )
    with db.read() as conn:
        return sorted(conn.execute(query).scalars())


async def until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_stop_cancels_running_actions_and_enable_resumes(api: Api) -> None:
    db = api.db
    queue_items(db, 4)
    the_worker = Worker(db, SqlQueue(db), [Held], concurrency=2, idle_sleep=0.05)

    def post(action: str) -> int:
        answer = api.client.post(f"/api/engines/tasks-test-held/{action}", headers=api.auth)
        return answer.status_code

    async def scenario() -> None:
        task = asyncio.create_task(the_worker.run())
        await until(lambda: len(Hold.entered) == 2, "two running actions")

        assert await asyncio.to_thread(post, "stop") == 200
        await until(lambda: the_worker.stats.released >= 2, "the running actions to be released")
        # The worker may have claimed a third event ahead, into its buffer: that one goes back
        # when its turn comes and the engine is found stopped.
        await until(lambda: events(db)["claimed"] == 0, "every claimed event to be released")
        # Handed back untouched (attempt uncounted), and nothing more is claimed.
        assert await asyncio.to_thread(events, db) == {
            "pending": 4,
            "claimed": 0,
            "done": 0,
            "dead": 0,
        }
        claimed = the_worker.stats.claimed
        await asyncio.sleep(0.3)
        assert the_worker.stats.claimed == claimed
        assert not task.done()  # the worker itself keeps running

        Hold.open.set()
        assert await asyncio.to_thread(post, "enable") == 200
        await until(lambda: events(db)["done"] == 4, "the engine's events to be done")
        the_worker.stop()
        await task

    asyncio.run(scenario())

    assert attempts(db) == [1, 1, 1, 1]
    assert (the_worker.stats.failed, the_worker.stats.dead) == (0, 0)
    assert the_worker.stats.finished == 4
