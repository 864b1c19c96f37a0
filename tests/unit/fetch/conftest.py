"""Helpers for fetcher unit tests: a MockTransport-backed Fetcher that never really sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from haystack_collector.fetch import Fetcher, FetchSettings

Handler = Callable[[httpx.Request], Any]


class FakeTime:
    """A clock that only moves when the fetcher sleeps (or a test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_fetcher(handler: Handler, **overrides: Any) -> tuple[Fetcher, FakeTime]:
    """A fetcher on ``handler`` with no delays, no jitter and robots off unless overridden."""
    options: dict[str, Any] = {"min_delay": 0.0, "jitter": 0.0, "obey_robots": False}
    options.update(overrides)
    fake = FakeTime()
    fetcher = Fetcher(
        FetchSettings(**options),
        transport=httpx.MockTransport(handler),
        sleep=fake.sleep,
        clock=fake.clock,
        rand=lambda: 1.0,  # full jitter at its ceiling: backoff waits are exact
    )
    return fetcher, fake
