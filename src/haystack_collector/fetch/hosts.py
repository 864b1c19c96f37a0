"""Per-host slots: a concurrency cap, a minimum gap between requests, optional autothrottle."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from haystack_collector.fetch.settings import FetchSettings


@dataclasses.dataclass(slots=True)
class HostState:
    """One host's politeness state and counters."""

    semaphore: asyncio.Semaphore
    delay: float  # current gap between request starts (autothrottle moves it)
    floor: float  # the gap never goes below this (settings or robots Crawl-delay)
    crawl_delay: float = 0.0  # the host's robots.txt Crawl-delay (clamped), 0 without one
    next_start: float = 0.0  # clock reading before which no request may start
    in_flight: int = 0
    requests: int = 0
    errors: int = 0
    last_latency: float | None = None
    avg_latency: float | None = None


class HostSlots:
    """Hands out request slots per host; every attempt (retries too) goes through ``slot``."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._clock, self._sleep, self._rand = clock, sleep, rand
        self._hosts: dict[str, HostState] = {}

    def state(self, host: str) -> HostState:
        found = self._hosts.get(host)
        if found is None:
            s = self._settings
            found = self._hosts[host] = HostState(
                asyncio.Semaphore(s.per_host_concurrency), s.min_delay, s.min_delay
            )
        return found

    def raise_floor(self, host: str, delay: float) -> None:
        """Never go below ``delay`` between requests to ``host`` (robots.txt Crawl-delay)."""
        state = self.state(host)
        state.crawl_delay = max(state.crawl_delay, min(delay, self._settings.max_crawl_delay))
        state.floor = max(state.floor, state.crawl_delay)
        state.delay = max(state.delay, state.floor)

    def set_min_delay(self, delay: float) -> None:
        """Use ``delay`` as every host's minimum gap from now on (a Crawl-delay still raises it).

        Without autothrottle each host's gap becomes its new floor; with it, the gap only rises
        to the floor and adapts from there. Requests already waiting keep their turn.
        """
        self._settings = dataclasses.replace(self._settings, min_delay=delay)
        autothrottle = self._settings.autothrottle
        for state in self._hosts.values():
            state.floor = max(delay, state.crawl_delay)
            state.delay = max(state.delay, state.floor) if autothrottle else state.floor

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[HostState]:
        """Wait for a free slot and for the host's gap, then hold the slot for one request."""
        state = self.state(host)
        async with state.semaphore:
            # Reserve the start time before sleeping (no await in between), so concurrent
            # waiters queue up one gap apart instead of all waking at once.
            now = self._clock()
            start = max(now, state.next_start)
            gap = state.delay * (1 + self._settings.jitter * self._rand())
            state.next_start = start + gap
            if start > now:
                await self._sleep(start - now)
            state.in_flight += 1
            state.requests += 1
            try:
                yield state
            finally:
                state.in_flight -= 1

    def observe(self, host: str, latency: float, *, ok: bool) -> None:
        """Record one request's latency (seconds) and whether it failed; adapt the delay."""
        state = self.state(host)
        state.last_latency = latency
        state.avg_latency = (
            latency if state.avg_latency is None else 0.8 * state.avg_latency + 0.2 * latency
        )
        if not ok:
            state.errors += 1
        s = self._settings
        if s.autothrottle:
            # Scrapy's AutoThrottle: aim for latency / target_concurrency between requests,
            # move halfway there each time, and never speed up on an error response.
            target = latency / s.autothrottle_target_concurrency
            new = (state.delay + target) / 2
            if ok or new > state.delay:
                state.delay = min(max(new, state.floor), max(s.autothrottle_max_delay, state.floor))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every host's state, for the API and the CLI."""
        return {
            host: {
                "in_flight": st.in_flight,
                "delay": st.delay,
                "requests": st.requests,
                "errors": st.errors,
                "last_latency": st.last_latency,
                "avg_latency": st.avg_latency,
            }
            for host, st in sorted(self._hosts.items())
        }
