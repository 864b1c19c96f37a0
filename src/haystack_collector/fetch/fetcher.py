"""The polite fetcher: keep-alive connections, per-host slots, robots, retries, limits.

Requests go out on aiohttp (``wire.AioWire``, far less CPU per request), except where httpx's
transport is needed: an injected transport (the unit tests' seam) and API-origin work under
the SSRF guard (``GuardedTransport``). File downloads stream through httpx too.

Error policy: ``fetch`` never raises for anything the remote side or the URL can cause (bad
scheme, blocked address, robots, timeouts, resets, 5xx after retries, open circuit, limits);
those come back as a ``FetchResult`` with ``error`` set, so a worker handles one shape. HTTP
error statuses that are not retried (404, 403, ...) are answers, not errors: ``status`` says it
and ``error`` stays None. Programming errors (a non-str URL, bugs) raise as usual.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from haystack_collector.errors import CircuitOpenError, NetworkError
from haystack_collector.fetch.body import read_body
from haystack_collector.fetch.decode import decode_body
from haystack_collector.fetch.download import Download, DownloadTools, download_file
from haystack_collector.fetch.failures import FetchFailure, Throttled, parse_retry_after
from haystack_collector.fetch.hosts import HostSlots
from haystack_collector.fetch.policy import (
    check_url,
    host_key,
    log_result,
    may_go_private,
    parse_url,
)
from haystack_collector.fetch.result import FetchResult
from haystack_collector.fetch.robots import RobotsCache
from haystack_collector.fetch.settings import FetchSettings
from haystack_collector.fetch.ssrf import (
    BlockedAddress,
    GuardedTransport,
    Resolver,
    system_resolver,
)
from haystack_collector.fetch.validators import DictValidatorCache, ValidatorCache, Validators
from haystack_collector.fetch.wire import AioWire, WireResponse
from haystack_collector.resilience import BreakerRegistry, RetryPolicy, async_retrying

REDIRECTS = frozenset({301, 302, 303, 307, 308})
CIRCUIT_OPEN = "circuit open"  # the error of a fetch its host's open breaker refused
_TEXTUAL = ("text/", "xml", "json", "javascript", "html")


@dataclass(frozen=True, slots=True)
class _Post:
    """A form to submit with POST (a search form's fields)."""

    fields: dict[str, str]


class Fetcher:
    """Fetches URLs politely; use as ``async with Fetcher() as f: await f.fetch(url)``.

    Work that came through the API (``origin.from_api()``) is fetched with the SSRF guard on
    unless ``api_allow_private``, whatever ``allow_private`` says for the command line's own
    work; it gets a client of its own (``GuardedTransport``), so it never reuses a connection
    that trusted work opened to a private address.
    """

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        validators: ValidatorCache | None = None,
        breakers: BreakerRegistry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        resolver: Resolver = system_resolver,
    ) -> None:
        s = self.settings = settings or FetchSettings()
        self._transport, self._resolver = transport, resolver
        self._clients: dict[bool, httpx.AsyncClient] = {}  # by "may reach private addresses"
        self._wire = AioWire(s, clock) if transport is None else None
        self._sleep, self._clock, self._rand = sleep, clock, rand
        self.validators: ValidatorCache = validators or DictValidatorCache()
        self._breakers = breakers or BreakerRegistry(
            s.breaker_threshold, s.breaker_recovery, clock=clock, expected=(NetworkError,)
        )
        self._slots = HostSlots(s, clock=clock, sleep=sleep, rand=rand)
        self._robots = RobotsCache(s, self._fetch_robots, clock=clock)
        self._policy = RetryPolicy(
            attempts=s.retry_attempts,
            initial=s.retry_initial,
            maximum=s.retry_maximum,
            retry_on=(NetworkError,),
            give_up_on=(CircuitOpenError,),  # an open circuit is a decision, not a glitch
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
        if self._wire is not None:
            await self._wire.aclose()

    def _allow_private(self, url: str | None = None) -> bool:
        """Whether the work running now may reach private addresses (see the class doc), or
        ``url``'s host at least (``guard_allow``)."""
        return may_go_private(self.settings, url)

    def _aio(self, url: str) -> AioWire | None:
        """The aiohttp wire, unless the work running now needs httpx (see the module doc)."""
        return self._wire if self._allow_private(url) else None

    def _client(self, url: str | None = None) -> httpx.AsyncClient:
        """The client for the work running now: a guarded one unless it may go private."""
        allow_private = self._allow_private(url)
        client = self._clients.get(allow_private)
        if client is None:
            s, transport = self.settings, self._transport
            if transport is None and not allow_private:
                transport = GuardedTransport(self._resolver)
            client = self._clients[allow_private] = httpx.AsyncClient(
                transport=transport,
                headers={"User-Agent": s.user_agent},
                timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
                follow_redirects=False,  # each hop must pass the scheme, SSRF and robots checks
            )
        return client

    def set_min_delay(self, delay: float | None) -> None:
        """Keep ``delay`` seconds between requests to a host from now on (None: the settings')."""
        self._slots.set_min_delay(self.settings.min_delay if delay is None else delay)

    def hosts(self) -> dict[str, dict[str, Any]]:
        """Per-host politeness state and counters, with the host's breaker state."""
        snapshot = self._slots.snapshot()
        for host, info in snapshot.items():
            name = f"fetch:{host}"
            info["breaker"] = (
                self._breakers.get(name).state.value if name in self._breakers else ("closed")
            )
        return snapshot

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        form: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """GET ``url`` (POST ``form`` to it when given), following redirects.

        See the module docstring for the error policy. A form is sent url-encoded, as a browser
        submits ``method="post"``; a 301/302/303 answer turns it into a GET, 307/308 resend it.
        """
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        started = self._clock()
        post = None if form is None else _Post(dict(form))
        result = await self._follow(url, Validators(etag, last_modified), post)
        result.elapsed = self._clock() - started
        log_result(result)
        return result

    async def download(
        self, url: str, folder: str | os.PathLike[str], *, max_bytes: int | None = None
    ) -> Download:
        """Stream ``url`` into ``folder`` (see ``fetch.download``); at most ``max_bytes``.

        Every hop passes the same checks as ``fetch`` and every attempt takes a host slot;
        like ``fetch`` it never raises for remote problems (``Download.error`` says them).
        """
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        tools = DownloadTools(
            self._client(url),
            self.settings,
            self._check,
            self._slots,
            self._breakers,
            self._policy,
            self._sleep,
            self._rand,
        )
        limit = self.settings.max_body_bytes if max_bytes is None else max_bytes
        return await download_file(tools, url, Path(folder), max_bytes=limit)

    async def _follow(self, url: str, explicit: Validators, post: _Post | None) -> FetchResult:
        redirects: list[str] = []
        current = url
        for hop in range(self.settings.max_redirects + 1):
            refusal = await self._check(current)
            if refusal is not None:
                return FetchResult(current, error=refusal, redirects=redirects)
            validators = None
            if post is None:
                validators = explicit if hop == 0 and explicit else self.validators.get(current)
            result = await self._attempts(current, validators, post)
            result.redirects = redirects
            location = result.headers.get("location")
            if result.error is not None or result.status not in REDIRECTS or not location:
                if post is None:
                    self._remember(result)
                return result
            if result.status not in (307, 308):
                post = None
            redirects.append(current)
            try:
                current = str(httpx.URL(current).join(location).copy_with(fragment=None))
            except httpx.InvalidURL as exc:
                return FetchResult(
                    current, error=f"bad redirect location: {exc}", redirects=redirects
                )
            if current in redirects:
                return FetchResult(
                    current, status=result.status, error="redirect loop", redirects=redirects
                )
        return FetchResult(
            current,
            error=f"too many redirects (> {self.settings.max_redirects})",
            redirects=redirects,
        )

    def _remember(self, result: FetchResult) -> None:
        if result.status == 200 and result.error is None and not result.truncated:
            found = Validators(result.headers.get("etag"), result.headers.get("last-modified"))
            if found:
                self.validators.put(result.url, found)

    async def _check(self, url: str) -> str | None:
        """Why ``url`` must not be requested (scheme, address, robots), or None."""
        s = self.settings
        refusal = await check_url(
            url, allow_private=self._allow_private(url), resolver=self._resolver
        )
        # robots.txt itself is always fetchable, whatever it says.
        if refusal is not None or not s.obey_robots or parse_url(url).path == "/robots.txt":
            return refusal
        rules = await self._robots.rules(url)
        delay = rules.crawl_delay(s.robots_agent)
        if delay is not None:
            self._slots.raise_floor(host_key(url), delay)
        return None if rules.allows(url, s.robots_agent) else "disallowed by robots.txt"

    async def _attempts(
        self, url: str, validators: Validators | None, post: _Post | None = None
    ) -> FetchResult:
        """One hop with retries, each attempt admitted by the host's circuit breaker."""
        breaker = self._breakers.get(f"fetch:{host_key(url)}")
        attempts = 0
        try:
            async for attempt in async_retrying(
                self._policy, name=f"fetch {url}", sleep=self._sleep, rand=self._rand
            ):
                with attempt:
                    attempts += 1
                    breaker.before_call()
                    try:
                        result = await self._request(url, validators, post)
                    except BaseException as exc:
                        breaker.record_failure(exc)  # non-network errors just free a probe slot
                        raise
                    breaker.record_success()
                    result.attempts = attempts
                    return result
        except CircuitOpenError as exc:
            return FetchResult(
                url, error=CIRCUIT_OPEN, attempts=attempts, retry_after=exc.retry_after
            )
        except (FetchFailure, Throttled) as exc:
            result = exc.result or FetchResult(url)
            result.error, result.attempts = str(exc), attempts
            return result
        except BlockedAddress as exc:  # the connection's own check (a name that rebound)
            return FetchResult(url, error=f"blocked address: {exc}", attempts=attempts)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _request(
        self, url: str, validators: Validators | None, post: _Post | None = None
    ) -> FetchResult:
        """One attempt; raises FetchFailure/Throttled for what is worth retrying."""
        s, host = self.settings, host_key(url)
        headers: dict[str, str] = {}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        method, form = ("GET", None) if post is None else ("POST", post.fields)
        async with self._slots.slot(host):
            started = self._clock()
            try:
                # The read timeout bounds each socket read; this bounds a body that trickles.
                async with asyncio.timeout(s.total_timeout):
                    answer = await self._exchange(method, url, headers, form)
            except (TimeoutError, httpx.TimeoutException) as exc:
                self._slots.observe(host, self._clock() - started, ok=False)
                raise FetchFailure(f"timeout ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                self._slots.observe(host, self._clock() - started, ok=False)
                raise FetchFailure(f"connection error ({type(exc).__name__}: {exc})") from exc
            status, read = answer.status, answer.read
            self._slots.observe(host, answer.latency, ok=status < 500 and status != 429)
        result = self._result(answer, read.data)
        result.truncated, result.reason = read.reason is not None, read.reason
        if read.bomb:
            result.error = f"decompression bomb: {read.reason}"
        if status in (429, 503):
            retry_after = parse_retry_after(answer.headers.get("retry-after"))
            raise Throttled(f"HTTP {status}", retry_after=retry_after, result=result)
        if status in (500, 502, 504):
            raise FetchFailure(f"HTTP {status}", result=result)
        result.not_modified = status == 304
        return result

    async def _exchange(
        self, method: str, url: str, headers: dict[str, str], form: dict[str, str] | None
    ) -> WireResponse:
        """One request and its body, on aiohttp or httpx (see the module docstring)."""
        wire = self._aio(url)
        if wire is not None:
            return await wire.send(method, url, headers, form)
        client = self._client(url)
        request = client.build_request(method, url, headers=headers, data=form)
        started = self._clock()
        response = await client.send(request, stream=True)
        latency = self._clock() - started
        try:
            read = await read_body(response, self.settings)
        finally:
            await response.aclose()
        return WireResponse(
            str(response.url), response.status_code, response.headers, read, latency
        )

    def _result(self, answer: WireResponse, body: bytes) -> FetchResult:
        content_type = answer.headers.get("content-type")
        result = FetchResult(
            answer.url, answer.status, answer.headers, body, content_type=content_type
        )
        # Detecting the charset of a PDF or an image is slow and meaningless.
        if body and (content_type is None or any(t in content_type.lower() for t in _TEXTUAL)):
            result.text, result.encoding = decode_body(body, content_type)
        return result

    async def _fetch_robots(self, url: str) -> tuple[int | None, bytes]:
        """robots.txt for RobotsCache: up to 5 redirects, each hop checked, one attempt."""
        s, current = self.settings, url
        try:
            for _ in range(6):
                refusal = await check_url(
                    current, allow_private=self._allow_private(current), resolver=self._resolver
                )
                if refusal is not None:
                    return None, b""
                async with self._slots.slot(host_key(current)), asyncio.timeout(s.total_timeout):
                    answer = await self._exchange("GET", current, {}, None)
                location = answer.headers.get("location")
                if answer.status not in REDIRECTS or not location:
                    return answer.status, answer.read.data
                current = str(httpx.URL(current).join(location))
        except (TimeoutError, httpx.HTTPError, BlockedAddress):
            return None, b""
        return None, b""
