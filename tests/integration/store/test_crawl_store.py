"""The crawl's transactions (store.crawl) and the engine's group commit, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import event

from haystack_collector.db import Database
from haystack_collector.engines.web_scraper import (
    CrawlSpec,
    WebScraper,
    WebScraperSettings,
    _PageWriter,
    _Scopes,
    seed_crawl,
)
from haystack_collector.errors import HaystackError
from haystack_collector.queue import SqlQueue, Task
from haystack_collector.store.crawl import PageWrite, StoredPage, store_pages
from tests.integration.crawl.helpers import crawl_events, link_edges, stored_data

ROOT = "http://site.test/"


def seeded(db: Database, **limits: int) -> tuple[int, int, int]:
    """Engine id, WebCrawler action id and root item id of a fresh crawl of ROOT."""
    registered = WebScraper.register(db)
    action = registered.action_ids["WebCrawler"]
    spec = CrawlSpec.from_settings(WebScraperSettings(url=ROOT, **limits))
    root = db.run(seed_crawl, engine_id=registered.engine_id, action_id=action, spec=spec)
    return registered.engine_id, action, root


def claim(db: Database, limit: int = 50) -> dict[str, Task]:
    return {task.uri: task for task in SqlQueue(db).claim(owner="test", limit=limit)}


def write(task: Task, *links: str, title: str = "t") -> PageWrite:
    return PageWrite(task.item_id, task.uri, task.event_id, {"Title": title}, list(links))


def test_a_batch_decides_its_pages_in_order(db: Database) -> None:
    engine_id, action, root = seeded(db, max_depth=5)
    [home] = claim(db).values()
    db.run(
        store_pages,
        engine_id=engine_id,
        action_id=action,
        pages=[write(home, ROOT + "a", ROOT + "b")],
        scopes=_Scopes({}),
    )
    tasks = claim(db)
    pages = [
        write(tasks[ROOT + "a"], ROOT + "c", ROOT + "b", "http://elsewhere.test/"),
        write(tasks[ROOT + "b"], ROOT + "c", ROOT + "d", ROOT + "x/x/x/x/x"),
    ]
    stored = db.run(
        store_pages, engine_id=engine_id, action_id=action, pages=pages, scopes=_Scopes({})
    )
    # c is linked by both and queued once, by the first; d only by the second; the trap never.
    assert stored == [
        StoredPage(1, 2, 1, root, (ROOT + "c",)),
        StoredPage(1, 2, 1, root, (ROOT + "d",)),
    ]
    data = stored_data(db)
    assert data[ROOT + "c"] == {"CrawlRoot": [root], "Depth": [2]}
    assert data[ROOT + "d"] == {"CrawlRoot": [root], "Depth": [2]}
    assert data[ROOT]["CrawlEnqueued"] == [5]
    assert (ROOT + "b", ROOT + "c") in link_edges(db)
    assert crawl_events(db) == {"pending": 2, "claimed": 0, "done": 3, "dead": 0}


def test_max_pages_is_exact_across_a_batch(db: Database) -> None:
    engine_id, action, _ = seeded(db, max_pages=4)
    [home] = claim(db).values()
    db.run(
        store_pages,
        engine_id=engine_id,
        action_id=action,
        pages=[write(home, ROOT + "a", ROOT + "b")],
        scopes=_Scopes({}),
    )
    tasks = claim(db)
    pages = [write(tasks[ROOT + "a"], ROOT + "c"), write(tasks[ROOT + "b"], ROOT + "d", ROOT + "e")]
    stored = db.run(
        store_pages, engine_id=engine_id, action_id=action, pages=pages, scopes=_Scopes({})
    )
    assert [s.enqueued for s in stored] == [1, 0]
    assert stored_data(db)[ROOT]["CrawlEnqueued"] == [4]


@pytest.fixture
def commits(db: Database) -> Iterator[list[int]]:
    """Counts the database's commits while the test runs."""
    seen: list[int] = []

    def count(_conn: object) -> None:
        seen.append(1)

    event.listen(db.engine, "commit", count)
    yield seen
    event.remove(db.engine, "commit", count)


async def test_the_group_commit_stores_concurrent_pages_in_fewer_transactions(
    db: Database, commits: list[int]
) -> None:
    engine_id, action, _ = seeded(db)
    [home] = claim(db).values()
    links = [f"{ROOT}p{n}" for n in range(30)]
    writer = _PageWriter(db, engine_id, action, _Scopes({}))
    await writer.write(write(home, *links))
    tasks = claim(db)
    commits.clear()
    stored = await asyncio.gather(*(writer.write(write(tasks[url], title=url)) for url in links))
    assert all(s.depth == 1 for s in stored)
    assert len(commits) < len(links)  # the first page waits alone; the rest share
    assert crawl_events(db)["done"] == 31
    assert stored_data(db)[ROOT + "p7"]["Title"] == [ROOT + "p7"]


async def test_a_page_that_cannot_be_stored_fails_alone(db: Database) -> None:
    engine_id, action, _ = seeded(db)
    [home] = claim(db).values()
    writer = _PageWriter(db, engine_id, action, _Scopes({}))
    await writer.write(write(home, ROOT + "a", ROOT + "b", ROOT + "c"))
    tasks = claim(db)
    bad = PageWrite(
        tasks[ROOT + "b"].item_id, ROOT + "b", tasks[ROOT + "b"].event_id, {"k" * 500: 1}, []
    )
    results = await asyncio.gather(
        writer.write(write(tasks[ROOT + "a"])),
        writer.write(bad),
        writer.write(write(tasks[ROOT + "c"])),
        return_exceptions=True,
    )
    assert isinstance(results[0], StoredPage)
    assert isinstance(results[1], HaystackError)
    assert isinstance(results[2], StoredPage)
    # The bad page's event stays claimed: the worker hands it to the queue's retry.
    assert crawl_events(db) == {"pending": 0, "claimed": 1, "done": 3, "dead": 0}
