"""Retry and backoff decisions: what is retried, how long we wait, what a give-up returns."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from haystack_collector.fetch.failures import parse_retry_after
from tests.unit.fetch.conftest import Handler, make_fetcher


def sequence(*responses: httpx.Response | Exception) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return seen, handler


async def test_503_then_200_is_retried_after_the_initial_backoff() -> None:
    seen, handler = sequence(httpx.Response(503), httpx.Response(200, text="ok"))
    fetcher, fake = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert (result.status, result.error, result.text, result.attempts) == (200, None, "ok", 2)
    assert fake.sleeps == [0.5]
    assert len(seen) == 2


async def test_retry_after_seconds_is_honoured() -> None:
    _, handler = sequence(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200))
    fetcher, fake = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert result.ok
    assert fake.sleeps == [7.0]


@pytest.mark.parametrize(
    "header",
    [b"\xb2", "\u0663".encode(), b"9" * 40, b"1e5", b"-3", b"Wed, 21 Oct 99999 07:28:00 GMT"],
)
async def test_a_retry_after_that_is_no_number_or_date_is_ignored(header: bytes) -> None:
    # "²" (byte 0xB2 read as Latin-1) passed str.isdigit() and made int() raise out of fetch.
    _, handler = sequence(
        httpx.Response(429, headers=[(b"Retry-After", header)]), httpx.Response(200, text="ok")
    )
    fetcher, fake = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert (result.status, result.text) == (200, "ok")
    assert fake.sleeps == [0.5]  # the policy's own backoff, as without the header


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "9" * 40, "1e5", "-3", "12 s"])
def test_retry_after_takes_only_ascii_digit_seconds(value: str) -> None:
    assert parse_retry_after(value) is None


def test_retry_after_http_date_is_seconds_from_now() -> None:
    date = email.utils.formatdate(1_000_120.0, usegmt=True)
    assert parse_retry_after(date, now=lambda: 1_000_000.0) == pytest.approx(120.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_backoff_is_exponential_and_gives_up_with_an_error_result() -> None:
    _, handler = sequence(*(httpx.Response(500, text="boom") for _ in range(4)))
    fetcher, fake = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert fake.sleeps == [0.5, 1.0, 2.0]
    assert (result.status, result.error, result.attempts, result.text) == (
        500,
        "HTTP 500",
        4,
        "boom",
    )
    assert not result.ok


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried(status: int) -> None:
    seen, handler = sequence(httpx.Response(status), httpx.Response(200))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        assert (await fetcher.fetch("http://a.example/")).status == 200
    assert len(seen) == 2


@pytest.mark.parametrize("status", [400, 403, 404, 410, 501])
async def test_other_statuses_are_answers_not_errors(status: int) -> None:
    seen, handler = sequence(httpx.Response(status))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert (result.status, result.error, result.attempts, len(seen)) == (status, None, 1, 1)


async def test_connection_errors_and_timeouts_are_retried_then_reported() -> None:
    _, handler = sequence(
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    )
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        result = await fetcher.fetch("http://a.example/")
    assert result.status is None
    assert result.error == "timeout (ReadTimeout)"
    assert result.attempts == 4


async def test_programming_errors_raise_instead_of_becoming_results() -> None:
    _, handler = sequence(ValueError("bug in a transport"))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        with pytest.raises(ValueError, match="bug in a transport"):
            await fetcher.fetch("http://a.example/")
        with pytest.raises(TypeError):
            await fetcher.fetch(b"http://a.example/")  # type: ignore[arg-type]
