"""Against a real local server: per-host concurrency, minimum delay, robots, keep-alive, 304."""

from __future__ import annotations

import asyncio
import itertools

from tests.integration.fetch.conftest import fetcher
from tests.integration.fetch.server import RawServer, Request, respond


async def slow_page(request: Request, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(0.15)
    await respond(writer, 200, b"page")


async def test_the_per_host_concurrency_cap_is_respected_server_side() -> None:
    async with RawServer({"/": slow_page}) as server, fetcher(per_host_concurrency=2) as f:
        results = await asyncio.gather(*(f.fetch(server.url(f"/?{i}")) for i in range(6)))
        assert f.hosts()[f"127.0.0.1:{server.port}"]["in_flight"] == 0
    assert all(r.ok for r in results)
    assert server.peak == 2
    assert len(server.requests) == 6


async def test_the_minimum_delay_between_requests_is_respected() -> None:
    async with (
        RawServer({"/": slow_page}) as server,
        fetcher(min_delay=0.2, jitter=0.5, per_host_concurrency=4) as f,
    ):
        await asyncio.gather(*(f.fetch(server.url(f"/?{i}")) for i in range(4)))
    starts = sorted(server.starts)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.19  # loop-timer slack only
    assert max(gaps) <= 0.2 * 1.5 + 0.1  # jitter adds at most half the delay


async def test_robots_is_fetched_once_and_obeyed() -> None:
    async def robots(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, b"User-agent: *\nDisallow: /secret\n")

    async def page(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, b"page")

    async with (
        RawServer({"/robots.txt": robots, "/a": page, "/secret": page}) as server,
        fetcher(obey_robots=True) as f,
    ):
        assert (await f.fetch(server.url("/a"))).ok
        assert (await f.fetch(server.url("/secret"))).error == "disallowed by robots.txt"
        assert (await f.fetch(server.url("/a"))).ok
    assert [r.path for r in server.requests] == ["/robots.txt", "/a", "/a"]
    assert server.connections == 1  # one keep-alive connection for all of it
    assert server.requests[0].headers["user-agent"].startswith("Haystack/")


async def test_conditional_get_round_trip() -> None:
    async def feed(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.headers.get("if-none-match") == '"abc"':
            await respond(writer, 304, headers={"ETag": '"abc"'})
        else:
            await respond(writer, 200, b"<rss/>", {"ETag": '"abc"', "Content-Type": "text/xml"})

    async with RawServer({"/feed": feed}) as server, fetcher() as f:
        first = await f.fetch(server.url("/feed"))
        second = await f.fetch(server.url("/feed"))
    assert (first.status, first.text) == (200, "<rss/>")
    assert (second.status, second.not_modified, second.error, second.body) == (304, True, None, b"")
