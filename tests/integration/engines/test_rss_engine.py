"""The ``rss`` engine through the Worker against a real HTTP server with ETags, on every backend."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from sqlalchemy import func, select

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events, items
from haystack_collector.engines import run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.rss import FETCH_ACTION, Rss
from haystack_collector.engines.web_scraper import CRAWL_ACTION, WebScraper
from haystack_collector.extract.feed import extract_feed
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import SqlQueue
from haystack_collector.worker import Worker
from tests.fixtures import real_bytes
from tests.http_server import serve_http
from tests.integration.crawl.helpers import link_edges, stored_data

FAST = FetchSettings(min_delay=0.0, jitter=0.0, retry_attempts=2, retry_initial=0.01)
# What the engine fetches with: the runtime's fetchers, as a worker hands them down.
FETCHERS = Fetchers(FAST)
FOLLOW = "webScraper:WebCrawler"


@dataclass
class FeedServer:
    """Feeds by path; answers If-None-Match with 304 when the ETag still matches."""

    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    log: list[tuple[str, int, str | None]] = field(default_factory=list)  # path, status, INM
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> None:
        self.routes[path] = (200, content_type, body)

    def statuses(self, path: str) -> list[int]:
        return [status for logged, status, _ in self.log if logged == path]


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


class _Handler(BaseHTTPRequestHandler):
    server_state: FeedServer

    def do_GET(self) -> None:
        state = self.server_state
        status, content_type, body = state.routes.get(self.path, (404, "text/plain", b"nope"))
        match = self.headers.get("If-None-Match")
        if status == 200 and match == etag_of(body):
            status, body = 304, b""
        with state.lock:
            state.log.append((self.path, status, match))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status in (200, 304):
            self.send_header("ETag", etag_of(state.routes[self.path][2]))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve(state: FeedServer) -> Iterator[str]:
    with serve_http(_Handler, server_state=state) as base:
        yield base


def real_feed(name: str) -> bytes:
    return real_bytes(f"feeds/{name}")


@pytest.fixture
def feeds() -> FeedServer:
    state = FeedServer()
    state.put("/guardian.rss", real_feed("rss20_guardian.rss"))
    state.put("/reddit.rss", real_feed("rss20_reddit_frontpage.rss"))
    state.put("/youtube.xml", real_feed("atom_youtube_channel.xml"), "application/atom+xml")
    state.put("/page.html", b"<html><body><p>not a feed</p></body></html>", "text/html")
    return state


@pytest.fixture
def base(feeds: FeedServer) -> Iterator[str]:
    with serve(feeds) as url:
        yield url


def poll(db: Database, urls: list[str], follow: str | None = FOLLOW) -> None:
    """One scheduled run: the start action, then a worker drains the fetches."""
    [result] = run_start_actions(
        Rss, db, {"feeds": urls, "follow_action": follow}, fetchers=FETCHERS
    )
    assert result.ok, result.error
    worker = Worker(
        db,
        SqlQueue(db),
        [Rss],
        concurrency=3,
        drain=True,
        idle_sleep=0.05,
        finish_flush=0.05,
        fetchers=FETCHERS,
    )
    stats = asyncio.run(asyncio.wait_for(worker.run(), 60))
    assert stats.failed == 0


def contained(db: Database, uri: str) -> set[str]:
    return {right for left, right in link_edges(db) if left == uri}


def followed(db: Database) -> set[str]:
    """URIs of the items queued for webScraper's WebCrawler."""
    scraper = WebScraper.register(db)
    query = (
        select(items.c.ItemURI)
        .join(item_events, item_events.c.itemId == items.c.itemId)
        .where(
            item_events.c.engineId == scraper.engine_id,
            item_events.c.actionId == scraper.action_ids[CRAWL_ACTION],
        )
    )
    with db.read() as conn:
        return {str(uri) for uri in conn.execute(query).scalars()}


def item_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(items)).scalar_one())


def fetch_events(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return store.event_counts(conn, engine_id=Rss.register(db).engine_id)


def links_of(name: str) -> list[str]:
    return list(dict.fromkeys(e.link for e in extract_feed(real_feed(name)) if e.link))


def test_entries_are_stored_once_and_polls_use_conditional_gets(
    db: Database, feeds: FeedServer, base: str
) -> None:
    WebScraper.register(db)
    guardian, reddit = base + "/guardian.rss", base + "/reddit.rss"

    poll(db, [guardian, reddit])

    data = stored_data(db)
    assert contained(db, guardian) == set(links_of("rss20_guardian.rss"))
    assert len(contained(db, guardian)) == 55
    assert contained(db, reddit) == set(links_of("rss20_reddit_frontpage.rss"))
    assert len(contained(db, reddit)) == 24
    first = data[
        "https://www.theguardian.com/us-news/2018/jan/31/"
        "donald-trump-state-of-the-union-address-unity-discord"
    ]
    assert first["Title"] == [
        "Trump State of the Union address promised unity but emphasized discord"
    ]
    assert first["EntryId"] == first["Link"]
    assert [str(first["Published"][0])] == ["2018-01-31 07:26:05+00:00"]
    assert first["Author"] == ["David Smith in Washington"]
    assert first["Category"][:2] == ["Donald Trump", "State of the Union address"]
    assert first["Summary"][0].startswith("The president\u2019s \u2018new American moment\u2019")
    feed = data[guardian]
    assert feed["Title"] == ["The Guardian"]
    assert feed["StatusCode"] == [200]
    assert feed["ETag"] == [etag_of(real_feed("rss20_guardian.rss"))]
    assert feed["EntryCount"] == [55]
    assert feed["FollowAction"] == [FOLLOW]
    assert "Error" not in feed
    # Every entry is new on the first poll: each is queued for the crawler.
    assert followed(db) == contained(db, guardian) | contained(db, reddit)
    assert fetch_events(db)["done"] == 2
    stored_before = item_count(db)

    poll(db, [guardian, reddit])

    assert feeds.statuses("/guardian.rss") == [200, 304]
    assert feeds.statuses("/reddit.rss") == [200, 304]
    assert [match for path, _, match in feeds.log if path == "/guardian.rss"][1] == feed["ETag"][0]
    assert item_count(db) == stored_before
    # A 304 keeps the status of the content held (the visit records the 304): the feed's
    # meaning did not change, so the store keeps no version of it.
    assert stored_data(db)[guardian]["StatusCode"] == [200]
    assert "CheckedAt" in stored_data(db)[guardian]
    assert stored_data(db)[guardian]["ETag"] == feed["ETag"]  # kept for the next poll
    assert len(followed(db)) == 55 + 24

    # The reddit feed gains one entry at the top and keeps the rest.
    original = real_feed("rss20_reddit_frontpage.rss")
    fresh = (
        b"<item><title>A brand new post</title>"
        b"<link>https://www.reddit.com/r/new/comments/zzz/a_brand_new_post/</link>"
        b"<pubDate>Fri, 13 Nov 2015 08:00:00 +0000</pubDate></item>"
    )
    at = original.index(b"<item>")
    feeds.put("/reddit.rss", original[:at] + fresh + original[at:])

    poll(db, [guardian, reddit])

    assert feeds.statuses("/reddit.rss") == [200, 304, 200]
    assert item_count(db) == stored_before + 1
    new = "https://www.reddit.com/r/new/comments/zzz/a_brand_new_post/"
    assert contained(db, reddit) == set(links_of("rss20_reddit_frontpage.rss")) | {new}
    assert followed(db) - contained(db, guardian) == contained(db, reddit)
    assert len(followed(db)) == 55 + 24 + 1
    assert stored_data(db)[new]["Title"] == ["A brand new post"]
    assert fetch_events(db) == {"pending": 0, "claimed": 0, "done": 2, "dead": 0}


def test_broken_and_missing_feeds_record_an_error_and_do_not_fail_the_task(
    db: Database, feeds: FeedServer, base: str
) -> None:
    page, missing, youtube = base + "/page.html", base + "/missing.rss", base + "/youtube.xml"

    poll(db, [page, missing, youtube], follow=None)

    data = stored_data(db)
    assert data[page]["Error"][0].startswith("not an RSS, Atom or JSON feed")
    assert "ETag" not in data[page]  # a broken feed is fetched in full next time
    assert data[missing]["Error"] == ["HTTP 404"]
    assert data[missing]["StatusCode"] == [404]
    assert contained(db, page) == contained(db, missing) == set()
    assert len(contained(db, youtube)) == 15  # the good feed in the same run is unaffected
    assert followed(db) == set()  # no follow action: nothing queued
    assert fetch_events(db) == {"pending": 0, "claimed": 0, "done": 3, "dead": 0}

    poll(db, [page, missing, youtube], follow=None)

    # The page was served with an ETag, but what did not parse is asked for in full again.
    assert feeds.statuses("/page.html") == [200, 200]
    assert [match for path, _, match in feeds.log if path == "/page.html"] == [None, None]
    assert feeds.statuses("/youtube.xml") == [200, 304]
    assert stored_data(db)[page]["Error"][0].startswith("not an RSS, Atom or JSON feed")


def test_an_unreachable_feed_records_the_fetch_error(db: Database, base: str) -> None:
    with serve(FeedServer()) as gone:
        pass  # the port is closed again: connections are refused
    url = gone + "/feed.rss"

    poll(db, [url], follow=None)

    data = stored_data(db)[url]
    # Unreachable (robots.txt cannot be fetched either, so the fetcher refuses it first).
    assert data["Error"][0] in {"disallowed by robots.txt"} or data["Error"][0].startswith(
        "connection error"
    )
    assert data["StatusCode"] == [None]
    assert fetch_events(db) == {"pending": 0, "claimed": 0, "done": 1, "dead": 0}


def test_a_feed_that_recovers_loses_its_error(db: Database, feeds: FeedServer, base: str) -> None:
    url = base + "/later.rss"
    feeds.put("/later.rss", b"<html>maintenance</html>", "text/html")
    poll(db, [url], follow=None)
    assert "Error" in stored_data(db)[url]

    feeds.put("/later.rss", real_feed("rss20_gb2312_qqtech.xml"))
    poll(db, [url], follow=None)

    data = stored_data(db)
    assert "Error" not in data[url]
    assert data[url]["Title"] == ["互联网"]
    assert contained(db, url) == {"http://tech.qq.com/a/20180919/009008.htm"}


def test_entries_are_deduplicated_by_id_and_by_link(
    db: Database, feeds: FeedServer, base: str
) -> None:
    WebScraper.register(db)

    def feed(*entries: tuple[str, str]) -> bytes:
        items_xml = "".join(
            f"<entry><id>{entry_id}</id><title>{entry_id}</title><link href='{link}'/>"
            "<updated>2024-01-01T00:00:00Z</updated></entry>"
            for entry_id, link in entries
        )
        return (
            f"<feed xmlns='http://www.w3.org/2005/Atom'><title>D</title>{items_xml}</feed>"
        ).encode()

    url = base + "/dupes.atom"
    feeds.put(
        "/dupes.atom",
        feed(
            ("urn:a", "https://d.test/a"),
            ("urn:a", "https://d.test/a2"),
            ("urn:b", "https://d.test/a"),
        ),
        "application/atom+xml",
    )
    poll(db, [url])
    assert contained(db, url) == {"https://d.test/a"}
    assert stored_data(db)["https://d.test/a"]["EntryId"] == ["urn:a"]
    assert followed(db) == {"https://d.test/a"}

    # The same entry (same id) moves to a new link: stored, but not new, so not followed.
    feeds.put("/dupes.atom", feed(("urn:a", "https://d.test/moved")), "application/atom+xml")
    poll(db, [url])
    assert contained(db, url) == {"https://d.test/a", "https://d.test/moved"}
    assert followed(db) == {"https://d.test/a"}


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"follow_action": "noSuchEngine:Fetch"}, "no engine named 'noSuchEngine' is registered"),
        ({"follow_action": "webScraper:NoSuchAction"}, "has no such action"),
        ({"follow_action": "no-colon"}, "follow_action must be 'engine:action'"),
        ({"feeds": ["ftp://x.test/feed"]}, "not an http(s) feed URL"),
        ({"feeds": []}, "no feeds to poll"),
        ({"unknown": 1}, "unknown: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_fail_the_poll_and_queue_nothing(
    db: Database, base: str, settings: dict[str, object], error: str
) -> None:
    WebScraper.register(db)
    chosen: dict[str, object] = {"feeds": [base + "/guardian.rss"], **settings}

    [result] = run_start_actions(Rss, db, chosen, fetchers=FETCHERS)

    assert not result.ok
    assert error in (result.error or "")
    assert fetch_events(db)["pending"] == 0
    with db.read() as conn:
        assert store.find_item_id(conn, uri=base + "/guardian.rss") is None


def test_the_fetch_action_is_declared_for_the_queue(db: Database) -> None:
    registered = Rss.register(db)
    assert set(registered.action_ids) == {"poll", FETCH_ACTION}
