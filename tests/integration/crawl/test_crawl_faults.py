"""A crawl of a site where every link fails differently finishes, records why, and retries."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from haystack_collector.crawl import CrawlOptions, CrawlResult, crawl_fetch_settings, run_crawl
from haystack_collector.db import Database
from haystack_collector.fetch import FetchSettings
from tests.integration.crawl.fault_site import BIG, FAULTS, serve_faults, serve_routes
from tests.integration.crawl.helpers import crawl_events, stored_pages
from tests.integration.fetch.server import RawServer, Request, respond

MAX_BODY = 1024 * 1024
SETTINGS = FetchSettings(
    retry_attempts=3,
    retry_initial=0.01,
    retry_maximum=2.0,  # the ceiling also caps Retry-After, and the site asks for 1 s
    read_timeout=0.3,
    total_timeout=1.0,
    max_body_bytes=MAX_BODY,
    # This site fails on purpose on most links; the breaker has its own test below.
    breaker_threshold=10_000,
)
MAX_DEPTH = 4


@pytest.fixture
def server() -> Iterator[RawServer]:
    with serve_faults() as server:
        yield server


@pytest.fixture
def crawled(db: Database, server: RawServer) -> tuple[CrawlResult, float]:
    options = CrawlOptions(url=server.url("/"), delay=0.0, max_depth=MAX_DEPTH, concurrency=8)
    started = time.monotonic()
    result = run_crawl(
        db, options, crawl_fetch_settings(SETTINGS, options), stats_interval=60, tty=False
    )
    return result, time.monotonic() - started


def test_the_crawl_finishes_every_page_without_hanging(
    db: Database, server: RawServer, crawled: tuple[CrawlResult, float]
) -> None:
    result, seconds = crawled
    pages = stored_pages(db)
    assert {server.url(path) for path in FAULTS if not path.startswith("/cal/")} <= set(pages)
    assert crawl_events(db) == {
        "pending": 0,
        "claimed": 0,
        "done": result.total_pages,
        "dead": 0,
    }
    # The slowest failure is the trickling body: the 1 s total timeout, three attempts.
    assert seconds < 30


def test_each_failure_is_recorded_with_its_reason(
    db: Database, server: RawServer, crawled: tuple[CrawlResult, float]
) -> None:
    pages = stored_pages(db)

    def error(path: str) -> str:
        [reason] = pages[server.url(path)]["Error"]
        assert isinstance(reason, str), path
        return reason

    assert error("/always-503") == "HTTP 503"
    assert pages[server.url("/always-503")]["StatusCode"] == [503]
    assert error("/slow-headers") == "timeout (ReadTimeout)"
    assert error("/slow-body") == "timeout (TimeoutError)"
    assert error("/reset").startswith("connection error (ReadError")
    assert error("/short").startswith("connection error (RemoteProtocolError")
    assert error("/chunked").startswith("connection error (RemoteProtocolError")
    assert error("/bomb").startswith("decompression bomb")
    assert error("/loop-a") == "redirect loop"
    big = pages[server.url("/big.bin")]
    assert big["StatusCode"] == [200]
    assert big["Truncated"] == [f"body over max_body_bytes ({MAX_BODY})"]
    assert big["ContentType"] == ["application/octet-stream"]


def test_what_is_retryable_is_retried_and_then_stored(
    db: Database, server: RawServer, crawled: tuple[CrawlResult, float]
) -> None:
    pages = stored_pages(db)
    requests = Counter(request.path for request in server.requests)
    for path in ("/retry-after", "/throttled"):
        assert pages[server.url(path)]["StatusCode"] == [200], path
        assert pages[server.url(path)]["Title"] == [f"Recovered {path}"]
        assert pages[server.url(path)]["Error"] == [None]
    assert requests["/retry-after"] == 2
    assert requests["/throttled"] == 3
    starts = [
        s for s, r in zip(server.starts, server.requests, strict=True) if r.path == "/retry-after"
    ]
    assert starts[1] - starts[0] >= 0.95  # Retry-After: 1 was honoured
    for path in ("/always-503", "/reset", "/slow-headers"):
        assert requests[path] == SETTINGS.retry_attempts, path
    for path in ("/short", "/chunked", "/bomb", "/loop-a", "/loop-b", "/big.bin"):
        assert requests[path] <= SETTINGS.retry_attempts, path


def test_odd_but_readable_pages_are_stored_readable(
    db: Database, server: RawServer, crawled: tuple[CrawlResult, float]
) -> None:
    pages = stored_pages(db)
    assert pages[server.url("/mislabelled")]["Title"] == ["Café «Größe» 书签菜单"]
    assert pages[server.url("/nocharset")]["Title"] == ["互联网"]
    assert pages[server.url("/malformed")]["Title"] == ["Bad & broken"]


def test_the_endless_calendar_stops_at_the_depth_limit(
    db: Database, server: RawServer, crawled: tuple[CrawlResult, float]
) -> None:
    calendar = [uri for uri in stored_pages(db) if "/cal/" in uri]
    # Home is depth 0, /cal/2024/1 depth 1, so the limit leaves MAX_DEPTH calendar pages.
    assert len(calendar) == MAX_DEPTH
    assert server.url("/cal/2024/1") in calendar
    assert BIG > MAX_BODY


async def _down(request: Request, writer: asyncio.StreamWriter) -> None:
    await respond(writer, 503, b"down")


async def _ok(request: Request, writer: asyncio.StreamWriter) -> None:
    links = "".join(f'<a href="/down{i}">d</a><a href="/ok{i}">o</a>' for i in range(1, 4))
    body = f"<title>{request.path}</title>{links}".encode()
    await respond(writer, 200, body, {"Content-Type": "text/html"})


def test_pages_refused_by_an_open_breaker_are_retried_not_stored_as_failures(db: Database) -> None:
    routes = {"/": _ok, **{f"/down{i}": _down for i in range(1, 4)}}
    routes |= {f"/ok{i}": _ok for i in range(1, 4)}
    settings = dataclasses.replace(
        SETTINGS, breaker_threshold=3, breaker_recovery=0.2, retry_attempts=3
    )
    with serve_routes(routes) as server:
        options = CrawlOptions(url=server.url("/"), delay=0.0, max_depth=1, concurrency=1)
        run_crawl(
            db, options, crawl_fetch_settings(settings, options), stats_interval=60, tty=False
        )
        requests = Counter(request.path for request in server.requests)

    pages = stored_pages(db)
    # /down1 failed three times and opened the breaker; its page records the site's answer.
    assert pages[server.url("/down1")]["Error"] == ["HTTP 503"]
    # Every good page was fetched once the breaker let a probe through, and stored.
    for i in range(1, 4):
        assert pages[server.url(f"/ok{i}")]["StatusCode"] == [200]
        assert requests[f"/ok{i}"] == 1
    # Nothing was stored as "circuit open": refused pages went back to the queue instead.
    assert all(data.get("Error") != ["circuit open"] for data in pages.values())
    events = crawl_events(db)
    retried = {server.url(f"/down{i}") for i in (2, 3)} - set(pages)
    assert events["pending"] == len(retried)
    assert events["dead"] == events["claimed"] == 0
    assert events["done"] == len(pages)
