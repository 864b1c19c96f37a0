"""/api/stream over a real uvicorn: status lines and run progress arrive live, then it ends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import update

from haystack_collector import store
from haystack_collector.api.routes.stream import StreamTiming, stop_streams
from haystack_collector.db import Database
from haystack_collector.db.schema import runs
from haystack_collector.store._sql import utcnow
from tests.integration.api.core_fixtures import core_app, mint, served

FAST = StreamTiming(poll=0.05, heartbeat=0.3)


@dataclass
class Event:
    event: str | None = None
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data)


def sse_events(lines: Iterator[str]) -> Iterator[Event]:
    """Server-sent events, as a browser's EventSource splits them (comments kept apart)."""
    current = Event()
    for line in lines:
        if line == "":
            yield current
            current = Event()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data += value
            elif name in ("event", "id"):
                setattr(current, name, value)


def wait_for(events: Iterator[Event], wanted: Callable[[Event], bool], seconds: float = 5) -> Event:
    deadline = time.monotonic() + seconds
    for event in events:
        if wanted(event):
            return event
        if time.monotonic() > deadline:
            break
    raise AssertionError("the awaited event did not arrive")


def streams_open() -> float:
    return REGISTRY.get_sample_value("haystack_api_streams") or 0.0


@pytest.fixture
def app(db: Database) -> FastAPI:
    app = core_app(db)
    app.state.stream_timing = FAST
    return app


def add_run(db: Database, engine_id: int) -> int:
    with db.transaction() as conn:
        result = conn.execute(
            runs.insert().values(engineId=engine_id, runState="queued", runCreated=utcnow())
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def test_new_status_rows_and_job_changes_arrive_live(db: Database, app: FastAPI) -> None:
    engine_id = db.run(store.register_engine, name="streamed", version="1")
    db.run(store.add_status, message="before the stream")  # not sent: only what is new
    with (
        served(app) as base,
        httpx.Client(base_url=base, timeout=5) as client,
        client.stream("GET", "/api/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["X-Correlation-ID"]
        events = sse_events(response.iter_lines())
        assert next(events).comments == ["connected"]

        status_id = db.run(store.add_status, message="crawl started", engine_id=engine_id)
        line = wait_for(events, lambda e: e.event == "status")
        assert line.id == str(status_id)
        assert line.json()["message"] == "crawl started"
        assert line.json()["engine"] == "streamed"

        run_id = add_run(db, engine_id)
        queued = wait_for(events, lambda e: e.event == "run")
        assert (queued.json()["run_id"], queued.json()["state"]) == (run_id, "queued")
        with db.transaction() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.runId == run_id)
                .values(runState="running", runStarted=utcnow(), runItemsStored=3)
            )
        running = wait_for(events, lambda e: e.event == "run")
        assert (running.json()["state"], running.json()["items_stored"]) == ("running", 3)
        assert running.json()["engine"] == "streamed"

        beat = wait_for(events, lambda e: bool(e.comments))
        assert beat.comments == ["keep-alive"]


def test_a_reconnecting_client_resumes_after_last_event_id(db: Database, app: FastAPI) -> None:
    first = db.run(store.add_status, message="one")
    db.run(store.add_status, message="two")
    db.run(store.add_status, message="three")
    with (
        served(app) as base,
        httpx.Client(base_url=base, timeout=5) as client,
        client.stream("GET", "/api/stream", headers={"Last-Event-ID": str(first)}) as response,
    ):
        events = sse_events(response.iter_lines())
        got = [wait_for(events, lambda e: e.event == "status").json()["message"] for _ in "ab"]
    assert got == ["two", "three"]


def test_the_stream_ends_when_the_client_disconnects(db: Database, app: FastAPI) -> None:
    before = streams_open()
    with served(app) as base:
        with (
            httpx.Client(base_url=base, timeout=5) as client,
            client.stream("GET", "/api/stream?runs=false") as response,
        ):
            events = sse_events(response.iter_lines())
            assert next(events).comments == ["connected"]
            assert streams_open() == before + 1
        deadline = time.monotonic() + 5
        while streams_open() > before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert streams_open() == before  # while the server still runs


def test_the_stream_follows_read_access(db: Database) -> None:
    _, auth = mint(db)
    app = core_app(db, api_read_access="token")
    app.state.stream_timing = FAST
    with served(app) as base, httpx.Client(base_url=base, timeout=5) as client:
        refused = client.get("/api/stream")
        bad = client.get("/api/stream?after=-1", headers=auth)
        with client.stream("GET", "/api/stream", headers=auth) as response:
            assert response.status_code == 200
            assert next(sse_events(response.iter_lines())).comments == ["connected"]
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert bad.status_code == 422


def test_a_stream_ends_after_its_max_age_and_says_when_to_reconnect(
    db: Database, app: FastAPI
) -> None:
    app.state.stream_timing = StreamTiming(poll=0.05, heartbeat=0.3, max_age=0.3)
    started = time.monotonic()
    with (
        served(app) as base,
        httpx.Client(base_url=base, timeout=5) as client,
        client.stream("GET", "/api/stream") as response,
    ):
        lines = list(response.iter_lines())  # returns because the server ends the stream
    assert time.monotonic() - started < 4
    assert lines[:2] == ["retry: 1000", ": connected"]


def test_stop_streams_lets_the_server_shut_down_with_streams_open(
    db: Database, app: FastAPI
) -> None:
    with served(app) as base, httpx.Client(base_url=base, timeout=5) as client:
        with client.stream("GET", "/api/stream") as response:
            events = sse_events(response.iter_lines())
            assert next(events).comments == ["connected"]
            stop_streams(app)
            rest = list(events)  # the server ends the response; nothing hangs
        assert all(not event.data for event in rest)


@pytest.mark.parametrize(
    "header",
    ["²".encode("latin-1"), b"9" * 38, b"-1", b"abc"],
    ids=["superscript-two", "38-digits", "negative", "text"],
)
def test_a_last_event_id_that_is_no_status_id_is_ignored(
    db: Database, app: FastAPI, header: bytes
) -> None:
    # Once a 500 ("²" passed isdigit(), not int()) or an OverflowError mid-stream (38 digits).
    db.run(store.add_status, message="before the stream")
    with (
        served(app) as base,
        httpx.Client(base_url=base, timeout=5) as client,
        client.stream("GET", "/api/stream", headers={"Last-Event-ID": header}) as response,
    ):
        assert response.status_code == 200
        events = sse_events(response.iter_lines())
        assert next(events).comments == ["connected"]
        db.run(store.add_status, message="after it")
        line = wait_for(events, lambda e: e.event == "status")
    assert line.json()["message"] == "after it"  # it starts from now, as a new client does


def test_a_client_may_hold_a_few_streams_and_the_server_a_bounded_number(db: Database) -> None:
    app = core_app(db, api_max_streams_per_client=2, api_max_streams=3)
    app.state.stream_timing = FAST
    _, auth = mint(db)
    with (
        served(app) as base,
        httpx.Client(base_url=base, timeout=5) as client,
        client.stream("GET", "/api/stream") as first,
        client.stream("GET", "/api/stream") as second,
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        third = client.get("/api/stream")
        assert third.status_code == 429
        assert third.headers["Retry-After"] == "5"
        assert "at most 2 per client" in third.json()["detail"]
        with client.stream("GET", "/api/stream", headers=auth) as other_client:
            assert other_client.status_code == 200  # a token is another client
            over_all = client.get("/api/stream", headers=auth)
            assert over_all.status_code == 429  # the server's three are taken
    # Closed streams give their slots back.
    deadline = time.monotonic() + 5
    slots = app.state.stream_slots
    while slots.open_streams() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slots.open_streams() == 0
