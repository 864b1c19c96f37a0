"""Crawling the revisit site, ageing what was collected, and reading the queue back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from haystack_collector.crawl import CrawlOptions, CrawlResult, crawl_fetch_settings, run_crawl
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events, items
from haystack_collector.engines.base import Engine
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.registry import all_engines
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import SqlQueue
from haystack_collector.revisits import Revisiter
from haystack_collector.store.events import EventRow, item_events_of
from haystack_collector.store.revisits import RevisitPolicy, item_visits_of, set_revisit_policy
from haystack_collector.store.schedules import get_schedule
from haystack_collector.store.versions import current_version
from haystack_collector.worker import Worker, WorkerStats, run_worker

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


def drain(db: Database, engines: list[type[Engine]]) -> WorkerStats:
    """Run the queued work of ``engines`` to the end, as ``haystack worker --drain`` does."""
    worker = Worker(db, SqlQueue(db), engines, concurrency=2, drain=True, fetchers=Fetchers(FAST))
    return run_worker(worker, stats_interval=60, tty=False)


def fire(db: Database, name: str, batch: int = 500) -> int:
    """One tick of the policy ``name``, as the worker's scheduler fires it."""
    return Revisiter(db, all_engines(), batch=batch).fire(db.run_read(get_schedule, name=name))


def set_policy(
    db: Database, engine: type[Engine], *, older_than: int = 3600, **chosen: object
) -> str:
    engine_id = engine.register(db).engine_id
    name = f"revisit:{engine.name}" + (f":{chosen['site']}" if chosen.get("site") else "")
    made = RevisitPolicy(
        name=name,
        engine_id=engine_id,
        every=86400,
        older_than=older_than,
        **chosen,  # type: ignore[arg-type]
    )
    db.run(set_revisit_policy, policy=made)
    return name


def visits(db: Database, item_id: int) -> list[tuple[str, int | None]]:
    """The item's visits, oldest first: (outcome, HTTP status)."""
    found = db.run_read(item_visits_of, item_id=item_id)
    return [(visit.outcome, visit.status) for visit in reversed(found)]


def state(db: Database, item_id: int) -> str:
    with db.read() as conn:
        return str(
            conn.execute(select(items.c.ItemState).where(items.c.itemId == item_id)).scalar_one()
        )


def version(db: Database, item_id: int) -> int:
    return db.run_read(current_version, item_id=item_id)


def event_of(db: Database, engine: type[Engine], action: str, item_id: int) -> EventRow:
    registered = engine.register(db)
    [row] = [
        event
        for event in db.run_read(item_events_of, item_id=item_id)
        if event.engine_id == registered.engine_id
        and event.action_id == registered.action_ids[action]
    ]
    return row


def due_now(db: Database, item_id: int) -> None:
    """Make an event waiting out its retry backoff due at once."""
    with db.transaction() as conn:
        conn.execute(
            update(item_events)
            .where(item_events.c.itemId == item_id, item_events.c.itemEventDate.is_(None))
            .values(itemEventRunAfter=None)
        )
