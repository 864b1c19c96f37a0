"""SSRF guard: refuse hosts that resolve to non-public addresses, and connect only to checked ones.

Two layers. ``check_host`` is the early, cheap refusal every hop goes through (``check_url``).
``GuardedTransport`` is the one that cannot be raced: its connections resolve the host once,
refuse the whole answer if any address is not public, and connect to an address from that same
answer. A name that rebinds between the check and the connect (a second DNS answer pointing at
127.0.0.1) therefore never reaches the private network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to; injectable so tests can answer like a rebinder.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

__all__ = [
    "BlockedAddress",
    "GuardedBackend",
    "GuardedTransport",
    "IPAddress",
    "Resolver",
    "check_host",
    "checked_addresses",
    "forbidden_reason",
    "system_resolver",
]


class BlockedAddress(ValueError):
    """The host resolves to an address the fetcher must not talk to."""


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched from, or None if it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 reaches 127.0.0.1; judge the embedded IPv4 address instead.
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return forbidden_reason(mapped)
    for attr in ("is_unspecified", "is_loopback", "is_link_local", "is_multicast", "is_private"):
        if getattr(ip, attr):
            return attr.removeprefix("is_").replace("_", "-")
    if ip.is_reserved:
        return "reserved"
    # Catches what the flags above miss, e.g. 100.64.0.0/10 (carrier-grade NAT).
    if not ip.is_global:
        return "not-global"
    return None


def _getaddrinfo(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Scope ids ("fe80::1%eth0") are not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The system's answer for ``host``; getaddrinfo blocks, so it runs in a thread."""
    return await asyncio.to_thread(_getaddrinfo, host, port)


async def checked_addresses(
    host: str, port: int, *, resolver: Resolver = system_resolver
) -> list[IPAddress]:
    """The addresses of ``host``, every one public; BlockedAddress otherwise."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except OSError as exc:
            raise BlockedAddress(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise BlockedAddress(f"{host} resolves to no address")
    for ip in addresses:
        # Any bad address counts: DNS answers rotate, so a mixed answer is a bad answer.
        reason = forbidden_reason(ip)
        if reason is not None:
            raise BlockedAddress(f"{host} resolves to {ip} ({reason})")
    return addresses


async def check_host(host: str, port: int, *, resolver: Resolver = system_resolver) -> None:
    """Raise BlockedAddress if any address ``host`` resolves to is not public."""
    await checked_addresses(host, port, resolver=resolver)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to the public addresses it just checked."""

    def __init__(
        self,
        resolver: Resolver = system_resolver,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolver = resolver
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # TLS still verifies (and sends SNI for) the URL's host name: httpcore takes it from
        # the request's origin, not from the address connected to here.
        failure: Exception | None = None
        for ip in await checked_addresses(host, port, resolver=self._resolver):
            try:
                return await self._backend.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next address of the same checked answer may answer
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a ``GuardedBackend``: every new connection is checked.

    It ignores proxy environment variables: a proxy would make the connection on our behalf to
    an address we never saw, so guarded fetches always go direct.
    """

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        # httpx offers no public way to hand its pool a network backend; the pool it built in
        # __init__ is replaced by one with the same settings and the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(resolver),
        )
