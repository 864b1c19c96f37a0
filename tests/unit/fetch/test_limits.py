"""Limits: schemes, body size, decompression bombs."""

from __future__ import annotations

import gzip

import httpx
import pytest

from tests.unit.fetch.conftest import make_fetcher


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.url}")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://a.example/file", "unsupported scheme 'ftp'"),
        ("file:///etc/passwd", "unsupported scheme 'file'"),
        ("javascript:alert(1)", "unsupported scheme 'javascript'"),
        ("data:text/plain,hi", "unsupported scheme 'data'"),
        ("http://", "invalid URL: no host"),
    ],
)
async def test_only_http_and_https_are_fetched(url: str, error: str) -> None:
    fetcher, _ = make_fetcher(never_called)
    async with fetcher:
        result = await fetcher.fetch(url)
    assert (result.error, result.status, result.attempts) == (error, None, 0)


async def test_a_body_over_the_cap_is_truncated_with_a_reason() -> None:
    fetcher, _ = make_fetcher(
        lambda r: httpx.Response(200, content=b"x" * 5000), max_body_bytes=1000
    )
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert result.truncated
    assert result.reason == "body over max_body_bytes (1000)"
    assert result.body == b"x" * 1000
    assert result.error is None


async def test_a_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    fetcher, _ = make_fetcher(
        lambda r: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    )
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert result.error is not None
    assert result.error.startswith("decompression bomb")
    assert (result.truncated, result.body) == (True, b"")


async def test_a_well_compressed_page_is_not_a_bomb() -> None:
    page = b"<p>hello</p>" * 10_000  # compresses ~300:1 but is under ratio_check_after
    fetcher, _ = make_fetcher(
        lambda r: httpx.Response(
            200, content=gzip.compress(page), headers={"Content-Encoding": "gzip"}
        )
    )
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert (result.error, result.body) == (None, page)


async def test_the_decoded_cap_truncates_big_compressed_bodies() -> None:
    body = bytes(range(256)) * 4000  # ~1 MB, compresses poorly: not a bomb, just big
    fetcher, _ = make_fetcher(
        lambda r: httpx.Response(
            200, content=gzip.compress(body), headers={"Content-Encoding": "gzip"}
        ),
        max_decoded_bytes=100_000,
    )
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert (result.truncated, result.error, len(result.body)) == (True, None, 100_000)
