"""The Config rows a running worker follows, edited through the API as the UI's Config page does:
``MaxConcurrentJobs`` caps the tasks it runs at once, ``DefaultDelay`` spaces its requests to a
host; either takes effect within ``CONFIG_CHECK_EVERY`` seconds, without a restart."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines import ActionContext, Engine, item_action
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import SqlQueue, Task
from haystack_collector.store import EventSpec, ItemRecord
from haystack_collector.worker import (
    CONFIG_CHECK_EVERY,
    DEFAULT_DELAY,
    MAX_CONCURRENT_JOBS,
    Worker,
)
from tests.http_server import serve_http
from tests.integration.api.runs_fixtures import Api, api_for

JOB_SECONDS = 0.1


class Paced(Engine):
    """An item action that takes JOB_SECONDS and counts how many run at once."""

    name = "config-test-paced"
    running = 0
    peak = 0
    cancelled = 0

    @item_action("work")
    async def work(self, ctx: ActionContext, task: Task) -> None:
        cls = type(self)
        cls.running += 1
        cls.peak = max(cls.peak, cls.running)
        try:
            await asyncio.sleep(JOB_SECONDS)
        except asyncio.CancelledError:
            cls.cancelled += 1
            raise
        finally:
            cls.running -= 1


class Fetches(FetchingEngine):
    """An item action that fetches its item's URL with the engine's shared fetcher."""

    name = "config-test-fetches"

    @item_action("fetch")
    async def fetch(self, ctx: ActionContext, task: Task) -> None:
        result = await ctx.fetcher().fetch(task.uri)
        assert result.status == 200, result.error


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET with a tiny page and records when each request arrived."""

    arrivals: ClassVar[list[float]]

    def do_GET(self) -> None:
        self.arrivals.append(time.monotonic())
        body = b"<html><title>ok</title></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api(db: Database) -> Iterator[Api]:
    Paced.running = Paced.peak = Paced.cancelled = 0
    with api_for(db) as api:
        yield api


def set_config(api: Api, name: str, value: str) -> None:
    answer = api.client.put(f"/api/config/{name}", json={"value": value}, headers=api.auth)
    assert answer.status_code == 200, answer.text


def queue(db: Database, engine: type[Engine], action: str, uris: list[str]) -> None:
    registered = engine.register(db)
    result = db.run(
        store.store_items,
        engine_id=registered.engine_id,
        records=[ItemRecord(uri=uri) for uri in uris],
    )
    db.run(
        store.enqueue_events,
        events=[
            EventSpec(registered.engine_id, registered.action_ids[action], item_id)
            for item_id in result.item_ids.values()
        ],
    )


async def until(check: Callable[[], bool], what: str, timeout: float) -> float:
    """Wait for ``check``; returns the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def peak_over(seconds: float) -> int:
    """The most Paced tasks that ran at once during the next ``seconds``."""
    Paced.peak = Paced.running
    await asyncio.sleep(seconds)
    return Paced.peak


def test_max_concurrent_jobs_edited_in_the_api_caps_a_running_worker_within_seconds(
    api: Api,
) -> None:
    db = api.db
    set_config(api, MAX_CONCURRENT_JOBS, "")
    queue(db, Paced, "work", [f"https://paced.test/{i}" for i in range(600)])
    the_worker = Worker(
        db, SqlQueue(db), [Paced], concurrency=4, idle_sleep=0.05, config_every=CONFIG_CHECK_EVERY
    )
    within = CONFIG_CHECK_EVERY + 1.0

    async def scenario() -> None:
        task = asyncio.create_task(the_worker.run())
        await until(lambda: Paced.running == 4, "four tasks at once", timeout=10)

        await asyncio.to_thread(set_config, api, MAX_CONCURRENT_JOBS, "1")
        took = await until(lambda: the_worker.limit == 1, "the cap of 1", timeout=within)
        assert took <= within
        # Tasks taken before the edit run to their end (their action may not have begun yet).
        await until(lambda: the_worker.running <= 1, "taken tasks to end", timeout=2)
        done = the_worker.stats.finished
        assert await peak_over(10 * JOB_SECONDS) == 1
        assert the_worker.stats.finished > done  # one at a time, but still working

        await asyncio.to_thread(set_config, api, MAX_CONCURRENT_JOBS, "3")
        await until(lambda: Paced.running == 3, "three tasks at once", timeout=within)
        assert await peak_over(10 * JOB_SECONDS) == 3

        the_worker.stop()
        await task

    asyncio.run(scenario())

    assert Paced.cancelled == 0  # lowering the cap let the running tasks finish
    assert (the_worker.stats.failed, the_worker.stats.dead) == (0, 0)


@pytest.mark.parametrize(
    ("value", "limit"),
    [("2", 2), (" 3 ", 3), ("10", 4), ("", 4), ("0", 4), ("2.5", 4)],
)
def test_max_concurrent_jobs_applies_from_the_start_and_never_raises_concurrency(
    api: Api, value: str, limit: int
) -> None:
    """A cap above the worker's concurrency, an empty row or a bad value leave it as started."""
    db = api.db
    set_config(api, MAX_CONCURRENT_JOBS, value)
    queue(db, Paced, "work", [f"https://paced.test/{i}" for i in range(24)])
    the_worker = Worker(
        db, SqlQueue(db), [Paced], concurrency=4, drain=True, idle_sleep=0.05, config_every=0.1
    )

    asyncio.run(asyncio.wait_for(the_worker.run(), 30))

    assert the_worker.limit == limit
    assert Paced.peak == limit
    assert the_worker.stats.finished == 24


def test_default_delay_edited_in_the_api_spaces_a_running_workers_requests(api: Api) -> None:
    db = api.db
    set_config(api, DEFAULT_DELAY, "")
    # Without the row: no delay at all (the runtime's fetch settings, here 0).
    fetchers = Fetchers(FetchSettings(min_delay=0.0, jitter=0.0, obey_robots=False))
    arrivals: list[float] = []

    with serve_http(_Recorder, arrivals=arrivals) as base:
        queue(db, Fetches, "fetch", [f"{base}/page/{i}" for i in range(400)])
        the_worker = Worker(
            db,
            SqlQueue(db),
            [Fetches],
            concurrency=1,
            idle_sleep=0.05,
            config_every=0.2,
            fetchers=fetchers,
        )

        def gaps_after(start: float) -> list[float]:
            times = [t for t in list(arrivals) if t >= start]  # the server's threads append
            return [b - a for a, b in itertools.pairwise(times)]

        async def scenario() -> None:
            task = asyncio.create_task(the_worker.run())
            await until(lambda: len(arrivals) >= 10, "ten requests", timeout=10)
            assert max(gaps_after(0.0)) < 0.3

            await asyncio.to_thread(set_config, api, DEFAULT_DELAY, "0.4")
            await until(lambda: fetchers.delay == 0.4, "the worker to read it", timeout=2)
            seen = time.monotonic()
            # The request already waiting for its turn keeps it; every later one waits 0.4 s.
            await until(lambda: len(gaps_after(seen)) >= 4, "four spaced requests", timeout=5)
            assert min(gaps_after(seen)[1:]) > 0.3  # arrivals, not starts: a little jitter

            await asyncio.to_thread(set_config, api, DEFAULT_DELAY, "")
            await until(lambda: fetchers.delay is None, "the reset", timeout=2)
            cleared = time.monotonic()
            await until(lambda: len(gaps_after(cleared)) >= 10, "fast requests", timeout=5)
            assert max(gaps_after(cleared)[1:]) < 0.3  # again after the turn already taken

            the_worker.stop()
            await task

        asyncio.run(scenario())

    assert fetchers.delay is None  # a stopped worker leaves no override behind
