"""Every fetch is logged, with the caller's correlation id."""

from __future__ import annotations

import logging

import httpx
import pytest

from haystack_collector import logs
from tests.unit.fetch.conftest import make_fetcher


async def test_fetches_are_logged_with_the_correlation_id(caplog: pytest.LogCaptureFixture) -> None:
    # ContextFilter is what Haystack's handlers use to stamp records with the correlation id.
    caplog.handler.addFilter(logs.ContextFilter())
    fetcher, _ = make_fetcher(
        lambda r: httpx.Response(200 if r.url.path == "/ok" else 502, content=b"hello")
    )
    with caplog.at_level(logging.DEBUG, logger="haystack.fetch"):
        async with fetcher:
            with logs.correlation_scope("abc12345"):
                await fetcher.fetch("http://a.example/ok")
            await fetcher.fetch("http://a.example/bad")
    records = [r for r in caplog.records if r.name == "haystack.fetch"]
    ok, bad = records
    assert (ok.levelno, ok.correlation_id) == (logging.DEBUG, "abc12345")  # type: ignore[attr-defined]
    assert (ok.url, ok.status, ok.bytes) == ("http://a.example/ok", 200, 5)  # type: ignore[attr-defined]
    assert isinstance(ok.ms, float)  # type: ignore[attr-defined]
    assert bad.levelno == logging.WARNING
    assert "HTTP 502" in bad.getMessage()
    assert bad.correlation_id is None  # type: ignore[attr-defined]
