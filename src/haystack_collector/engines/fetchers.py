"""``Fetchers``: the fetchers of one process, built from the fetch settings its runtime hands
the engines (see runtime.py), never from class variables.

Item actions of one worker run on one event loop, so they share that loop's Fetcher: its
keep-alive pool, per-host slots, breakers and robots cache. There is one Fetcher per engine,
per ``FetchSettings`` and per loop: engines never share a host's slots by accident, and an
action that needs other politeness than the engine's (a resumed crawl's own delay or robots
choice) asks for ``fetcher(engine, settings)`` and gets a fetcher of exactly those settings.

``set_delay`` is the Config table's ``DefaultDelay`` (worker.py): it replaces the delay of the
fetchers built from the runtime's settings, those alive and those built later. A fetcher asked
for with settings of its own keeps their delay: that delay was chosen for the work, not
inherited from ``HAYSTACK_DOWNLOAD_DELAY``.

An action reaches its engine's fetchers through ``ActionContext.fetcher()`` (an
``EngineFetch``: this pool seen from one engine).

The pool owns the loop's ``Browser`` too (fetch/browser.py): one Chromium per worker process,
launched on the first ``browser()`` call and closed with the fetchers. An action renders
through ``ActionContext.browser()`` (an ``EngineBrowser``), whose navigations go through the
engine's fetcher of the same settings, so a rendered page obeys the same slots and robots.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from haystack_collector.fetch import Fetcher, FetchSettings
from haystack_collector.fetch.browser import Browser
from haystack_collector.fetch.render import RenderResult, ScrollSpec, SnapshotSpec, WaitSpec
from haystack_collector.fetch.settings import BrowserSettings
from haystack_collector.fetch.validators import NoValidators
from haystack_collector.logs import get_logger
from haystack_collector.store.workers import merge_hosts

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["EngineBrowser", "EngineFetch", "Fetchers"]

log = get_logger("haystack.engines")

# A fetcher's identity in the pool: engine name, its explicit settings (None: the runtime's),
# and whether it remembers validators (conditional GETs).
_Key = tuple[str, FetchSettings | None, bool]


class Fetchers:
    """The fetchers of a process: ``settings`` for every engine, unless ``engines`` names
    settings of its own for one (by engine name); see the module docstring."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        engines: Mapping[str, FetchSettings] | None = None,
        browser: BrowserSettings | None = None,
    ) -> None:
        self.settings = settings if settings is not None else FetchSettings()
        self.engines = dict(engines or {})
        self.browser_settings = browser if browser is not None else BrowserSettings()
        self._delay: float | None = None
        # Start actions run on loops of their own, in threads: the map is shared across them.
        self._lock = threading.Lock()
        self._live: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, Fetcher]] = (
            weakref.WeakKeyDictionary()
        )
        self._browsers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Browser] = (
            weakref.WeakKeyDictionary()
        )

    # --- settings --------------------------------------------------------------------------

    @property
    def delay(self) -> float | None:
        """The Config table's DefaultDelay in force (None: the settings' own delay)."""
        return self._delay

    def settings_for(self, engine: str) -> FetchSettings:
        """The settings ``engine``'s fetchers are built with, DefaultDelay applied."""
        settings = self.engines.get(engine, self.settings)
        if self._delay is not None:
            settings = dataclasses.replace(settings, min_delay=self._delay)
        return settings

    def set_delay(self, delay: float | None) -> None:
        """Keep ``delay`` seconds between requests to a host in every fetcher built from the
        runtime's settings, alive and later (None: each one's settings decide again)."""
        self._delay = delay
        with self._lock:
            alive = [f for each in self._live.values() for k, f in each.items() if k[1] is None]
        for fetcher in alive:
            fetcher.set_min_delay(delay)

    # --- fetchers --------------------------------------------------------------------------

    def new_fetcher(
        self, engine: str, settings: FetchSettings | None = None, *, conditional_get: bool = True
    ) -> Fetcher:
        """A Fetcher owned by the caller (who must close it): ``settings``, else the engine's."""
        chosen = self.settings_for(engine) if settings is None else settings
        return Fetcher(chosen, validators=None if conditional_get else NoValidators())

    def fetcher(
        self, engine: str, settings: FetchSettings | None = None, *, conditional_get: bool = True
    ) -> Fetcher:
        """The running loop's shared Fetcher for ``engine`` (and ``settings``), built once."""
        loop = asyncio.get_running_loop()
        key: _Key = (engine, settings, conditional_get)
        with self._lock:
            on_loop = self._live.setdefault(loop, {})
            fetcher = on_loop.get(key)
            if fetcher is None:
                fetcher = on_loop[key] = self.new_fetcher(
                    engine, settings, conditional_get=conditional_get
                )
        return fetcher

    def browser(self) -> Browser:
        """The running loop's Browser (launched on its first page, not here)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._browsers.get(loop)
            if found is None:
                found = self._browsers[loop] = Browser(self.browser_settings, self.settings)
        return found

    def for_engine(self, engine: str, *, conditional_get: bool = True) -> EngineFetch:
        return EngineFetch(self, engine, conditional_get)

    def hosts(self) -> dict[str, dict[str, Any]]:
        """Per-host fetch state of the running loop's fetchers (never builds one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return {}
        with self._lock:
            alive = list(self._live.get(loop, {}).items())
        snapshots = []
        for (engine, _, _), fetcher in alive:
            try:
                snapshots.append(fetcher.hosts())
            except Exception:  # host stats are a nicety: never let them stop a heartbeat
                log.exception("reading the fetch state of %s failed", engine)
        return merge_hosts(*snapshots)

    async def aclose(self) -> None:
        """Close the running loop's fetchers (a worker stopping, an action's own loop ending)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            alive = self._live.pop(loop, {})
            browser = self._browsers.pop(loop, None)
        if browser is not None:
            try:
                await browser.aclose()
            except Exception:  # a browser that will not close must not turn a stop into a crash
                log.exception("closing the browser failed")
        for fetcher in alive.values():
            try:
                await fetcher.aclose()
            except Exception:  # a leaked client must not turn a clean stop into a crash
                log.exception("closing a fetcher failed")


@dataclass(frozen=True, slots=True)
class EngineFetch:
    """``Fetchers`` as one engine sees them (what ``ActionContext`` holds)."""

    fetchers: Fetchers
    engine: str
    conditional_get: bool = True

    @property
    def settings(self) -> FetchSettings:
        """The engine's fetch settings, DefaultDelay applied: derive others from these."""
        return self.fetchers.settings_for(self.engine)

    def fetcher(self, settings: FetchSettings | None = None) -> Fetcher:
        return self.fetchers.fetcher(self.engine, settings, conditional_get=self.conditional_get)

    def new_fetcher(self, settings: FetchSettings | None = None) -> Fetcher:
        return self.fetchers.new_fetcher(
            self.engine, settings, conditional_get=self.conditional_get
        )

    def browser(self) -> EngineBrowser:
        return EngineBrowser(self)


@dataclass(frozen=True, slots=True)
class EngineBrowser:
    """The loop's ``Browser`` as one engine sees it: navigations go through the engine's
    fetcher (of ``settings`` when given), never remembering validators (a 304 renders
    nothing)."""

    fetch: EngineFetch

    @property
    def browser(self) -> Browser:
        return self.fetch.fetchers.browser()

    def fetcher(self, settings: FetchSettings | None = None) -> Fetcher:
        return self.fetch.fetchers.fetcher(self.fetch.engine, settings, conditional_get=False)

    def page(
        self,
        *,
        settings: FetchSettings | None = None,
        origin: str | None = Browser.UNSET,
        correlation_id: str | None = Browser.UNSET,
    ) -> contextlib.AbstractAsyncContextManager[Page]:
        """``Browser.page`` with the engine's fetcher (see there)."""
        return self.browser.page(
            fetcher=self.fetcher(settings), origin=origin, correlation_id=correlation_id
        )

    async def render(
        self,
        url: str,
        *,
        settings: FetchSettings | None = None,
        wait: WaitSpec | None = None,
        scroll: ScrollSpec | None = None,
        snapshot: SnapshotSpec | None = None,
    ) -> RenderResult:
        """``Browser.render`` with the engine's fetcher (see there)."""
        return await self.browser.render(
            url, fetcher=self.fetcher(settings), wait=wait, scroll=scroll, snapshot=snapshot
        )
