"""Submitting a search form: POST with url-encoded fields, and what redirects do to it."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.fetch.conftest import make_fetcher


async def test_a_form_is_posted_url_encoded() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="<p>results</p>", headers={"content-type": "text/html"})

    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://jobs.test/search", form={"q": "python dev", "l": ""})
    assert result.ok
    assert seen[0].method == "POST"
    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen[0].content == b"q=python+dev&l="


@pytest.mark.parametrize(("status", "method"), [(302, "GET"), (303, "GET"), (307, "POST")])
async def test_a_redirect_after_post_is_followed_as_browsers_do(status: int, method: str) -> None:
    seen: list[tuple[str, str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.content))
        if request.url.path == "/search":
            return httpx.Response(status, headers={"location": "/results"})
        return httpx.Response(200, text="ok")

    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://jobs.test/search", form={"q": "x"})
    assert result.status == 200
    assert seen[1][:2] == (method, "/results")
    assert seen[1][2] == (b"q=x" if method == "POST" else b"")


async def test_a_posted_form_sends_no_conditional_headers_and_is_not_remembered() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok", headers={"etag": '"v1"'})

    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        await fetcher.fetch("http://jobs.test/search", form={"q": "x"})
        await fetcher.fetch("http://jobs.test/search", form={"q": "x"})
    assert all("if-none-match" not in request.headers for request in seen)
    assert fetcher.validators.get("http://jobs.test/search") is None
