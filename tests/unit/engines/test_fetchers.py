"""``Fetchers``: the runtime's fetch settings reach every engine's fetchers, and DefaultDelay
reaches those built from them, alive and later, but never a fetcher of settings of its own."""

from __future__ import annotations

import asyncio
import dataclasses

from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.fetch import FetchSettings

BASE = FetchSettings(min_delay=1.0)


async def test_the_delay_reaches_fetchers_alive_and_built_later() -> None:
    fetchers = Fetchers(BASE, engines={"politer": FetchSettings(min_delay=2.0)})
    alive = fetchers.fetcher("politer")
    alive._slots.state("a.example")  # a host it has seen
    fetchers.set_delay(4.0)
    assert alive._slots.state("a.example").delay == 4.0
    async with fetchers.new_fetcher("polite") as later:
        assert later.settings.min_delay == 4.0

    fetchers.set_delay(None)  # each fetcher's own settings again
    assert alive._slots.state("a.example").delay == 2.0
    async with fetchers.new_fetcher("polite") as again:
        assert again.settings.min_delay == 1.0
    await fetchers.aclose()


async def test_a_fetcher_of_its_own_settings_keeps_its_delay() -> None:
    fetchers = Fetchers(BASE)
    crawl = dataclasses.replace(fetchers.settings_for("webScraper"), min_delay=0.0)
    own = fetchers.fetcher("webScraper", crawl)
    own._slots.state("a.example")
    fetchers.set_delay(3.0)
    assert own._slots.state("a.example").delay == 0.0  # the crawl chose it: not DefaultDelay's
    assert fetchers.fetcher("webScraper", crawl) is own  # one per settings on a loop
    assert fetchers.fetcher("webScraper") is not own
    await fetchers.aclose()


async def test_each_engine_and_loop_has_fetchers_of_its_own() -> None:
    fetchers = Fetchers(BASE)
    first = fetchers.fetcher("a")
    assert fetchers.fetcher("a") is first
    assert fetchers.fetcher("b") is not first
    assert fetchers.fetcher("a", conditional_get=False) is not first

    def elsewhere() -> bool:
        async def other_loop() -> bool:
            mine = fetchers.fetcher("a")
            await fetchers.aclose()
            return mine is not first

        return asyncio.run(other_loop())

    assert await asyncio.to_thread(elsewhere)
    assert fetchers.fetcher("a") is first  # the other loop closed only its own
    await fetchers.aclose()
    assert fetchers.fetcher("a") is not first  # closed ones are built again
    await fetchers.aclose()


def test_hosts_outside_a_loop_is_empty() -> None:
    assert Fetchers().hosts() == {}
