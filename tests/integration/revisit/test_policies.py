"""Re-visit policies on every backend: which items a tick queues, the batch cap, no double
enqueue (also with two schedulers racing), and a crawl's re-visit as a setting of the crawl."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from haystack_collector.db import Database
from haystack_collector.db.schema import item_data
from haystack_collector.engines.registry import all_engines
from haystack_collector.engines.web_scraper import CRAWL_ACTION, REVISIT_ACTION, WebScraper
from haystack_collector.revisits import Revisiter
from haystack_collector.runtime import Parts, Runtime
from haystack_collector.scheduler import Scheduler
from haystack_collector.settings import load_settings
from haystack_collector.store.revisits import (
    DueScope,
    RevisitPolicy,
    crawl_policy_name,
    list_revisit_policies,
    queue_revisits,
    set_revisit_policy,
)
from haystack_collector.store.schedules import get_schedule
from tests.integration.revisit.helpers import age, crawl_site, item_ids, pending
from tests.integration.revisit.site import Site, serve

PAGES = [f"/p{n}" for n in range(1, 6)]


@pytest.fixture
def site() -> Site:
    site = Site()
    site.html("/", "Home", "the start", tuple(PAGES))
    for path in PAGES:
        site.html(path, path, f"text of {path}")
    return site


@pytest.fixture
def base(site: Site) -> Iterator[str]:
    with serve(site) as url:
        yield url


def policy(db: Database, name: str = "revisit:webScraper", **chosen: object) -> RevisitPolicy:
    engine_id = WebScraper.register(db).engine_id
    made = RevisitPolicy(name=name, engine_id=engine_id, **{"every": 3600, **chosen})  # type: ignore[arg-type]
    db.run(set_revisit_policy, policy=made)
    return made


def fire(db: Database, name: str = "revisit:webScraper", batch: int = 500) -> int:
    return Revisiter(db, all_engines(), batch=batch).fire(db.run_read(get_schedule, name=name))


def test_a_tick_queues_only_pages_older_than_the_age_and_never_twice(
    db: Database, base: str
) -> None:
    crawl_site(db, base + "/")
    old = item_ids(db, *(base + path for path in PAGES[:3]))
    age(db, WebScraper, old, days=2)
    policy(db, older_than=86400)

    assert fire(db) == 3
    assert pending(db, WebScraper, REVISIT_ACTION) == set(old)
    # Already queued: the next tick queues none of them again, and no fresh page either.
    assert fire(db) == 0
    assert pending(db, WebScraper, REVISIT_ACTION) == set(old)
    assert pending(db, WebScraper, CRAWL_ACTION) == set()


def test_the_batch_caps_each_tick_oldest_first(db: Database, base: str) -> None:
    crawl_site(db, base + "/")
    ids = item_ids(db, *(base + path for path in PAGES))
    for days, item in zip((5, 4, 3, 2, 1), ids, strict=True):
        age(db, WebScraper, [item], days=days + 1)
    policy(db, older_than=86400, batch=2)

    assert fire(db, batch=500) == 2  # the policy's own batch wins over the process's
    assert pending(db, WebScraper, REVISIT_ACTION) == set(ids[:2])
    assert fire(db) == 2
    assert pending(db, WebScraper, REVISIT_ACTION) == set(ids[:4])


def test_the_process_batch_applies_when_the_policy_sets_none(db: Database, base: str) -> None:
    crawl_site(db, base + "/")
    ids = item_ids(db, *(base + path for path in PAGES))
    age(db, WebScraper, ids, days=2)
    policy(db, older_than=3600)

    assert fire(db, batch=3) == 3


def test_two_schedulers_racing_queue_each_item_once(db: Database, base: str) -> None:
    crawl_site(db, base + "/")
    ids = item_ids(db, *(base + path for path in PAGES))
    age(db, WebScraper, ids, days=2)
    policy(db, older_than=3600)
    due = db.run_read(get_schedule, name="revisit:webScraper").next_run
    later = due + timedelta(seconds=1)
    engines = all_engines()
    results: list[object] = []
    barrier = threading.Barrier(2)

    def tick(owner: str) -> None:
        scheduler = Scheduler(db, owner=owner, revisiter=Revisiter(db, engines))
        barrier.wait()
        results.append(scheduler.run_once(now=later))

    threads = [threading.Thread(target=tick, args=(f"s{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    fired = [run for runs in results for run in runs]  # type: ignore[attr-defined]
    assert [run.fired for run in fired] == [True]  # exactly one scheduler claimed the tick
    assert pending(db, WebScraper, REVISIT_ACTION) == set(ids)


def test_racing_transactions_queue_each_item_once(db: Database, base: str) -> None:
    crawl_site(db, base + "/")
    ids = item_ids(db, *(base + path for path in PAGES))
    age(db, WebScraper, ids, days=2)
    registered = WebScraper.register(db)
    scope = DueScope(
        engine_id=registered.engine_id,
        revisit_action=registered.action_ids[REVISIT_ACTION],
        collect_action=registered.action_ids[CRAWL_ACTION],
    )
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def queue() -> None:
        barrier.wait()
        counts.append(db.run(queue_revisits, scope=scope, older_than=3600, limit=100))

    threads = [threading.Thread(target=queue) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == len(ids)
    assert pending(db, WebScraper, REVISIT_ACTION) == set(ids)


def test_a_re_visited_page_is_due_again_only_once_old_again(db: Database, base: str) -> None:
    crawl_site(db, base + "/")
    [page] = item_ids(db, base + "/p1")
    age(db, WebScraper, [page], days=2)
    policy(db, older_than=86400)
    assert fire(db) == 1
    # The re-visit is done: its date is the page's last look, so it is not due again.
    registered = WebScraper.register(db)
    from haystack_collector import store  # noqa: PLC0415

    db.run(
        store.complete_event,
        engine_id=registered.engine_id,
        action_id=registered.action_ids[REVISIT_ACTION],
        item_id=page,
    )
    assert fire(db) == 0
    age(db, WebScraper, [page], days=2)
    assert fire(db) == 1


def test_a_crawl_with_a_revisit_setting_keeps_its_policy_not_a_new_crawl(
    db: Database, base: str
) -> None:
    result = crawl_site(db, base + "/", revisit_every=86400, revisit_older_than=43200)

    name = crawl_policy_name(result.root_id)
    [stored] = [p for p in db.run_read(list_revisit_policies) if p.name == name]
    assert (stored.every, stored.older_than, stored.crawl) == (86400, 43200, result.root_id)
    # The next tick is a period away, on the policy's own grid.
    assert stored.next_run is not None
    assert stored.next_run > datetime.now(UTC) + timedelta(hours=23)
    # Run again with the same options: still one crawl (one root with settings), one policy.
    again = crawl_site(db, base + "/", revisit_every=86400, revisit_older_than=43200)
    assert again.root_id == result.root_id
    with db.read() as conn:
        roots = conn.execute(
            select(func.count()).where(item_data.c.itemData == "CrawlSettings")
        ).scalar_one()
    assert roots == 1
    assert [p.name for p in db.run_read(list_revisit_policies)] == [name]
    # Run without them: the crawl no longer re-visits.
    crawl_site(db, base + "/")
    assert db.run_read(list_revisit_policies) == []


def test_a_crawl_policy_queues_only_its_own_old_enough_pages(
    db: Database, site: Site, base: str
) -> None:
    other = Site()
    other.html("/", "Other", "another site", ("/q1",))
    other.html("/q1", "q1", "q1 text")
    with serve(other) as other_base:
        theirs = crawl_site(db, other_base + "/")
        ours = crawl_site(db, base + "/", revisit_every=86400, revisit_older_than=43200)
        all_pages = item_ids(db, base + "/", *(base + p for p in PAGES))
        other_pages = item_ids(db, other_base + "/", other_base + "/q1")
    old = all_pages[:4]
    age(db, WebScraper, old, days=1)
    age(db, WebScraper, other_pages, days=3)
    assert theirs.root_id != ours.root_id

    assert fire(db, crawl_policy_name(ours.root_id)) == len(old)
    assert pending(db, WebScraper, REVISIT_ACTION) == set(old)


def test_haystack_revisit_batch_caps_the_runtime_s_ticks(
    db: Database, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    crawl_site(db, base + "/")
    ids = item_ids(db, *(base + path for path in PAGES))
    age(db, WebScraper, ids, days=2)
    policy(db, older_than=3600)
    later = db.run_read(get_schedule, name="revisit:webScraper").next_run + timedelta(seconds=1)
    monkeypatch.setenv("HAYSTACK_REVISIT_BATCH", "2")
    settings = load_settings()

    runtime = Runtime.from_settings(settings, db=db)
    assert runtime.scheduler is not None
    [run] = runtime.scheduler.run_once(now=later)

    assert run.fired
    assert len(pending(db, WebScraper, REVISIT_ACTION)) == 2


def test_a_process_without_re_visits_skips_the_tick(db: Database, base: str) -> None:
    crawl_site(db, base + "/")
    ids = item_ids(db, *(base + path for path in PAGES))
    age(db, WebScraper, ids, days=2)
    policy(db, older_than=3600)
    later = db.run_read(get_schedule, name="revisit:webScraper").next_run + timedelta(seconds=1)

    runtime = Runtime(db, parts=Parts(revisits=False))
    assert runtime.scheduler is not None
    [run] = runtime.scheduler.run_once(now=later)

    assert (run.fired, run.skipped) == (False, "re-visits are off in this process")
    assert pending(db, WebScraper, REVISIT_ACTION) == set()
