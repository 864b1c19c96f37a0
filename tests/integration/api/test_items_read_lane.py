"""The read lane: item reads take turns on their own threads; other routes never wait for them."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from haystack_collector.api.app import create_app
from haystack_collector.api.deps import ReadLane
from haystack_collector.db import Database
from haystack_collector.settings import Settings
from tests.integration.api.items_fixtures import make_items


def test_the_lane_is_one_thread_on_sqlite_and_as_wide_as_the_pool_on_a_server() -> None:
    sqlite = Database("sqlite://")
    server = Database("mysql+pymysql://root@127.0.0.1:9/none")  # never connected
    try:
        assert ReadLane.for_database(Settings(pool_size=7), sqlite).threads == 1
        assert ReadLane.for_database(Settings(pool_size=7), server).threads == 7
        chosen = Settings(pool_size=7, api_read_threads=3)
        assert ReadLane.for_database(chosen, sqlite).threads == 3
        assert ReadLane.for_database(chosen, server).threads == 3
    finally:
        sqlite.dispose()
        server.dispose()


@pytest.mark.parametrize("threads", [1, 3])
def test_no_more_reads_run_at_once_than_the_lane_has_threads(threads: int) -> None:
    lane = ReadLane(threads)
    running, most = 0, 0
    lock = threading.Lock()

    def read() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def scenario() -> None:
        await asyncio.gather(*(lane.run(read) for _ in range(6)))

    asyncio.run(scenario())
    assert most == threads


def test_an_item_read_waits_for_the_lane_while_other_routes_answer(db: Database) -> None:
    [item] = make_items(db, 1)
    app = create_app(Settings(api_read_threads=1), db)
    lane: ReadLane = app.state.read_lane
    release = threading.Event()

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            busy = asyncio.create_task(lane.run(lambda: release.wait(10)))  # the lane's thread
            await asyncio.sleep(0.05)
            listing = asyncio.create_task(client.get("/api/items"))
            detail = asyncio.create_task(client.get(f"/api/items/{item}"))
            health = await asyncio.wait_for(client.get("/health"), 10)
            status = await asyncio.wait_for(client.get("/api/status"), 10)
            await asyncio.sleep(0.2)
            waiting = not listing.done() and not detail.done()
            release.set()
            await busy
            answers = await asyncio.wait_for(asyncio.gather(listing, detail), 10)
        assert (health.status_code, status.status_code) == (200, 200)
        assert waiting  # the item reads queued behind the lane's one thread...
        assert [answer.status_code for answer in answers] == [200, 200]  # ...then ran
        assert answers[0].json()["items"][0]["item_id"] == item

    asyncio.run(scenario())
