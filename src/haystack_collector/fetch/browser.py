"""The browser fetcher: pages rendered by Debian's Chromium, driven by Playwright.

One ``Browser`` per worker process (event loop), owned by the runtime's ``Fetchers`` and
closed with them. Chromium is launched on first use from ``BrowserSettings.executable``
(never Playwright's own download), each task gets a browser context of its own (cookies and
storage never leak between tasks), and at most ``BrowserSettings.pages`` pages are open at
once. Every request a page makes goes through ``intercept.Interceptor``: the same rules as
every fetch.

Failure paths:

* a render that takes longer than ``page_timeout`` is closed and returned with an error; a
  page that will not even close within ``close_timeout`` means a hung browser: it is killed
  and the task fails with ``BrowserCrashed`` (retried, as below);
* a browser that crashed or was killed (disconnected) fails the task with ``BrowserCrashed``,
  a ``NetworkError``: the queue retries it, so it is never lost; the next page launches a
  fresh browser.

Playwright is an optional extra (``pip install 'haystack-collector[browser]'``), imported only
when a browser is first needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from haystack_collector.errors import ConfigError, NetworkError
from haystack_collector.fetch.fetcher import Fetcher
from haystack_collector.fetch.intercept import Interceptor, SubresourceClients
from haystack_collector.fetch.policy import log
from haystack_collector.fetch.procs import find_marked, tree, tree_pss
from haystack_collector.fetch.render import (
    RenderResult,
    ScrollSpec,
    SnapshotSpec,
    WaitSpec,
    apply_wait,
    scroll_page,
)
from haystack_collector.fetch.settings import BrowserSettings, FetchSettings
from haystack_collector.logs import get_correlation_id
from haystack_collector.origin import current_origin

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import BrowserContext, Page, Playwright

__all__ = [
    "EXTRA",
    "Browser",
    "BrowserCrashed",
    "RenderResult",
    "ScrollSpec",
    "SnapshotSpec",
    "WaitSpec",
    "require_playwright",
]

EXTRA = "pip install 'haystack-collector[browser]'"
_UNSET: Any = object()  # "the running work's" (origin, correlation id)
_ANY_URL = re.compile(".*")  # every WebSocket a page opens goes through the interceptor


class BrowserCrashed(NetworkError):
    """The browser died or hung under a task: the task fails and the queue retries it."""


def require_playwright() -> None:
    """Raise ConfigError naming the extra when Playwright is not installed."""
    try:
        import playwright.async_api  # noqa: F401, PLC0415
    except ImportError as exc:
        raise ConfigError(
            f"rendering pages in a browser needs Playwright: {EXTRA}", setting="render"
        ) from exc


class Browser:
    """One Chromium for the tasks of one event loop; see the module docstring.

    ``fetch`` is what navigations are fetched with when a caller names no fetcher (a
    ``Fetcher`` of those settings, built on first use and closed with the browser).
    """

    UNSET: Any = _UNSET

    def __init__(
        self, settings: BrowserSettings | None = None, fetch: FetchSettings | None = None
    ) -> None:
        self.settings = settings or BrowserSettings()
        self.fetch_settings = fetch or FetchSettings()
        self._pages = asyncio.Semaphore(self.settings.pages)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        self._marker: str | None = None
        self._pid: int | None = None
        self._fetchers: dict[FetchSettings, Fetcher] = {}
        self._clients = SubresourceClients()
        self.launches = 0  # how many browsers were started (restarts included)
        self.open_pages = 0

    # --- the process -----------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running browser's main process, if one runs."""
        if self._pid is None and self._marker is not None:
            self._pid = find_marked(self._marker)
        return self._pid

    def memory(self) -> int:
        """Proportional memory (PSS) of the browser's process tree, in bytes (0: none runs)."""
        pid = self.pid
        return 0 if pid is None else tree_pss(pid)

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def _ensure(self) -> PlaywrightBrowser:
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:
                log.warning("the browser disconnected: starting a new one")
                await self._drop()
            return await self._launch()

    async def _launch(self) -> PlaywrightBrowser:
        require_playwright()
        from playwright.async_api import async_playwright  # noqa: PLC0415

        s = self.settings
        if not os.access(s.executable, os.X_OK):
            raise ConfigError(
                f"no browser at {s.executable!r} (HAYSTACK_BROWSER_PATH)", setting="browser_path"
            )
        if self._playwright is None:
            # Playwright's tasks inherit the context they start in: a fresh one, so the work
            # that happened to start the browser (its origin, its correlation id) is not theirs.
            starting = asyncio.create_task(
                async_playwright().start(), context=contextvars.Context()
            )
            self._playwright = await starting
        self._marker = f"--haystack-browser={uuid.uuid4().hex}"
        self._pid = None
        args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", self._marker, *s.args]
        self._browser = await self._playwright.chromium.launch(
            executable_path=s.executable, headless=True, args=args
        )
        self.launches += 1
        log.info("browser started: %s (pages at once: %d)", s.executable, s.pages)
        return self._browser

    async def _drop(self) -> None:
        """Forget the browser; kill what is left of its processes."""
        browser, self._browser = self._browser, None
        pid, self._pid, self._marker = self.pid, None, None
        if pid is not None:
            for each in tree(pid):
                with contextlib.suppress(OSError):
                    os.kill(each, signal.SIGKILL)
        if browser is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.close_timeout):
                    await browser.close()

    async def restart(self) -> None:
        """Kill the browser (hung, or crashed); the next page starts a new one."""
        async with self._lock:
            await self._drop()

    async def aclose(self) -> None:
        """Close the browser, its Playwright driver and the fetchers it built."""
        async with self._lock:
            if self._browser is not None:
                try:
                    async with asyncio.timeout(self.settings.close_timeout):
                        await self._browser.close()
                except Exception:  # hung or gone: make sure nothing is left running
                    await self._drop()
                self._browser, self._pid, self._marker = None, None, None
            if self._playwright is not None:
                with contextlib.suppress(Exception):
                    await self._playwright.stop()
                self._playwright = None
        fetchers, self._fetchers = list(self._fetchers.values()), {}
        for fetcher in fetchers:
            await fetcher.aclose()
        await self._clients.aclose()

    def _fetcher(self, settings: FetchSettings | None) -> Fetcher:
        chosen = settings or self.fetch_settings
        found = self._fetchers.get(chosen)
        if found is None:
            # Rendering needs every body: no conditional GETs (a 304 has nothing to show).
            from haystack_collector.fetch.validators import NoValidators  # noqa: PLC0415

            found = self._fetchers[chosen] = Fetcher(chosen, validators=NoValidators())
        return found

    # --- pages -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def page(
        self,
        *,
        fetcher: Fetcher | None = None,
        settings: FetchSettings | None = None,
        origin: str | None = _UNSET,
        correlation_id: str | None = _UNSET,
    ) -> AsyncIterator[Page]:
        """A page in a context of its own, every request of it intercepted (see
        ``intercept``); closed, with its context, when the block ends.

        Navigations are fetched with ``fetcher`` (else one of ``settings``, else the
        browser's). ``origin`` and ``correlation_id`` default to the running work's.
        Waits for a free page slot (``BrowserSettings.pages``). A browser that dies under
        the block raises ``BrowserCrashed``.
        """
        async with self._pages:
            handler = Interceptor(
                fetcher or self._fetcher(settings),
                self.settings,
                origin=current_origin() if origin is _UNSET else origin,
                correlation_id=get_correlation_id() if correlation_id is _UNSET else correlation_id,
                clients=self._clients,
            )
            context, page = await self._open(handler)
            self.open_pages += 1
            try:
                yield page
            except BrowserCrashed:
                raise
            except Exception as exc:
                if not self.connected:
                    raise BrowserCrashed(f"the browser died: {exc}") from exc
                raise
            finally:
                self.open_pages -= 1
                hung = await self._close(context, handler)
            if hung:  # the page's work never finished: the task must run again
                raise BrowserCrashed("the browser hung (a page would not close): restarted")

    async def _open(self, handler: Interceptor) -> tuple[BrowserContext, Page]:
        """A new context with its route and one page; a browser that does not answer within
        the page timeout is hung: restarted, and BrowserCrashed raised."""
        browser = await self._ensure()
        context: BrowserContext | None = None
        try:
            async with asyncio.timeout(self.settings.page_timeout):
                context = await browser.new_context(
                    user_agent=handler.settings.user_agent,
                    service_workers="block",  # a service worker's requests would skip the routes
                    accept_downloads=False,
                )
                await context.route("**/*", handler.handle)
                await context.route_web_socket(_ANY_URL, handler.web_socket)
                page = await context.new_page()
        except TimeoutError as exc:
            log.warning("the browser does not answer: restarting it")
            await handler.aclose()
            await self.restart()
            raise BrowserCrashed("the browser hung (no new page): restarted") from exc
        except Exception as exc:
            await handler.aclose()
            if context is not None:
                with contextlib.suppress(Exception):
                    await context.close()
            if not self.connected:
                raise BrowserCrashed(f"the browser died: {exc}") from exc
            raise
        page.set_default_timeout(self.settings.page_timeout * 1000)
        page.interceptor = handler  # type: ignore[attr-defined]  # render() reads it
        return context, page

    async def _close(self, context: BrowserContext, handler: Interceptor) -> bool:
        """Close a task's context; True when it would not close (the browser is restarted)."""
        await handler.aclose()
        try:
            async with asyncio.timeout(self.settings.close_timeout):
                await context.close()
        except TimeoutError:
            log.warning("a browser page would not close: restarting the browser")
            await self.restart()
            return True
        except Exception:  # the browser is gone already: the next page starts one
            log.debug("closing a browser context failed", exc_info=True)
        return False

    async def render(
        self,
        url: str,
        *,
        fetcher: Fetcher | None = None,
        settings: FetchSettings | None = None,
        wait: WaitSpec | None = None,
        scroll: ScrollSpec | None = None,
        snapshot: SnapshotSpec | None = None,
    ) -> RenderResult:
        """Open ``url``, wait and scroll as asked, and return the rendered page.

        Like ``Fetcher.fetch`` it never raises for what the site or the URL can cause (the
        navigation's fetch error, a timeout): ``RenderResult.error`` says it. A browser that
        crashes or hangs raises ``BrowserCrashed`` (the queue retries the task).
        """
        from playwright.async_api import Error as PlaywrightError  # noqa: PLC0415

        started = time.monotonic()
        result = RenderResult(url)
        try:
            async with self.page(fetcher=fetcher, settings=settings) as page:
                handler: Interceptor = page.interceptor  # type: ignore[attr-defined]
                try:
                    async with asyncio.timeout(self.settings.page_timeout):
                        await self._load(page, url, wait, scroll, snapshot, result)
                except TimeoutError:
                    result.error = f"page timeout ({self.settings.page_timeout:g} s)"
                except PlaywrightError as exc:
                    if not self.connected:
                        raise BrowserCrashed(f"the browser died: {exc}") from exc
                    result.error = result.error or _first_line(exc)
                finally:
                    _navigation(handler, result)
        except PlaywrightError as exc:  # opening or closing the page
            if not self.connected:
                raise BrowserCrashed(f"the browser died: {exc}") from exc
            result.error = result.error or _first_line(exc)
        result.elapsed = time.monotonic() - started
        _log(result)
        return result

    async def _load(  # noqa: PLR0917 - a private step of render
        self,
        page: Page,
        url: str,
        wait: WaitSpec | None,
        scroll: ScrollSpec | None,
        snapshot: SnapshotSpec | None,
        result: RenderResult,
    ) -> None:
        response = await page.goto(url, wait_until="load")
        if response is not None:
            result.status = response.status
        if wait is not None:
            result.wait_timed_out = not await apply_wait(page, wait)
        if scroll is not None and scroll.max_scrolls:
            result.scrolls = await scroll_page(page, scroll)
        result.url = page.url
        html = await page.content()
        limit = self.fetch_settings.max_decoded_bytes
        if len(html) > limit:
            html = html[:limit]
            result.truncated, result.reason = True, f"rendered HTML over {limit} characters"
        result.html = html
        if snapshot is not None and snapshot.screenshot:
            result.screenshot = await page.screenshot(full_page=True, type="png")
        if snapshot is not None and snapshot.pdf:
            result.pdf = await page.pdf(print_background=True)


def _navigation(handler: Interceptor, result: RenderResult) -> None:
    """Copy what the main frame's navigation fetch said onto the result."""
    fetched = handler.navigation.result
    result.refused, result.blocked = list(handler.refused), handler.blocked
    if fetched is None:
        return
    result.attempts, result.retry_after = fetched.attempts, fetched.retry_after
    result.redirects = list(handler.navigation.redirects)
    if fetched.error is not None:
        result.error = fetched.error  # the reason behind Chromium's "net::ERR_FAILED"
        result.status = fetched.status
    if result.status is None:
        result.status = fetched.status
    result.headers = fetched.headers
    if fetched.truncated and not result.truncated:
        result.truncated, result.reason = True, fetched.reason


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _log(result: RenderResult) -> None:
    ms = result.elapsed * 1000
    fields = {"url": result.url, "status": result.status, "bytes": len(result.html), "ms": ms}
    if result.error is not None:
        log.warning(
            "render failed %s: %s (status=%s, %.0f ms)",
            result.url,
            result.error,
            result.status,
            ms,
            extra={**fields, "error": result.error},
        )
    else:
        log.info(
            "rendered %s status=%s bytes=%d ms=%.0f",
            result.url,
            result.status,
            len(result.html),
            ms,
            extra=fields,
        )
