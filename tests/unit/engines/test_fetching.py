"""``FetchingEngine.override_delay``: one delay for every fetcher of the process, live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.fetch import FetchSettings


class Polite(FetchingEngine):
    name = "fetching-test-polite"


class Politer(Polite):
    name = "fetching-test-politer"


@pytest.fixture(autouse=True)
def _settings() -> Iterator[None]:
    Polite.configure(FetchSettings(min_delay=1.0))
    Politer.configure(FetchSettings(min_delay=2.0))
    yield
    FetchingEngine.override_delay(None)
    Polite.configure(None)
    Politer.configure(None)


async def test_the_override_reaches_fetchers_alive_and_built_later() -> None:
    alive = Politer.fetcher()  # a subclass of a subclass: found too
    async with alive:
        alive._slots.state("a.example")  # a host it has seen
        FetchingEngine.override_delay(4.0)
        assert alive._slots.state("a.example").delay == 4.0
        later = Polite.new_fetcher()
        async with later:
            assert later.settings.min_delay == 4.0

        FetchingEngine.override_delay(None)  # each fetcher's own settings again
        assert alive._slots.state("a.example").delay == 2.0
        again = Polite.new_fetcher()
        async with again:
            assert again.settings.min_delay == 1.0
    await Politer.close_resources()
