"""robots.txt: fetched once per host, cached, and asked before every request.

Policy (RFC 9309, as Google applies it):

* 2xx: obey the rules; ``Crawl-delay`` raises the host's minimum delay (clamped).
* 4xx other than 429 (missing, forbidden): no rules, everything allowed.
* 429, 5xx, or unreachable: everything disallowed for ``robots_error_ttl``, then ask again.
* Good answers are cached for ``robots_ttl``; at most ``robots_max_bytes`` are parsed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from haystack_collector.fetch.settings import FetchSettings

# (status or None when unreachable, body) for a robots.txt URL.
RobotsFetch = Callable[[str], Awaitable[tuple[int | None, bytes]]]


@dataclasses.dataclass(frozen=True, slots=True)
class RobotsRules:
    """What one host's robots.txt says, and until when we believe it."""

    parser: Protego | None  # None: no rules apply
    allow_all: bool
    expires: float

    def allows(self, url: str, token: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, token))

    def crawl_delay(self, token: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(token)
        return None if delay is None else float(delay)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


class RobotsCache:
    """Per-origin robots.txt rules; concurrent first requests share one download."""

    def __init__(
        self,
        settings: FetchSettings,
        fetch: RobotsFetch,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings, self._fetch, self._clock = settings, fetch, clock
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules(self, url: str) -> RobotsRules:
        key = robots_url(url)
        cached = self._rules.get(key)
        if cached is not None and cached.expires > self._clock():
            return cached  # every fetch asks: no lock (and no new Lock) while the rules hold
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            cached = self._rules.get(key)
            if cached is None or cached.expires <= self._clock():
                cached = self._rules[key] = await self._load(key)
            return cached

    async def _load(self, key: str) -> RobotsRules:
        s, now = self._settings, self._clock()
        status, body = await self._fetch(key)
        if status is not None and 200 <= status < 300:
            text = body[: s.robots_max_bytes].decode("utf-8", errors="replace")
            return RobotsRules(Protego.parse(text), True, now + s.robots_ttl)
        if status is not None and 400 <= status < 500 and status != 429:
            return RobotsRules(None, True, now + s.robots_ttl)
        return RobotsRules(None, False, now + s.robots_error_ttl)

    def forget(self, url: str) -> None:
        self._rules.pop(robots_url(url), None)
