"""Per-host politeness: minimum delay with jitter, autothrottle, and the hosts() view."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from haystack_collector.fetch import FetchSettings
from haystack_collector.fetch.hosts import HostSlots
from tests.unit.fetch.conftest import FakeTime, make_fetcher


async def test_requests_to_one_host_are_spaced_by_the_delay_plus_jitter() -> None:
    fake = FakeTime()
    slots = HostSlots(
        FetchSettings(min_delay=2.0, jitter=0.5),
        clock=fake.clock,
        sleep=fake.sleep,
        rand=lambda: 0.5,
    )
    starts: list[float] = []
    for _ in range(3):
        async with slots.slot("a.example"):
            starts.append(fake.now)
    async with slots.slot("b.example"):  # another host does not wait
        starts.append(fake.now)
    # Each gap is 2.0 * (1 + 0.5 * 0.5): never below the minimum delay.
    assert starts == [1000.0, 1002.5, 1005.0, 1005.0]


async def test_concurrent_waiters_queue_one_gap_apart() -> None:
    fake = FakeTime()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)  # let the other waiters reserve while this one sleeps

    slots = HostSlots(
        FetchSettings(min_delay=1.0, jitter=0.0, per_host_concurrency=4),
        clock=fake.clock,
        sleep=sleep,
    )

    async def one() -> None:
        async with slots.slot("a.example"):
            pass

    await asyncio.gather(*(one() for _ in range(4)))
    assert sorted(sleeps) == [1.0, 2.0, 3.0]


async def test_a_new_min_delay_applies_to_known_and_new_hosts_above_crawl_delays() -> None:
    fake = FakeTime()
    slots = HostSlots(FetchSettings(min_delay=1.0, jitter=0.0), clock=fake.clock, sleep=fake.sleep)
    slots.raise_floor("slow.example", 3.0)  # its robots.txt Crawl-delay
    async with slots.slot("a.example"):
        pass

    slots.set_min_delay(5.0)
    assert (slots.state("a.example").delay, slots.state("slow.example").delay) == (5.0, 5.0)
    assert slots.state("new.example").delay == 5.0
    starts = []
    for _ in range(2):
        async with slots.slot("a.example"):
            starts.append(fake.now)
    assert starts[1] - starts[0] == 5.0

    slots.set_min_delay(0.5)  # lowered: a Crawl-delay still holds its host back
    assert slots.state("a.example").delay == 0.5
    assert slots.state("slow.example").delay == 3.0


def test_a_new_min_delay_under_autothrottle_only_raises_the_gap() -> None:
    slots = HostSlots(FetchSettings(min_delay=0.5, autothrottle=True))
    for _ in range(20):
        slots.observe("a.example", 2.0, ok=True)
    slots.set_min_delay(1.0)
    assert slots.state("a.example").delay == pytest.approx(2.0, rel=1e-3)  # latency rules
    slots.set_min_delay(3.0)
    assert slots.state("a.example").delay == 3.0  # never below the floor


def test_autothrottle_follows_latency_within_bounds() -> None:
    settings = FetchSettings(min_delay=0.5, autothrottle=True, autothrottle_max_delay=4.0)
    slots = HostSlots(settings)
    for _ in range(20):
        slots.observe("a.example", 2.0, ok=True)
    assert slots.state("a.example").delay == pytest.approx(2.0, rel=1e-3)
    for _ in range(20):
        slots.observe("a.example", 30.0, ok=True)
    assert slots.state("a.example").delay == 4.0  # bounded above
    for _ in range(40):
        slots.observe("a.example", 0.01, ok=True)
    assert slots.state("a.example").delay == 0.5  # bounded below by min_delay
    slots.observe("a.example", 0.01, ok=False)
    assert slots.state("a.example").delay == 0.5  # errors never speed us up


async def test_hosts_reports_counters_latency_and_breaker_state() -> None:
    fetcher, _ = make_fetcher(lambda r: httpx.Response(200 if r.url.path == "/ok" else 404))
    async with fetcher:
        await fetcher.fetch("http://a.example/ok")
        await fetcher.fetch("http://a.example:8080/missing")
        hosts = fetcher.hosts()
    assert set(hosts) == {"a.example", "a.example:8080"}
    info = hosts["a.example"]
    assert info["in_flight"] == 0
    assert info["requests"] == 1
    assert info["errors"] == 0
    assert info["breaker"] == "closed"
    assert info["delay"] == 0.0
    assert info["last_latency"] is not None
    assert info["avg_latency"] is not None
