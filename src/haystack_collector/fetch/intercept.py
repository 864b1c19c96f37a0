"""Every request a browser page makes, answered by Haystack's own rules (``context.route``).

Chromium never touches the network itself: each request is intercepted and made here.

* **Navigations** (documents, GET or an url-encoded POST) go through the task's ``Fetcher``:
  robots.txt, per-host slots and delays, the breaker, retries, redirects (each hop checked),
  the body caps, and the fetch log line. A redirect is answered as one, so the page's URL is
  the final one; the fetched final answer is kept and served when Chromium asks for it.
* **Everything else** (scripts, ``fetch()``, images...) is checked by ``check_url`` (the SSRF
  guard when the work came through the API and its host is not in ``guard_allow``), sent on a
  client that connects only to checked addresses when guarded, its redirects followed here
  (each hop checked again), and its body read within the caps; a body over them is refused.
* **WebSockets** (``context.route_web_socket``; ``route`` never sees them) are checked the same
  way and refused with a close, or connected as they were.
* Resource types in ``BrowserSettings.block`` are never requested.

Route handlers run in Playwright's own tasks, whose context variables are those of whatever
started Playwright, not the work's: each request is answered in a fresh context where the
origin and correlation id captured when the page opened are set again, so the guard and the
log lines follow the work as they do for every fetch (and one API task that happened to start
the browser never makes every later page "API").
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import httpx

from haystack_collector.fetch.body import read_body
from haystack_collector.fetch.fetcher import REDIRECTS, Fetcher
from haystack_collector.fetch.policy import check_url, log, may_go_private
from haystack_collector.fetch.result import FetchResult
from haystack_collector.fetch.settings import BrowserSettings, FetchSettings
from haystack_collector.fetch.ssrf import GuardedTransport
from haystack_collector.logs import correlation_scope
from haystack_collector.origin import origin_scope

if TYPE_CHECKING:
    from playwright.async_api import Request, Route, WebSocketRoute

__all__ = ["Interceptor", "SubresourceClients"]

# Headers a fulfilled answer must not repeat: the body handed over is whole and decoded.
_DROP_ANSWER = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})
# Headers of Chromium's request that the client sets itself.
_DROP_REQUEST = frozenset({"host", "content-length", "connection", "accept-encoding"})
_FORM = "application/x-www-form-urlencoded"


class SubresourceClients:
    """The HTTP clients pages' other requests go out on, shared by a browser's pages (their
    keep-alive connections too): one per fetch settings and per "may go private"."""

    def __init__(self) -> None:
        self._clients: dict[tuple[FetchSettings, bool], httpx.AsyncClient] = {}

    def get(self, settings: FetchSettings, allowed: bool) -> httpx.AsyncClient:
        """A client that connects only to checked addresses unless ``allowed``."""
        client = self._clients.get((settings, allowed))
        if client is None:
            client = self._clients[settings, allowed] = httpx.AsyncClient(
                transport=None if allowed else GuardedTransport(),
                timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
                follow_redirects=False,  # each hop is checked by the interceptor
                trust_env=allowed,
            )
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


@dataclasses.dataclass(slots=True)
class Navigation:
    """The last navigation fetched for the page's main frame, and what it left behind."""

    result: FetchResult | None = None
    redirects: list[str] = dataclasses.field(default_factory=list)


class Interceptor:
    """The route handler of one browser context (one task); see the module docstring."""

    def __init__(
        self,
        fetcher: Fetcher,
        browser: BrowserSettings,
        *,
        origin: str | None,
        correlation_id: str | None,
        clients: SubresourceClients | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.settings = fetcher.settings
        self.browser = browser
        self.origin, self.correlation_id = origin, correlation_id
        self.navigation = Navigation()
        self.refused: list[str] = []
        self.blocked = 0
        self._ready: dict[str, FetchResult] = {}  # a redirect's target, fetched already
        self._own = clients is None
        self._clients = clients if clients is not None else SubresourceClients()
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, route: Route) -> None:
        """Answer one intercepted request (Playwright calls this); see the module docstring."""
        task = asyncio.create_task(self._scoped(route), context=contextvars.Context())
        self._tasks.add(task)
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():  # Playwright's own task was cancelled: pass it on
                task.cancel()
                raise
        finally:
            self._tasks.discard(task)

    async def _scoped(self, route: Route) -> None:
        try:
            with origin_scope(self.origin), correlation_scope(self.correlation_id):
                await self._answer(route)
        except Exception as exc:  # the page closed meanwhile, or an answer the browser refused
            log.debug("browser request %s not answered: %s", route.request.url, exc)
            with contextlib.suppress(Exception):
                await route.abort("failed")

    async def aclose(self) -> None:
        """Cancel requests still in flight (a page closed early); close its own clients."""
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._own:
            await self._clients.aclose()

    async def _answer(self, route: Route) -> None:
        request = route.request
        url = request.url
        if request.resource_type in self.browser.block:
            self.blocked += 1
            await route.abort("blockedbyclient")
            return
        if request.is_navigation_request() and request.resource_type == "document":
            form = _form(request)
            if request.method == "GET" or form is not None:
                await self._navigate(route, request, form)
                return
        allowed = may_go_private(self.settings, url)
        refusal = await check_url(url, allow_private=allowed)
        if refusal is not None:
            self._refuse(url, refusal)
            await route.abort("blockedbyclient")
            return
        await self._subresource(route, request)

    async def web_socket(self, socket: WebSocketRoute) -> None:
        """A WebSocket the page opens: ``route`` never sees one, so the guard checks it here."""
        url = socket.url
        checked = "http" + url.removeprefix("ws") if url.startswith("ws") else url
        with origin_scope(self.origin):
            allowed = may_go_private(self.settings, checked)
        refusal = await check_url(checked, allow_private=allowed)
        if refusal is not None:
            self._refuse(url, refusal)
            await socket.close(code=1008, reason="refused by Haystack's fetch rules")
            return
        socket.connect_to_server()

    def _refuse(self, url: str, refusal: str) -> None:
        self.refused.append(url)
        log.warning("browser request refused %s: %s", url, refusal, extra={"url": url})

    async def _navigate(self, route: Route, request: Request, form: dict[str, str] | None) -> None:
        url = request.url
        main = request.frame.parent_frame is None
        result = self._ready.pop(url, None) if form is None else None
        if result is None:
            result = await self.fetcher.fetch(url, form=form)
        if main:
            self.navigation.result = result
        if result.error is not None or result.status is None:
            if result.error is not None and result.error.startswith(
                ("blocked address", "disallowed by robots")
            ):
                self.refused.append(url)
            await route.abort("blockedbyclient" if result.status is None else "failed")
            return
        if result.redirects and result.url != url:
            # Answer with the redirect, so Chromium's page URL is the final one.
            if main:
                self.navigation.redirects = [*result.redirects]
            self._ready[result.url] = result
            await route.fulfill(status=302, headers={"location": result.url}, body=b"")
            return
        await route.fulfill(
            status=result.status, headers=_answer_headers(result.headers), body=result.body
        )

    async def _subresource(self, route: Route, request: Request) -> None:
        s = self.settings
        headers = {
            k: v for k, v in (await request.all_headers()).items() if k.lower() not in _DROP_REQUEST
        }
        method, body, url = request.method, request.post_data_buffer, request.url
        for _ in range(s.max_redirects + 1):
            client = self._client(url)
            built = client.build_request(method, url, headers=headers, content=body)
            async with asyncio.timeout(s.total_timeout):
                response = await client.send(built, stream=True)
                try:
                    read = await read_body(response, s)
                finally:
                    await response.aclose()
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or not location:
                break
            url = str(httpx.URL(url).join(location))
            refusal = await check_url(url, allow_private=may_go_private(s, url))
            if refusal is not None:
                self._refuse(url, refusal)
                await route.abort("blockedbyclient")
                return
            if response.status_code not in (307, 308):
                method, body = "GET", None
        else:
            await route.abort("failed")  # too many redirects
            return
        if read.reason is not None:
            log.warning(
                "browser request %s refused: %s", request.url, read.reason, extra={"url": url}
            )
            await route.abort("failed")
            return
        await route.fulfill(
            status=response.status_code, headers=_answer_headers(response.headers), body=read.data
        )

    def _client(self, url: str) -> httpx.AsyncClient:
        """A client that connects only to checked addresses unless ``url`` may go private."""
        return self._clients.get(self.settings, may_go_private(self.settings, url))


def _form(request: Request) -> dict[str, str] | None:
    """An url-encoded POST's fields (a form submitted by navigation), else None."""
    if request.method != "POST":
        return None
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(_FORM):
        return None
    return dict(parse_qsl(request.post_data or "", keep_blank_values=True))


def _answer_headers(headers: httpx.Headers) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.multi_items():
        low = name.lower()
        if low in _DROP_ANSWER:
            continue
        # Chromium takes repeated headers joined by newlines (Set-Cookie above all).
        kept[low] = f"{kept[low]}\n{value}" if low in kept else value
    return kept
