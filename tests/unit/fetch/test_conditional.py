"""Conditional GET: validators are remembered, sent back, and 304 is not an error."""

from __future__ import annotations

import httpx

from haystack_collector.fetch import DictValidatorCache, Validators
from tests.unit.fetch.conftest import Handler, make_fetcher

LM = "Wed, 21 Oct 2015 07:28:00 GMT"


def server() -> tuple[list[httpx.Headers], Handler]:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        return httpx.Response(200, text="body", headers={"ETag": '"v1"', "Last-Modified": LM})

    return seen, handler


async def test_validators_are_stored_and_sent_back_and_304_is_not_modified() -> None:
    seen, handler = server()
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        first = await fetcher.fetch("http://a.example/feed")
        assert fetcher.validators.get("http://a.example/feed") == Validators('"v1"', LM)
        second = await fetcher.fetch("http://a.example/feed")
    assert (first.status, first.not_modified) == (200, False)
    assert "if-none-match" not in seen[0]
    assert (seen[1]["if-none-match"], seen[1]["if-modified-since"]) == ('"v1"', LM)
    assert (second.status, second.not_modified, second.error, second.ok) == (304, True, None, True)


async def test_explicit_validators_win_over_the_cache() -> None:
    seen, handler = server()
    cache = DictValidatorCache()
    cache.put("http://a.example/feed", Validators('"old"'))
    fetcher, _ = make_fetcher(handler)
    fetcher.validators = cache
    async with fetcher:
        result = await fetcher.fetch("http://a.example/feed", etag='"v1"', last_modified=LM)
    assert result.not_modified
    assert seen[0]["if-none-match"] == '"v1"'
