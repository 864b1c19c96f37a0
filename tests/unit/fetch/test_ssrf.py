"""SSRF guard: only public unicast addresses, checked on every hop when private is refused."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpcore
import httpx
import pytest

from haystack_collector.fetch import BlockedAddress, check_host, forbidden_reason
from haystack_collector.fetch.ssrf import GuardedBackend, IPAddress
from haystack_collector.origin import API, current_origin, from_api, origin_scope
from tests.unit.fetch.conftest import make_fetcher


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "100.64.0.1",  # carrier-grade NAT
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
    ],
)
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


async def test_check_host_resolves_names_and_takes_literals() -> None:
    with pytest.raises(BlockedAddress, match="localhost resolves to"):
        await check_host("localhost", 80)
    with pytest.raises(BlockedAddress, match=r"\(loopback\)"):
        await check_host("[::1]", 80)
    await check_host("8.8.8.8", 443)  # a literal needs no DNS


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://localhost:8080/", "http://[::ffff:7f00:1]/", "http://10.0.0.1/"],
)
async def test_the_fetcher_refuses_private_targets_without_a_request(url: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    fetcher, _ = make_fetcher(handler, allow_private=False)
    async with fetcher:
        result = await fetcher.fetch(url)
    assert result.error is not None
    assert result.error.startswith("blocked address")


async def test_private_targets_are_allowed_by_default() -> None:
    fetcher, _ = make_fetcher(lambda r: httpx.Response(200))
    async with fetcher:
        assert (await fetcher.fetch("http://127.0.0.1/")).ok


# --- the guard at connect time ------------------------------------------------------------


class Rebinder:
    """A resolver that answers with a public address first and loopback afterwards."""

    def __init__(self, *answers: str) -> None:
        self.answers = [ipaddress.ip_address(a) for a in answers]
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        return [self.answers[min(len(self.asked), len(self.answers)) - 1]]


class Recording(httpcore.AsyncNetworkBackend):
    """A network backend that records where it was asked to connect, and refuses."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.connects.append((host, port))
        raise httpcore.ConnectError("recorded")

    async def sleep(self, seconds: float) -> None:
        pass


async def test_the_guarded_backend_connects_to_the_address_it_checked() -> None:
    inner, resolver = Recording(), Rebinder("93.184.216.34", "127.0.0.1")
    backend = GuardedBackend(resolver, inner)

    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("rebind.test", 443)

    # Resolved once, and the connection went to that answer, never to the name.
    assert resolver.asked == ["rebind.test"]
    assert inner.connects == [("93.184.216.34", 443)]


async def test_the_guarded_backend_refuses_a_private_answer_before_connecting() -> None:
    inner = Recording()
    backend = GuardedBackend(Rebinder("10.0.0.7"), inner)

    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.7 \(private\)"):
        await backend.connect_tcp("intranet.test", 80)
    assert inner.connects == []
    with pytest.raises(BlockedAddress):
        await backend.connect_unix_socket("/var/run/docker.sock")


def test_an_api_origin_is_never_narrowed_by_a_nested_scope() -> None:
    assert current_origin() is None
    with origin_scope(API):
        with origin_scope(None):
            assert current_origin() == API
        assert from_api()
    assert current_origin() is None
