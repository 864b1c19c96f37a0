"""SSRF guard: refuse hosts that resolve to non-public addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


def _resolve(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Scope ids ("fe80::1%eth0") are not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_host(host: str, port: int) -> None:
    """Raise BlockedAddress if any address ``host`` resolves to is not public."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            # getaddrinfo blocks; run it in a thread so other fetches keep going.
            addresses = await asyncio.to_thread(_resolve, host, port)
        except OSError as exc:
            raise BlockedAddress(f"cannot resolve {host}: {exc}") from exc
    for ip in addresses:
        # Any bad address counts: DNS answers rotate, so a mixed answer is a bad answer.
        reason = forbidden_reason(ip)
        if reason is not None:
            raise BlockedAddress(f"{host} resolves to {ip} ({reason})")
