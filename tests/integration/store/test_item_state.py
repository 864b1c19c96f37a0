"""Items carry their state: the store keeps Items.ItemState as items, data and events are written,
and each engine's outcomes map to the right state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events, items
from haystack_collector.engines import craigslist, rss, run_start_actions, web_scraper
from haystack_collector.engines.file_scanner import FileScanner
from haystack_collector.extract.craigslist import SearchResult
from haystack_collector.fetch import FetchResult
from haystack_collector.queue import SqlQueue, Task
from haystack_collector.store import FETCHED, ItemRecord, LinkSpec
from haystack_collector.store.item_state import outcome_state
from tests.factories import make_engine, make_uri

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def state_of(conn: Connection, uri: str) -> str:
    return str(conn.execute(select(items.c.ItemState).where(items.c.ItemURI == uri)).scalar_one())


def claim(conn: Connection, item_id: int, engine_id: int, action_id: int) -> Task:
    """The item's event (queued now if need be) as the Task a worker hands the action."""
    store.enqueue_event(conn, engine_id=engine_id, action_id=action_id, item_id=item_id)
    e = item_events.c
    event_id = conn.execute(
        select(e.ItemEventId).where(
            e.engineId == engine_id, e.actionId == action_id, e.itemId == item_id
        )
    ).scalar_one()
    uri = conn.execute(select(items.c.ItemURI).where(items.c.itemId == item_id)).scalar_one()
    return Task(event_id, engine_id, action_id, item_id, uri, 1, "test", NOW + timedelta(hours=1))


# --- the rules, in the store -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "state"),
    [
        ({"Title": "a page"}, None),
        ({"StatusCode": 200, "Error": None}, "fetched"),
        ({"StatusCode": 304}, "fetched"),
        ({"StatusCode": 301, "Error": []}, "fetched"),
        ({"StatusCode": None, "Error": None}, "fetched"),  # a file read, a video downloaded
        ({"StatusCode": 500, "Error": None}, "failed"),
        ({"StatusCode": None, "Error": "connect timeout"}, "failed"),
        ({"Error": "not a feed"}, "failed"),
        ({"StatusCode": 404, "Error": "HTTP 404"}, "gone"),
        ({"StatusCode": 410}, "gone"),
        ({"StatusCode": 200, "Gone": True}, "gone"),
        ({"StatusCode": "404"}, "gone"),  # an untyped legacy value
        ({"StatusCode": True}, "fetched"),  # not a status at all
    ],
)
def test_an_outcome_in_the_data_names_the_state(data: dict[str, object], state: str) -> None:
    assert outcome_state(data) == state  # type: ignore[arg-type]


def test_discovered_items_are_queued_and_outcomes_set_the_state(db: Database) -> None:
    page, target, bare = make_uri(), make_uri(), make_uri()
    with db.transaction() as conn:
        engine = make_engine(conn)
        store.store_items(
            conn,
            engine_id=engine.engine_id,
            records=[
                ItemRecord(uri=page, data={"Depth": 1}, links=[LinkSpec(target)]),
                ItemRecord(uri=bare, data={"Title": "written, not collected"}),
            ],
        )
        assert [state_of(conn, uri) for uri in (page, target, bare)] == ["queued"] * 3
        for data, state in (
            ({"StatusCode": 200, "Error": None}, "fetched"),
            ({"StatusCode": 503, "Error": "HTTP 503"}, "failed"),
            ({"Depth": 2}, "failed"),  # no outcome: unchanged
            ({"StatusCode": 410, "Error": None}, "gone"),
            ({"StatusCode": 200, "Error": None}, "fetched"),  # the latest outcome wins
        ):
            store.store_items(
                conn, engine_id=engine.engine_id, records=[ItemRecord(uri=page, data=data)]
            )
            assert state_of(conn, page) == state
        # Linking to an item again changes nothing about it.
        store.store_items(
            conn, engine_id=None, records=[ItemRecord(uri=bare, links=[LinkSpec(page)])]
        )
        assert state_of(conn, page) == "fetched"


def test_a_declared_state_moves_only_a_queued_item(db: Database) -> None:
    fresh, discovered, failed = make_uri(), make_uri(), make_uri()
    with db.transaction() as conn:
        store.store_items(
            conn,
            engine_id=None,
            records=[
                ItemRecord(uri=fresh, data={"Title": "an entry"}, state=FETCHED),
                ItemRecord(uri=make_uri(), links=[LinkSpec(discovered)]),
                ItemRecord(uri=failed, data={"Error": "timed out"}),
            ],
        )
        assert state_of(conn, fresh) == "fetched"
        assert state_of(conn, failed) == "failed"
        entries = [
            ItemRecord(uri=uri, data={"Title": "seen in a feed"}, state=FETCHED)
            for uri in (discovered, failed)
        ]
        store.store_items(conn, engine_id=None, records=entries)
        assert state_of(conn, discovered) == "fetched"  # was only a link target
        assert state_of(conn, failed) == "failed"  # its own fetch failed: that stands
        # Declaring queued never undoes an outcome; an outcome wins over a declaration.
        store.store_items(conn, engine_id=None, records=[ItemRecord(uri=fresh, state="queued")])
        assert state_of(conn, fresh) == "fetched"
        gone = ItemRecord(uri=fresh, data={"StatusCode": 404}, state=FETCHED)
        store.store_items(conn, engine_id=None, records=[gone])
        assert state_of(conn, fresh) == "gone"


def test_single_writes_and_events_keep_the_state(db: Database) -> None:
    """The one-row functions (which the legacy PeregrinDB class calls) keep the state too."""
    with db.transaction() as conn:
        engine = make_engine(conn)
        key = {"engine_id": engine.engine_id, "action_id": engine.action_id}
        done = store.get_or_create_item(conn, uri=make_uri(), engine_id=engine.engine_id).item_id
        assert store.get_item(conn, item_id=done).state == "queued"  # type: ignore[union-attr]
        store.add_item_data(conn, item_id=done, key="title", value="Python developer")
        assert store.get_item(conn, item_id=done).state == "queued"  # type: ignore[union-attr]
        store.enqueue_event(conn, item_id=done, **key)
        store.complete_event(conn, item_id=done, **key)  # the engine's action on it finished
        assert store.get_item(conn, item_id=done).state == "fetched"  # type: ignore[union-attr]
        store.set_item_data(conn, item_id=done, key="StatusCode", value=410)
        assert store.get_item(conn, item_id=done).state == "gone"  # type: ignore[union-attr]
        store.add_item_data(conn, item_id=done, key="Error", value="HTTP 500")
        store.set_item_data(conn, item_id=done, key="StatusCode", value=500)
        assert store.get_item(conn, item_id=done).state == "failed"  # type: ignore[union-attr]


def test_a_finished_job_fetches_a_queued_item_and_a_dead_one_fails_it(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
        uris = [make_uri() for _ in range(3)]
        ids = store.store_items(
            conn, engine_id=engine.engine_id, records=[ItemRecord(uri=uri) for uri in uris]
        ).item_ids
        finished, dead, outcome = (
            claim(conn, ids[uri], engine.engine_id, engine.action_id) for uri in uris
        )
        store.finish_claimed(conn, event_ids=[finished.event_id])
        store.fail_claimed(conn, event_id=dead.event_id, error="boom", run_after=None, dead=True)
        # An action that stored its outcome keeps it when its event is finished.
        store.store_items(conn, engine_id=None, records=[ItemRecord(uris[2], {"StatusCode": 404})])
        store.finish_claimed(conn, event_ids=[outcome.event_id])
        assert [state_of(conn, uri) for uri in uris] == ["fetched", "failed", "gone"]
        # A dead event does not undo what an earlier fetch collected.
        again = claim(conn, ids[uris[0]], engine.engine_id, store.register_action(conn, name="x"))
        store.fail_claimed(conn, event_id=again.event_id, error="boom", run_after=None, dead=True)
        assert state_of(conn, uris[0]) == "fetched"


# --- each engine's outcomes ---------------------------------------------------------------


def test_a_crawl_page_is_fetched_failed_or_gone_and_its_targets_queued(db: Database) -> None:
    base = f"https://crawl-{make_uri().rsplit('/', 1)[1]}.test"
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name=web_scraper.WebScraper.name, version="1.0")
        action_id = store.register_action(conn, name=web_scraper.CRAWL_ACTION)
        spec = web_scraper.CrawlSpec(base + "/", 3, 100, frozenset({base.removeprefix("https://")}))
        root = web_scraper.seed_crawl(conn, engine_id=engine_id, action_id=action_id, spec=spec)
        assert state_of(conn, base + "/") == "queued"
        body = b'<html><title>Home</title><a href="/a">a</a> <a href="/b">b</a></html>'
        page = web_scraper._page_record(
            FetchResult(base + "/", 200, body=body, content_type="text/html"), NOW
        )
        task = claim(conn, root, engine_id, action_id)
        web_scraper.store_page(
            conn, engine_id=engine_id, action_id=action_id, task=task, page=page, specs={}
        )
        assert state_of(conn, base + "/") == "fetched"
        assert [state_of(conn, base + path) for path in ("/a", "/b")] == ["queued", "queued"]
        for path, result in (
            ("/a", FetchResult(base + "/a", 404, content_type="text/html")),
            ("/b", FetchResult(base + "/b", None, error="connect timeout")),
        ):
            item_id = store.find_item_id(conn, uri=base + path)
            assert item_id is not None
            task = claim(conn, item_id, engine_id, action_id)
            web_scraper.store_page(
                conn,
                engine_id=engine_id,
                action_id=action_id,
                task=task,
                page=web_scraper._page_record(result, NOW),
                specs={},
            )
        assert [state_of(conn, base + path) for path in ("/a", "/b")] == ["gone", "failed"]


FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
<item><title>One</title><link>https://news.test/1</link><guid>n1</guid></item>
<item><title>Two</title><link>https://news.test/2</link><guid>n2</guid></item>
</channel></rss>"""


def test_a_feed_is_fetched_or_failed_and_its_entries_are_fetched(db: Database) -> None:
    feed = make_uri("https://news.test/feed")
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name=rss.Rss.name, version="1.0")
        action_id = store.register_action(conn, name=rss.FETCH_ACTION)
        queue = SqlQueue(db)
        rss.queue_feeds(
            conn,
            queue=queue,
            engine_id=engine_id,
            action_id=action_id,
            feeds=[feed],
            follow_action=None,
        )
        assert state_of(conn, feed) == "queued"
        feed_id = store.find_item_id(conn, uri=feed)
        assert feed_id is not None
        fresh = FetchResult(feed, 200, body=FEED, content_type="application/rss+xml")
        task = claim(conn, feed_id, engine_id, action_id)
        update = rss._update(fresh, NOW)
        rss.store_feed(conn, queue=queue, engine_id=engine_id, task=task, update=update)
        assert [state_of(conn, uri) for uri in (feed, "https://news.test/1")] == ["fetched"] * 2
        broken = FetchResult(feed, 500, content_type="text/html")
        update = rss._update(broken, NOW)
        rss.store_feed(conn, queue=queue, engine_id=engine_id, task=task, update=update)
        assert state_of(conn, feed) == "failed"
        assert state_of(conn, "https://news.test/2") == "fetched"


def test_craigslist_listings_are_fetched_and_an_expired_posting_is_gone(db: Database) -> None:
    post_id = make_uri().rsplit("/", 1)[1] + "000"
    url = f"https://sfbay.craigslist.org/sfc/apa/{post_id}.html"
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name=craigslist.Craigslist.name, version="1.0")
        action_id = store.register_action(conn, name=craigslist.EXTRACT_ACTION)
        row = SearchResult(post_id, "Flat", url, None, None, "Mission", False)
        listing = craigslist._Listing(craigslist.posting_uri(url, post_id) or "", row, None, "apa")
        queue = SqlQueue(db)
        craigslist.store_listings(
            conn,
            queue=queue,
            engine_id=engine_id,
            action_id=action_id,
            search_uri=make_uri("https://sfbay.craigslist.org/search"),
            listings=[listing],
        )
        assert state_of(conn, listing.uri) == "fetched"  # the row is content: title, hood, ...
        item_id = store.find_item_id(conn, uri=listing.uri)
        assert item_id is not None
        data = craigslist.posting_data(FetchResult(url, 404, content_type="text/html"), {}, NOW)
        task = claim(conn, item_id, engine_id, action_id)
        # What the extractor's ctx.store_items(..., finish=task) does in one transaction.
        store.store_items(conn, engine_id=engine_id, records=[ItemRecord(uri=task.uri, data=data)])
        queue.finish_within(conn, task)
        assert state_of(conn, listing.uri) == "gone"


def test_a_scanned_file_is_fetched_then_gone_when_deleted_and_back_when_restored(
    db: Database, tmp_path: Path
) -> None:
    kept, deleted = tmp_path / "kept.txt", tmp_path / "deleted.txt"
    kept.write_text("kept")
    deleted.write_text("soon gone")

    def scan() -> None:
        [result] = run_start_actions(FileScanner, db, {"folders": [str(tmp_path)]})
        assert result.ok, result.error

    scan()
    deleted.unlink()
    scan()
    with db.read() as conn:
        assert [state_of(conn, path.as_uri()) for path in (kept, deleted)] == ["fetched", "gone"]
    deleted.write_text("back again")
    scan()
    with db.read() as conn:
        assert state_of(conn, deleted.as_uri()) == "fetched"
        item_id = store.find_item_id(conn, uri=deleted.as_uri())
        assert item_id is not None
        assert store.get_item_data(conn, item_id=item_id, key="Gone") == []
