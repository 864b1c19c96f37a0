"""robots.txt: obeyed by default, fetched once per host, and the failure policy."""

from __future__ import annotations

import re

import httpx
import pytest

from haystack_collector.fetch import DEFAULT_USER_AGENT
from tests.unit.fetch.conftest import Handler, make_fetcher


def site(robots: httpx.Response) -> tuple[list[str], Handler]:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/robots.txt":
            return robots
        return httpx.Response(200, text="page")

    return paths, handler


ROBOTS = "User-agent: *\nDisallow: /private\n\nUser-agent: Haystack\nDisallow: /no-haystack\n"


async def test_disallowed_paths_are_refused_and_robots_is_fetched_once() -> None:
    paths, handler = site(httpx.Response(200, text=ROBOTS))
    fetcher, _ = make_fetcher(handler, obey_robots=True)
    async with fetcher:
        assert (await fetcher.fetch("http://a.example/public")).ok
        refused = await fetcher.fetch("http://a.example/no-haystack")
        assert refused.error == "disallowed by robots.txt"
        # Our group overrides "*", so /private is allowed for Haystack.
        assert (await fetcher.fetch("http://a.example/private")).ok
    assert paths == ["/robots.txt", "/public", "/private"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
async def test_a_4xx_robots_means_everything_is_allowed(status: int) -> None:
    paths, handler = site(httpx.Response(status))
    fetcher, _ = make_fetcher(handler, obey_robots=True)
    async with fetcher:
        assert (await fetcher.fetch("http://a.example/x")).ok
    assert paths == ["/robots.txt", "/x"]


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_failing_robots_disallows_everything_for_a_while(status: int) -> None:
    paths, handler = site(httpx.Response(status))
    fetcher, fake = make_fetcher(handler, obey_robots=True, robots_error_ttl=600.0)
    async with fetcher:
        assert (await fetcher.fetch("http://a.example/x")).error == "disallowed by robots.txt"
        assert (await fetcher.fetch("http://a.example/y")).error == "disallowed by robots.txt"
        fake.now += 601  # then robots.txt is asked for again
        await fetcher.fetch("http://a.example/z")
    assert paths == ["/robots.txt", "/robots.txt"]


async def test_unreachable_robots_disallows() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    fetcher, _ = make_fetcher(handler, obey_robots=True)
    async with fetcher:
        assert (await fetcher.fetch("http://a.example/")).error == "disallowed by robots.txt"


async def test_crawl_delay_raises_the_hosts_delay_but_is_clamped() -> None:
    _, handler = site(httpx.Response(200, text="User-agent: *\nCrawl-delay: 5\n"))
    fetcher, fake = make_fetcher(handler, obey_robots=True)
    async with fetcher:
        await fetcher.fetch("http://a.example/1")
        await fetcher.fetch("http://a.example/2")
        assert fetcher.hosts()["a.example"]["delay"] == 5.0
    assert 5.0 in fake.sleeps  # the second request waited

    _, handler = site(httpx.Response(200, text="User-agent: *\nCrawl-delay: 86400\n"))
    fetcher, _ = make_fetcher(handler, obey_robots=True, max_crawl_delay=60.0)
    async with fetcher:
        await fetcher.fetch("http://b.example/")
        assert fetcher.hosts()["b.example"]["delay"] == 60.0


async def test_robots_can_be_turned_off() -> None:
    paths, handler = site(httpx.Response(200, text="User-agent: *\nDisallow: /\n"))
    fetcher, _ = make_fetcher(handler, obey_robots=False)
    async with fetcher:
        assert (await fetcher.fetch("http://a.example/x")).ok
    assert paths == ["/x"]


async def test_requests_carry_a_descriptive_user_agent() -> None:
    agents: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        agents.append(request.headers["user-agent"])
        return httpx.Response(404)

    fetcher, _ = make_fetcher(handler, obey_robots=True)
    async with fetcher:
        await fetcher.fetch("http://a.example/")
    assert agents == [DEFAULT_USER_AGENT, DEFAULT_USER_AGENT]
    assert re.fullmatch(r"Haystack/\d+\.\d+\.\d+\S* \(.+\)", DEFAULT_USER_AGENT)

    fetcher, _ = make_fetcher(handler, user_agent="Haystack/9 (+https://example.org/bot)")
    async with fetcher:
        await fetcher.fetch("http://a.example/")
    assert agents[-1] == "Haystack/9 (+https://example.org/bot)"


async def test_robots_txt_itself_can_be_fetched_even_when_everything_is_disallowed() -> None:
    _, handler = site(httpx.Response(200, text="User-agent: *\nDisallow: /\n"))
    fetcher, _ = make_fetcher(handler, obey_robots=True)
    async with fetcher:
        assert (await fetcher.fetch("http://a.example/page")).error == "disallowed by robots.txt"
        result = await fetcher.fetch("http://a.example/robots.txt")
    assert (result.error, result.text) == (None, "User-agent: *\nDisallow: /\n")
