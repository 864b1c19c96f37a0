"""The runtime's fetch settings reach the actions its parts run, through their context."""

from __future__ import annotations

from typing import ClassVar

from haystack_collector.db import Database
from haystack_collector.engines import ActionContext, item_action, start_action
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import Task
from haystack_collector.runtime import RUN, Runtime
from haystack_collector.store import ItemRecord

FETCH = FetchSettings(min_delay=0.125, per_host_concurrency=5, obey_robots=False)


class Reads(FetchingEngine):
    """Records the fetch settings each action sees, and whether its fetcher has them."""

    name = "runtime-test-reads"
    conditional_get = False
    seen: ClassVar[list[tuple[str, FetchSettings, bool]]] = []

    @start_action("seed")
    def seed(self, ctx: ActionContext) -> None:
        type(self).seen.append(("seed", ctx.fetch_settings, False))
        [item_id] = ctx.store_items([ItemRecord(uri="https://a.example/")]).item_ids.values()
        ctx.enqueue("read", [item_id])

    @item_action("read")
    async def read(self, ctx: ActionContext, task: Task) -> None:
        fetcher = ctx.fetcher()
        shared = fetcher is ctx.fetcher() and fetcher.settings == ctx.fetch_settings
        type(self).seen.append(("read", ctx.fetch_settings, shared))


def test_the_runtimes_fetch_settings_reach_each_action(db: Database) -> None:
    Reads.seen = []
    runtime = Runtime(db, parts=RUN, engines=[Reads], fetch=FETCH, drain=True)
    [seeded] = run_start_actions(Reads, db, fetchers=runtime.fetchers)
    assert seeded.ok, seeded.error
    stats = runtime.run(tty=False)
    assert stats.finished == 1
    assert Reads.seen == [("seed", FETCH, False), ("read", FETCH, True)]
