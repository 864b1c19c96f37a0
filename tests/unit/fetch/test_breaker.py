"""Per-host circuit breaker: repeated failures open it; while open no request is made."""

from __future__ import annotations

import httpx

from tests.unit.fetch.conftest import make_fetcher


async def test_breaker_opens_after_repeated_failures_and_refuses_without_a_request() -> None:
    calls: list[str] = []
    healthy = False

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200 if healthy else 502)

    fetcher, fake = make_fetcher(
        handler, retry_attempts=1, breaker_threshold=2, breaker_recovery=30.0
    )
    async with fetcher:
        assert (await fetcher.fetch("http://down.example/1")).error == "HTTP 502"
        assert (await fetcher.fetch("http://down.example/2")).error == "HTTP 502"
        refused = await fetcher.fetch("http://down.example/3")
        assert (refused.error, refused.status) == ("circuit open", None)
        assert len(calls) == 2
        assert fetcher.hosts()["down.example"]["breaker"] == "open"
        # Another host is unaffected.
        assert (await fetcher.fetch("http://other.example/")).error == "HTTP 502"

        # After the recovery timeout one probe goes through; success closes the circuit.
        healthy = True
        fake.now += 31
        assert (await fetcher.fetch("http://down.example/4")).ok
        assert fetcher.hosts()["down.example"]["breaker"] == "closed"


async def test_open_circuit_stops_the_retries_of_the_fetch_that_tripped_it() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(503)

    fetcher, _ = make_fetcher(handler, retry_attempts=4, breaker_threshold=2)
    async with fetcher:
        result = await fetcher.fetch("http://down.example/")
    assert result.error == "circuit open"
    assert len(calls) == 2
