"""``FetchingEngine``: what every engine that fetches shares — one Fetcher per event loop.

Item actions of one worker process run on one loop, so they share that loop's Fetcher: its
keep-alive pool, per-host slots, breakers and robots cache. ``configure`` sets the settings new
fetchers are built with (``haystack crawl`` passes its own; a worker reads the environment's).
Each subclass has fetchers of its own, so engines never share a host's slots by accident.

``override_delay`` replaces the delay between requests to a host of every fetcher in the
process, those alive and those built later: a worker that follows the Config table passes
its ``DefaultDelay`` there (see worker.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from typing import Any, ClassVar

from haystack_collector.engines.base import Engine
from haystack_collector.errors import ConfigError
from haystack_collector.fetch import Fetcher, FetchSettings
from haystack_collector.fetch.validators import NoValidators

__all__ = ["FetchingEngine", "default_fetch_settings"]


class FetchingEngine(Engine):
    """An engine whose actions fetch through a per-loop ``Fetcher`` (see the module docstring)."""

    fetch_settings: ClassVar[FetchSettings | None] = None
    # Set on FetchingEngine itself only (by override_delay), so every subclass reads it.
    delay_override: ClassVar[float | None] = None
    # False for engines that must read every body (a 304 has none) or keep validators in
    # ItemData themselves: their fetchers remember no ETag/Last-Modified.
    conditional_get: ClassVar[bool] = True
    _fetchers: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fetcher]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fetchers = weakref.WeakKeyDictionary()

    @classmethod
    def configure(cls, fetch_settings: FetchSettings | None) -> None:
        """Fetch with these settings from now on (fetchers already built keep theirs)."""
        cls.fetch_settings = fetch_settings

    @classmethod
    def new_fetcher(cls) -> Fetcher:
        """A Fetcher of this engine's settings, owned by the caller (who must close it).

        Start actions use one: each run gets an event loop of its own, which would otherwise
        leave a shared fetcher behind on a loop that is gone.
        """
        settings = cls.fetch_settings or default_fetch_settings()
        if FetchingEngine.delay_override is not None:
            settings = dataclasses.replace(settings, min_delay=FetchingEngine.delay_override)
        return Fetcher(settings, validators=None if cls.conditional_get else NoValidators())

    @staticmethod
    def override_delay(delay: float | None) -> None:
        """Keep ``delay`` seconds between requests to a host in every fetcher of every engine
        from now on (None: each fetcher's settings decide again)."""
        FetchingEngine.delay_override = delay
        for engine in _subclasses(FetchingEngine):
            for fetcher in engine.fetchers():
                fetcher.set_min_delay(delay)

    @classmethod
    def fetcher(cls) -> Fetcher:
        """The running loop's shared Fetcher, built on first use."""
        loop = asyncio.get_running_loop()
        fetcher = cls._fetchers.get(loop)
        if fetcher is None:
            fetcher = cls._fetchers[loop] = cls.new_fetcher()
        return fetcher

    @classmethod
    def fetchers(cls) -> list[Fetcher]:
        """The fetchers alive in this process (for per-host statistics)."""
        return list(cls._fetchers.values())

    @classmethod
    async def close_resources(cls) -> None:
        fetcher = cls._fetchers.pop(asyncio.get_running_loop(), None)
        if fetcher is not None:
            await fetcher.aclose()
        await super().close_resources()


def _subclasses(cls: type[FetchingEngine]) -> list[type[FetchingEngine]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def default_fetch_settings() -> FetchSettings:
    """The environment's fetch settings (a worker started with ``haystack worker``)."""
    from haystack_collector.settings import load_settings  # noqa: PLC0415 - only when needed

    try:
        return load_settings().fetch_settings()
    except ConfigError:
        return FetchSettings()
