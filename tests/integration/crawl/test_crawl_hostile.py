"""A crawl meeting hostile content records why a page was not read, and goes on with the rest."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from haystack_collector.crawl import CrawlOptions, crawl_fetch_settings, run_crawl
from haystack_collector.db import Database
from haystack_collector.extract.limits import MAX_DEPTH
from haystack_collector.fetch import FetchSettings
from tests.integration.crawl.fault_site import serve_routes
from tests.integration.crawl.helpers import crawl_events, stored_pages
from tests.integration.fetch.server import Handler, Request, respond

HTML = {"Content-Type": "text/html; charset=utf-8"}
DEPTH = 200_000  # lexbor took 135 s to parse this page before the depth limit
SETTINGS = FetchSettings(retry_attempts=3, retry_initial=0.01, max_body_bytes=8 * 1024 * 1024)


async def _home(request: Request, writer: asyncio.StreamWriter) -> None:
    links = '<a href="/deep">deep</a> <a href="/odd-retry-after">odd</a> <a href="/ok">ok</a>'
    await respond(writer, 200, f"<title>home</title>{links}".encode(), HTML)


async def _deep(request: Request, writer: asyncio.StreamWriter) -> None:
    body = (
        b"<html><head><title>deep</title></head><body>"
        + b"<div>" * DEPTH
        + b'<a href="/hidden">never followed</a>'
        + b"</div>" * DEPTH
        + b"</body></html>"
    )
    await respond(writer, 200, body, HTML)


async def _ok(request: Request, writer: asyncio.StreamWriter) -> None:
    await respond(writer, 200, b"<title>ok</title>", HTML)


def _odd_retry_after() -> Handler:
    answered = Counter[str]()

    async def handler(request: Request, writer: asyncio.StreamWriter) -> None:
        answered[request.path] += 1
        if answered[request.path] == 1:
            # Byte 0xB2 reads as "²" in Latin-1, which str.isdigit() accepts and int() refuses.
            writer.write(b"HTTP/1.1 503 X\r\nContent-Length: 0\r\nRetry-After: \xb2\r\n\r\n")
            await writer.drain()
            return
        await respond(writer, 200, b"<title>second try</title>", HTML)

    return handler


def test_a_page_nested_too_deeply_is_recorded_with_the_reason_and_the_crawl_goes_on(
    db: Database,
) -> None:
    routes = {"/": _home, "/deep": _deep, "/odd-retry-after": _odd_retry_after(), "/ok": _ok}
    with serve_routes(routes) as server:
        options = CrawlOptions(url=server.url("/"), delay=0.0, max_depth=2, concurrency=2)
        started = time.monotonic()
        result = run_crawl(
            db, options, crawl_fetch_settings(SETTINGS, options), stats_interval=60, tty=False
        )
        seconds = time.monotonic() - started
        requested = {request.path for request in server.requests}

    assert seconds < 10, f"the crawl took {seconds:.1f}s"
    pages = stored_pages(db)
    deep = pages[server.url("/deep")]
    assert deep["StatusCode"] == [200]
    assert deep["Error"] == [
        f"document nested too deeply to parse: more than {MAX_DEPTH} elements deep"
    ]
    assert "Title" not in deep
    assert "/hidden" not in requested  # nothing was read from the refused page
    # The other pages were crawled as usual, the odd Retry-After one after its retry.
    assert pages[server.url("/ok")]["Title"] == ["ok"]
    odd = pages[server.url("/odd-retry-after")]
    assert (odd["StatusCode"], odd["Title"]) == ([200], ["second try"])
    assert result.pages == 4
    assert crawl_events(db) == {"pending": 0, "claimed": 0, "done": 4, "dead": 0}
