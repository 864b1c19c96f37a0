"""Crawling the revisit site, ageing what was collected, and reading the queue back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from haystack_collector.crawl import CrawlOptions, CrawlResult, crawl_fetch_settings, run_crawl
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events, items
from haystack_collector.engines.base import Engine
from haystack_collector.fetch import FetchSettings

# No waiting between requests or retries: the tests' server is local.
FAST = FetchSettings(retry_initial=0.01, retry_maximum=0.02, min_delay=0.0)


def crawl_site(db: Database, url: str, **options: object) -> CrawlResult:
    chosen = CrawlOptions(url=url, delay=0.0, concurrency=2, **options)  # type: ignore[arg-type]
    fetch = crawl_fetch_settings(FAST, chosen)
    return run_crawl(db, chosen, fetch, stats_interval=60, tty=False)


def item_ids(db: Database, *uris: str) -> list[int]:
    with db.read() as conn:
        rows = conn.execute(
            select(items.c.ItemURI, items.c.itemId).where(items.c.ItemURI.in_(uris))
        )
        found = {str(uri): item_id for uri, item_id in rows}
    return [int(found[uri]) for uri in uris]


def age(db: Database, engine: type[Engine], item_ids: list[int], *, days: float) -> None:
    """Pretend the engine's events on these items were done ``days`` ago."""
    engine_id = engine.register(db).engine_id
    when = (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None)
    with db.transaction() as conn:
        conn.execute(
            update(item_events)
            .where(
                item_events.c.engineId == engine_id,
                item_events.c.itemId.in_(item_ids),
                item_events.c.itemEventDate.is_not(None),
            )
            .values(itemEventDate=when)
        )


def pending(db: Database, engine: type[Engine], action: str) -> set[int]:
    """Items with a pending event of ``engine``'s ``action``."""
    registered = engine.register(db)
    with db.read() as conn:
        rows = conn.execute(
            select(item_events.c.itemId).where(
                item_events.c.engineId == registered.engine_id,
                item_events.c.actionId == registered.action_ids[action],
                item_events.c.itemEventDate.is_(None),
                item_events.c.itemEventDeadDate.is_(None),
            )
        )
        return {int(item_id) for (item_id,) in rows}
