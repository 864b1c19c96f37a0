"""The API's middleware: correlation ids, the per-client rate limit, CORS, 405 ``Allow``,
and the guards of ``guards.py`` (Host names, body sizes, auth first, security headers).

Plain ASGI middleware rather than ``BaseHTTPMiddleware``: the correlation id must stay set in
the task that runs the route (and its thread-pool work), and server-sent event streams must
pass through unbuffered.

Order, outermost first: correlation id (so every answer, a 429 too, carries it), security
headers (on every answer), the Host check (nothing else runs for a rebinding page), CORS (so a
browser can read a 429), rate limit, body size, auth before the body, the 405 ``Allow`` fix,
the app.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict

from fastapi import FastAPI, routing
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haystack_collector import metrics
from haystack_collector.api import guards
from haystack_collector.api.guards import json_answer
from haystack_collector.logs import correlation_scope, get_logger
from haystack_collector.resilience import LimiterRegistry
from haystack_collector.settings import Settings
from haystack_collector.store.tokens import hash_secret

log = get_logger("haystack.api")
access_log = get_logger("haystack.api.access")

CORRELATION_HEADER = "X-Correlation-ID"
# What we accept from a client as its id: short and harmless in a log line or a header
# (Runs.runCorrelationId holds 64 characters).
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")


def sane_correlation_id(value: str | None) -> str | None:
    """``value`` if it is fit to be a correlation id, else None."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None


class CorrelationMiddleware:
    """Tag the request's work and its answer with an ``X-Correlation-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = sane_correlation_id(_header(scope, b"x-correlation-id"))
        with correlation_scope(wanted) as cid:
            header = (CORRELATION_HEADER.lower().encode(), cid.encode("latin-1"))
            started = time.perf_counter()
            status: list[int] = []

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), header]
                await send(message)

            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                # Starlette's outermost error handler would answer without our header; answer
                # here instead when we still can.
                log.exception("%s %s failed", scope.get("method"), scope.get("path"))
                if status:
                    raise
                start, body = json_answer(500, "internal error", {CORRELATION_HEADER: cid})
                await send(start)
                await send(body)
                status.append(500)
            finally:
                elapsed = time.perf_counter() - started
                _observe(scope, status[0] if status else 0, elapsed)
                access_log.debug(
                    "%s %s -> %s in %.1f ms",
                    scope.get("method"),
                    scope.get("path"),
                    status[0] if status else "no answer",
                    elapsed * 1000,
                )


def _observe(scope: Scope, status: int, seconds: float) -> None:
    # The route's template, not the path: /api/items/{item_id} is one series, not millions.
    route = getattr(scope.get("route"), "path", None)
    metrics.observe_request(
        method=str(scope.get("method", "")),
        route=route if isinstance(route, str) else "unmatched",
        status=status,
        seconds=seconds,
    )


class AllowHeaderMiddleware:
    """Make a 405's ``Allow`` list every method of the path, not just the first route's.

    Routing stops at the first route whose path matches, so ``GET`` and ``DELETE`` on
    ``/api/events/{id}`` (two routes) would answer a ``PUT`` with ``Allow: GET`` alone.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(scope.get("app"), scope.get("path", ""))
                if methods:
                    headers = [
                        (k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"
                    ]
                    headers.append((b"allow", ", ".join(methods).encode("latin-1")))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_allow)


def allowed_methods(app: object, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path``, sorted."""
    routes = getattr(app, "routes", None)
    if routes is None:
        return []
    methods: set[str] = set()
    for context in routing.iter_route_contexts(routes):
        route = getattr(context, "route", None)
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


class KnownTokens:
    """Token hashes the API has verified, by name: lets the rate limit key by token name.

    Only ``require_token``/``read_access`` add entries, after checking the token, so a client
    cannot pick another client's bucket by sending a made-up token.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._names: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()  # filled from the dependency thread pool

    def remember(self, digest: str, name: str) -> None:
        with self._lock:
            self._names[digest] = name
            self._names.move_to_end(digest)
            while len(self._names) > self.capacity:
                self._names.popitem(last=False)

    def name_for(self, digest: str) -> str | None:
        with self._lock:
            return self._names.get(digest)


# Clients whose token buckets are kept at once: each is small, but an address is free to make.
MAX_CLIENTS = 10_000


def client_limiters(settings: Settings, *, max_clients: int = MAX_CLIENTS) -> LimiterRegistry:
    """One token bucket per client: ``api_rate_limit`` a second, bursts of ``api_rate_burst``."""
    return LimiterRegistry(
        rate=settings.api_rate_limit, burst=settings.api_rate_burst, max_entries=max_clients
    )


class RateLimitMiddleware:
    """Answer 429 with ``Retry-After`` once a client (token, else address) is over budget."""

    def __init__(self, app: ASGIApp, *, limiters: LimiterRegistry, known: KnownTokens) -> None:
        self.app = app
        self.limiters = limiters
        self.known = known

    def client_key(self, scope: Scope) -> str:
        authorization = _header(scope, b"authorization") or ""
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            name = self.known.name_for(hash_secret(secret.strip()))
            if name is not None:
                return f"token:{name}"
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = self.client_key(scope)
        limiter = self.limiters.get(key)
        wait = limiter.take()
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        log.info("rate limit: %s refused, retry after %d s", key, retry_after)
        start, body = json_answer(
            429,
            f"rate limit exceeded: at most {limiter.rate:g} requests a second "
            f"(bursts of {limiter.burst:g}); retry after {retry_after} s",
            {"Retry-After": str(retry_after)},
        )
        await send(start)
        await send(body)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware to ``app`` in the order the module docstring gives."""
    known = KnownTokens()
    app.state.known_tokens = known
    limiters = client_limiters(settings)
    app.state.rate_limits = limiters
    # add_middleware wraps what is there: the last added is the outermost.
    app.add_middleware(AllowHeaderMiddleware)
    app.add_middleware(guards.AuthFirstMiddleware)
    app.add_middleware(guards.BodyLimitMiddleware, limit=settings.api_max_body_bytes)
    app.add_middleware(RateLimitMiddleware, limiters=limiters, known=known)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", CORRELATION_HEADER],
            expose_headers=[CORRELATION_HEADER, "Retry-After"],
            allow_credentials=False,  # bearer tokens travel in a header, never in cookies
        )
    app.add_middleware(guards.HostCheckMiddleware, allowed=guards.allowed_host_names(settings))
    docs = frozenset(
        path for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if path
    )
    app.add_middleware(guards.SecurityHeadersMiddleware, docs_paths=docs)
    app.add_middleware(CorrelationMiddleware)
