"""Redirects are followed by the fetcher itself, so every hop passes the same checks."""

from __future__ import annotations

import httpx

from tests.unit.fetch.conftest import Handler, make_fetcher


def redirecting(routes: dict[str, str]) -> tuple[list[str], Handler]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append(url)
        if url in routes:
            return httpx.Response(302, headers={"Location": routes[url]})
        return httpx.Response(200, text=f"at {url}")

    return seen, handler


async def test_a_chain_is_followed_and_reported() -> None:
    seen, handler = redirecting(
        {"http://a.example/1": "/2", "http://a.example/2": "http://b.example/3#frag"}
    )
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/1")
    assert result.url == "http://b.example/3"
    assert result.redirects == ["http://a.example/1", "http://a.example/2"]
    assert (result.status, result.text) == (200, "at http://b.example/3")
    assert seen == ["http://a.example/1", "http://a.example/2", "http://b.example/3"]


async def test_a_loop_is_detected() -> None:
    seen, handler = redirecting({"http://a.example/1": "/2", "http://a.example/2": "/1"})
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/1")
    assert result.error == "redirect loop"
    assert len(seen) == 2


async def test_the_redirect_limit_holds() -> None:
    routes = {f"http://a.example/{i}": f"/{i + 1}" for i in range(10)}
    seen, handler = redirecting(routes)
    fetcher, _ = make_fetcher(handler, max_redirects=3)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/0")
    assert result.error == "too many redirects (> 3)"
    assert len(seen) == 4


async def test_a_redirect_to_another_scheme_is_refused_without_a_request() -> None:
    seen, handler = redirecting({"http://a.example/": "file:///etc/passwd"})
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert result.error == "unsupported scheme 'file'"
    assert seen == ["http://a.example/"]


async def test_a_redirect_to_a_private_address_is_refused_when_private_is_not_allowed() -> None:
    seen, handler = redirecting({"http://93.184.215.14/": "http://169.254.169.254/latest/"})
    fetcher, _ = make_fetcher(handler, allow_private=False)
    async with fetcher:
        result = await fetcher.fetch("http://93.184.215.14/")
    assert result.error is not None
    assert result.error.startswith("blocked address: 169.254.169.254")
    assert seen == ["http://93.184.215.14/"]
