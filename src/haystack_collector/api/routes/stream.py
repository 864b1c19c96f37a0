"""``GET /api/stream``: server-sent events for the live status log and run progress.

Each connection polls the database about once a second (reads are cheap, indexed by id and
state): ``event: status`` for every new Status row (its id is the SSE id, so a reconnecting
browser resumes after ``Last-Event-ID``), and ``event: run`` whenever a run's state or counts
change. A comment line goes out every ``heartbeat`` seconds so proxies keep the connection.
The stream ends when the client disconnects or the server shuts down.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from haystack_collector.api.deps import DbDep, Principal, ReadAccess
from haystack_collector.api.models import READ_ERRORS
from haystack_collector.api.routes.status import status_out
from haystack_collector.db import Database
from haystack_collector.errors import HaystackError
from haystack_collector.logs import get_logger
from haystack_collector.metrics import stream_closed, stream_opened
from haystack_collector.store.runs import RunRow, active_and_recent_runs
from haystack_collector.store.status import last_status_id, status_log

router = APIRouter(prefix="/api/stream", tags=["stream"], responses=READ_ERRORS)
log = get_logger("haystack.api.stream")

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
MAX_AGE_SECONDS = 600.0
RECONNECT_MS = 1000
STATUS_BATCH = 200
# Runs that ended this recently are still reported, so their last change is never missed.
RECENT_RUNS = timedelta(minutes=5)
# A Last-Event-ID the stream resumes after: a Status id, as the ids it sends are.
_EVENT_ID = re.compile(r"[0-9]{1,19}")
_MAX_EVENT_ID = 2**63 - 1


def resume_after(last_event_id: str | None) -> int | None:
    """The Status id a reconnecting client last saw; None for a header that is not one of
    our ids (the stream then starts from now, as for a new client)."""
    if last_event_id is None or not _EVENT_ID.fullmatch(last_event_id):
        return None
    number = int(last_event_id)
    return number if number <= _MAX_EVENT_ID else None


class StreamSlots:
    """Open streams per client and in all: each holds a poll loop and a connection."""

    def __init__(self, *, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> bool:
        """Take a slot for ``client``; False when it or the server has none left."""
        with self._lock:
            mine = self._open.get(client, 0)
            if mine >= self.per_client or sum(self._open.values()) >= self.total:
                return False
            self._open[client] = mine + 1
            return True

    def give_back(self, client: str) -> None:
        with self._lock:
            left = self._open.get(client, 0) - 1
            if left > 0:
                self._open[client] = left
            else:
                self._open.pop(client, None)

    def open_streams(self, client: str | None = None) -> int:
        with self._lock:
            return sum(self._open.values()) if client is None else self._open.get(client, 0)


def stream_slots(app: Any) -> StreamSlots:
    slots = getattr(app.state, "stream_slots", None)
    if slots is None:
        settings = app.state.settings
        slots = app.state.stream_slots = StreamSlots(
            per_client=settings.api_max_streams_per_client, total=settings.api_max_streams
        )
    return slots


def _client_key(request: Request, principal: Principal | None) -> str:
    if principal is not None and principal.authenticated:
        return f"token:{principal.name}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


class _SlotStreamingResponse(StreamingResponse):
    """A stream that gives its slot back when it ends, however it ends."""

    def __init__(self, *args: Any, slots: StreamSlots, client: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = slots
        self._client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slots.give_back(self._client)


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """How often a stream polls and sends heartbeats (tests shorten them via app.state)."""

    poll: float = POLL_SECONDS
    heartbeat: float = HEARTBEAT_SECONDS
    # A stream ends after this long; EventSource reconnects (after Last-Event-ID) at once.
    max_age: float = MAX_AGE_SECONDS


def stop_streams(app: FastAPI) -> None:
    """End every open stream within a poll interval (call when the server shuts down:
    uvicorn waits for open responses to end before it stops)."""
    app.state.streams_stopping = True


def streams_stopping(app: Any) -> bool:
    return bool(getattr(app.state, "streams_stopping", False))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None  # the store's datetimes are aware (UTC)


def run_snapshot(found: list[tuple[RunRow, str | None]]) -> dict[int, dict[str, Any]]:
    """The runs ``store.runs.active_and_recent_runs`` found, as the stream sends them, by id."""
    return {
        run.run_id: {
            "run_id": run.run_id,
            "engine_id": run.engine_id,
            "engine": engine,
            "action": run.action,
            "state": run.state,
            "created": _iso(run.created),
            "started": _iso(run.started),
            "finished": _iso(run.finished),
            "items_stored": run.items_stored,
            "events_enqueued": run.events_enqueued,
            "error": run.error,
        }
        for run, engine in found
    }


def sse(event: str, data: Any, *, event_id: int | None = None) -> str:
    """One server-sent event; JSON data never spans lines."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def _read(db: Database, work: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(lambda: db.run_read(work, **kwargs))


async def events(
    request: Request, db: Database, *, after: int, timing: StreamTiming, with_runs: bool
) -> AsyncIterator[str]:
    """The event stream of one connection, until the client goes away."""
    stream_opened()
    try:
        async for chunk in _events(request, db, after=after, timing=timing, with_runs=with_runs):
            yield chunk
    finally:  # the client went away (the response task was cancelled) or the server stops
        stream_closed()


async def _events(
    request: Request, db: Database, *, after: int, timing: StreamTiming, with_runs: bool
) -> AsyncIterator[str]:
    last_id = after
    seen_runs: dict[int, dict[str, Any]] = {}
    down = False
    yield f"retry: {RECONNECT_MS}\n: connected\n\n"
    opened = last_sent = time.monotonic()
    while not (
        await request.is_disconnected()
        or streams_stopping(request.app)
        or time.monotonic() - opened >= timing.max_age
    ):
        out: list[str] = []
        try:
            rows = await _read(db, status_log, after_id=last_id, limit=STATUS_BATCH)
            for row in status_out(rows):
                last_id = row.status_id
                out.append(sse("status", row.model_dump(mode="json"), event_id=row.status_id))
            if with_runs:
                runs = await _read(db, active_and_recent_runs, ended_within=RECENT_RUNS)
                current = run_snapshot(runs)
                out += [sse("run", run) for i, run in current.items() if seen_runs.get(i) != run]
                seen_runs = current
            if down:
                down = False
                out.append(sse("database", {"ok": True}))
        except HaystackError as error:
            # The page says the database is away; the stream carries on for when it is back.
            if not down:
                log.warning("stream: database unavailable: %s", error)
                out.append(sse("database", {"ok": False, "error": "database unavailable"}))
            down = True
        if not out and time.monotonic() - last_sent >= timing.heartbeat:
            out.append(": keep-alive\n\n")
        if out:
            last_sent = time.monotonic()
            yield "".join(out)
        await asyncio.sleep(timing.poll)


@router.get(
    "",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Event stream."}},
)
async def stream(
    request: Request,
    *,
    db: DbDep,
    principal: ReadAccess,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Send Status rows after this id.")
    ] = None,
    runs_: Annotated[bool, Query(alias="runs", description="Include run progress.")] = True,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> StreamingResponse:
    """Live Status rows (``event: status``) and run progress (``event: run``).

    429 when the client (its token, else its address) already has
    ``api_max_streams_per_client`` streams open, or the server ``api_max_streams``.
    """
    start = after if after is not None else resume_after(last_event_id)
    if start is None:
        start = await _read(db, last_status_id)  # only what happens from now on
    timing: StreamTiming = getattr(request.app.state, "stream_timing", None) or StreamTiming()
    slots = stream_slots(request.app)
    client = _client_key(request, principal)
    if not slots.take(client):
        raise HTTPException(
            429,
            f"too many open streams: at most {slots.per_client} per client"
            f" and {slots.total} in all; close one first",
            headers={"Retry-After": "5"},
        )
    return _SlotStreamingResponse(
        events(request, db, after=start, timing=timing, with_runs=runs_),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        slots=slots,
        client=client,
    )
