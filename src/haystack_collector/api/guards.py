"""The API's guards against hostile clients: Host names, body sizes, auth before bodies,
and the security headers of every answer.

Plain ASGI middleware, like the rest (see ``middleware.py``): nothing here buffers a
request body or a streamed answer. Each refusal is a JSON ``{"detail": ...}`` answer, the one
error model of the API.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request, routing
from fastapi.dependencies.models import Dependant
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haystack_collector.api import deps
from haystack_collector.logs import get_logger
from haystack_collector.settings import Settings

log = get_logger("haystack.api")

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a bind


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def json_answer(status: int, detail: str, headers: dict[str, str]) -> tuple[Message, Message]:
    """The ASGI messages of a ``{"detail": ...}`` answer."""
    body = json.dumps({"detail": detail}).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [
        (key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in headers.items()
    ]
    return (
        {"type": "http.response.start", "status": status, "headers": raw},
        {"type": "http.response.body", "body": body},
    )


async def _refuse(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    start, body = json_answer(status, detail, headers or {})
    await send(start)
    await send(body)


# --- Host header: DNS rebinding ------------------------------------------------------------


def allowed_host_names(settings: Settings) -> frozenset[str] | None:
    """The Host names the API answers (None: any).

    Loopback names, the address it is bound to (unless that is a wildcard such as 0.0.0.0,
    which names no host) and ``allowed_hosts``. A rebinding page's requests carry its own
    name, never one of these.
    """
    names = set(settings.allowed_hosts)
    if "*" in names:
        return None
    bound = settings.api_host.strip().lower().strip("[]")
    if bound not in _WILDCARD_BINDS:
        names.add(_normalized(bound) or bound)
    return frozenset(names | LOOPBACK_NAMES)


def host_name(header: str) -> str | None:
    """The name in a Host header value, lower case, without port or IPv6 brackets;
    None when it is not a well-formed ``name[:port]``."""
    value = header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None
    else:
        name, _, rest = value.partition(":")
        rest = ":" + rest if _ else ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and len(rest) <= 6):
        return None
    return _normalized(name.rstrip("."))


def _normalized(name: str) -> str | None:
    if not name:
        return None
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


class HostCheckMiddleware:
    """400 for a request whose Host header names no host this server answers to."""

    def __init__(self, app: ASGIApp, *, allowed: frozenset[str] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allowed is None:
            await self.app(scope, receive, send)
            return
        raw = _header(scope, b"host")
        name = host_name(raw.decode("latin-1")) if raw is not None else None
        if name in self.allowed:
            await self.app(scope, receive, send)
            return
        log.info("refused a request for host %r", (raw or b"").decode("latin-1")[:100])
        if scope["type"] == "http":
            await _refuse(send, 400, "invalid Host header; see HAYSTACK_ALLOWED_HOSTS")


# --- body size --------------------------------------------------------------------------


class BodyTooLarge(HTTPException):
    """The request body passed the cap while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: at most {limit} bytes")


class BodyLimitMiddleware:
    """413 for a body over ``limit`` bytes: at once by its Content-Length, else as soon as
    the bytes read pass it (never more than the limit and one chunk is held)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _refuse(send, 400, "invalid Content-Length")
                return
            if length > self.limit:
                await _refuse(send, 413, f"request body too large: at most {self.limit} bytes")
                return
        read = 0

        async def receive_capped() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.limit:
                    # An HTTPException: FastAPI passes it on from its body reading as it is.
                    raise BodyTooLarge(self.limit)
            return message

        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_capped, send_tracked)
        except BodyTooLarge as error:  # read by code that does not answer it itself
            if started:
                raise
            await _refuse(send, 413, str(error.detail))


# --- authentication before the body -------------------------------------------------------

_BODY_LESS = frozenset({"GET", "HEAD", "OPTIONS"})
AccessCheck = Callable[..., Any]


def _access_check(dependant: Dependant | None) -> AccessCheck | None:
    """The route's access dependency (``require_token`` or ``read_access``), if any."""
    if dependant is None:
        return None
    for sub in dependant.dependencies:
        if sub.call in (deps.require_token, deps.read_access):
            return sub.call
        found = _access_check(sub)
        if found is not None:
            return found
    return None


class AuthFirstMiddleware:
    """Run a route's access check before its body is read.

    FastAPI reads and parses the body before it solves dependencies, so without this an
    anonymous client's body is read (and a bad one answered 422) before the 401. The check
    leaves the principal in the request's state, where the route's own dependency finds it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: list[tuple[re.Pattern[str], frozenset[str], AccessCheck | None]] | None = None

    def _checks(self, app: Any) -> list[tuple[re.Pattern[str], frozenset[str], AccessCheck | None]]:
        # Built at the first request, once every route (the UI's too) is in place.
        if self._routes is None:
            found = []
            for context in routing.iter_route_contexts(app.routes):
                check = _access_check(getattr(context, "dependant", None))
                pattern = getattr(context, "path_regex", None)
                if pattern is not None:
                    found.append((pattern, frozenset(context.methods or ()), check))
            self._routes = found
        return self._routes

    def check_for(self, app: Any, method: str, path: str) -> AccessCheck | None:
        """The access check of the route that will answer (the first that matches)."""
        for pattern, methods, check in self._checks(app):
            if method in methods and pattern.match(path):
                return check
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODY_LESS:
            await self.app(scope, receive, send)
            return
        app = scope["app"]
        check = self.check_for(app, scope["method"], scope["path"])
        if check is not None:
            request = Request(scope)
            try:
                credentials = await deps.bearer(request)
                if check is deps.require_token:
                    await deps.require_token(request, app.state.db, credentials)
                else:
                    await deps.read_access(request, app.state.db, app.state.settings, credentials)
            except HTTPException as error:
                await _refuse(send, error.status_code, str(error.detail), dict(error.headers or {}))
                return
        await self.app(scope, receive, send)


# --- security headers -------------------------------------------------------------------

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc load Swagger UI and ReDoc from their CDN and style themselves
# inline; /docs starts Swagger UI with an inline script, allowed by its hash alone.
_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net{hashes}; "
    "style-src 'self' https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.jsdelivr.net; "
    "font-src https://fonts.gstatic.com; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def docs_policy(html: bytes) -> str:
    """The CSP of a docs page: its inline scripts allowed by their SHA-256 hashes."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return _DOCS_POLICY.format(hashes=hashes)


class SecurityHeadersMiddleware:
    """Add the security headers (CSP, frame, sniffing, referrer) to every answer."""

    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str]) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = _with_headers(message, CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The docs pages are small, whole answers: held until their scripts are hashed.
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        for message in held:
            if message["type"] == "http.response.start":
                await send(_with_headers(message, docs_policy(body)))
            else:
                await send(message)


def _with_headers(message: Message, policy: str) -> Message:
    present = {key.lower() for key, _ in message.get("headers", [])}
    extra = [(key, value) for key, value in SECURITY_HEADERS if key not in present]
    if b"content-security-policy" not in present:
        extra.append((b"content-security-policy", policy.encode("latin-1")))
    return {**message, "headers": [*message.get("headers", []), *extra]}
