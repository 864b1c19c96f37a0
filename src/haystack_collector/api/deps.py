"""Dependencies the routes declare with ``Annotated``: the database, settings and access checks.

Routes stay thin: they take ``DbDep``/``SettingsDep`` and call keyword-only store functions.
Writes and admin routes take ``WriteAccess`` (a bearer token is required); reads take
``ReadAccess`` (open on loopback by default, see ``Settings.api_read_access``).

"Loopback" means the client's socket address is 127.0.0.0/8 or ::1. Starlette's TestClient
reports its client as ``"testclient"``, which is not loopback: tests of open reads use
``TestClient(app, client=("127.0.0.1", 50000))`` or ``httpx.ASGITransport`` (127.0.0.1).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Request, routing, status
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from haystack_collector.db import Database
from haystack_collector.errors import HaystackError
from haystack_collector.settings import Settings
from haystack_collector.store.tokens import hash_secret, lookup_token, needs_touch, touch_token

T = TypeVar("T")

LOOPBACK = "loopback"
ANONYMOUS = "anonymous"

bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `haystack token create NAME`.",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a token's name, or "loopback"/"anonymous" for tokenless reads."""

    name: str
    authenticated: bool = True  # False: no token was presented


# The dependencies are coroutines where they do no blocking work: FastAPI runs a plain function
# dependency in a worker thread, and that hop costs more than a list page's query.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class ReadLane:
    """Threads for the item reads, apart from the thread pool every other route shares.

    On SQLite a read is CPU work in this process, and Python runs one thread's code at a time:
    reads run side by side only take turns on the interpreter lock, each slower for it (a
    third more CPU per request with four at once). One lane thread per process serves more
    requests; a slow admin query elsewhere still does not hold them up. On MariaDB and
    PostgreSQL a read mostly waits on the server, so the lane is as wide as the pool.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limiter = anyio.CapacityLimiter(threads)

    @classmethod
    def for_database(cls, settings: Settings, db: Database) -> ReadLane:
        threads = settings.api_read_threads
        if threads is None:
            threads = 1 if db.dialect == "sqlite" else settings.pool_size
        return cls(threads)

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in one of the lane's threads, once one is free."""
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)


async def get_read_lane(request: Request) -> ReadLane:
    lane: ReadLane = request.app.state.read_lane
    return lane


ReadLaneDep = Annotated[ReadLane, Depends(get_read_lane)]


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a client address) is a loopback address."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _authenticate(
    request: Request, db: Database, credentials: HTTPAuthorizationCredentials
) -> Principal:
    secret = credentials.credentials.strip()
    match = db.run_read(lookup_token, secret=secret)
    if match is None:
        raise _unauthorized("invalid or revoked token")
    if needs_touch(match):
        # A separate short write, and only once a minute: most requests stay read-only.
        db.run(touch_token, token_id=match.token_id)
    known = getattr(request.app.state, "known_tokens", None)
    if known is not None:
        known.remember(hash_secret(secret), match.name)
    principal = Principal(match.name)
    request.state.principal = principal
    return principal


def _checked(request: Request) -> Principal | None:
    """The principal this request's token was already checked as (before its body was read,
    see ``guards.AuthFirstMiddleware``), so the route's dependency does not look it up again."""
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) and principal.authenticated else None


async def require_token(request: Request, db: DbDep, credentials: BearerDep) -> Principal:
    """The token's principal; 401 with ``WWW-Authenticate: Bearer`` without a valid token."""
    if credentials is None:
        raise _unauthorized("a bearer token is required")
    checked = _checked(request)
    if checked is not None:
        return checked
    return await run_in_threadpool(_authenticate, request, db, credentials)


async def read_access(
    request: Request, db: DbDep, settings: SettingsDep, credentials: BearerDep
) -> Principal | None:
    """Who may read: a presented token must be valid; without one, per ``api_read_access``."""
    if credentials is not None:
        checked = _checked(request)
        if checked is not None:
            return checked
        return await run_in_threadpool(_authenticate, request, db, credentials)
    mode = settings.api_read_access
    if mode == "open":
        return Principal(ANONYMOUS, authenticated=False)
    if mode == "loopback" and is_loopback(request.client.host if request.client else None):
        return Principal(LOOPBACK, authenticated=False)
    raise _unauthorized(
        "a bearer token is required"
        + (" for clients outside loopback" if mode == "loopback" else "")
    )


async def can_read(
    request: Request, db: DbDep, settings: SettingsDep, credentials: BearerDep
) -> bool:
    """Whether the client may read (as ``read_access`` decides), for a route open to all
    that shows readers more; never refuses."""
    try:
        await read_access(request, db, settings, credentials)
    except (HTTPException, HaystackError):  # no access, or no database to check a token
        return False
    return True


WriteAccess = Annotated[Principal, Depends(require_token)]
ReadAccess = Annotated[Principal | None, Depends(read_access)]


# --- OpenAPI: optional read auth ---------------------------------------------------------


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call or _depends_on(sub, call) for sub in dependant.dependencies)


def document_read_access(app: FastAPI, settings: Settings) -> None:
    """Mark the bearer token optional in /openapi.json on ``ReadAccess`` routes (and on
    ``can_read`` ones, open to all).

    FastAPI documents every route that takes the bearer scheme as requiring it; reads are
    open on loopback (or to all) unless ``api_read_access`` is "token", so an empty security
    requirement is added beside it, as OpenAPI spells "optional".
    """
    optional = [can_read] if settings.api_read_access == "token" else [read_access, can_read]
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # cached by FastAPI after the first call; updated in place
        paths = schema.get("paths", {})
        for route in routing.iter_route_contexts(app.routes):
            dependant: Dependant | None = getattr(route, "dependant", None)
            if dependant is None or not any(_depends_on(dependant, c) for c in optional):
                continue
            for method in route.methods or ():
                operation = paths.get(route.path_format, {}).get(method.lower())
                if operation is not None and {} not in operation.setdefault("security", []):
                    operation["security"].append({})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
