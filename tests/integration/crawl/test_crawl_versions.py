"""A page re-crawled after its content changed keeps one version; a volatile change keeps none.

A real HTTP server on port 0 serves pages whose content the test edits between two crawls of
the same crawl (its pages' events reopened, as a re-visit does).
"""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest

from haystack_collector import store
from haystack_collector.crawl import CrawlOptions, crawl_fetch_settings, run_crawl
from haystack_collector.db import Database
from haystack_collector.engines.web_scraper import CRAWL_ACTION, WebScraper
from haystack_collector.extract.volatile import VolatileRules
from haystack_collector.fetch import FetchSettings
from haystack_collector.store import query, versions
from haystack_collector.store.events import EventSpec, enqueue_events
from tests.http_server import serve_http

FAST = FetchSettings(retry_initial=0.01, retry_maximum=0.02)
RULES = VolatileRules(drop=(".ad",), ignore=(r"Updated \d\d:\d\d",))


def page(title: str, body: str, *, clock: str = "10:00", ad: str = "Buy shoes") -> str:
    return (
        f"<html><head><title>{title}</title><style>p {{color: red}}</style></head><body>"
        f"<nav><a href='/a'>A</a> <a href='/b'>B</a></nav>"
        f"<main><h1>{title}</h1><p>{body}</p></main>"
        f"<div class='ad'>{ad}</div>"
        f"<footer><p>Updated {clock}</p><script>var t = '{clock}';</script></footer>"
        "</body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str]]

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        if body is None:
            self.send_error(404)
            return
        raw = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def pages() -> dict[str, str]:
    return {
        "/": page("Home", "Welcome to the site."),
        "/a": page("Article", "The first paragraph says one thing."),
        "/b": page("Notes", "Nothing changes here."),
    }


@pytest.fixture
def base(pages: dict[str, str]) -> Iterator[str]:
    with serve_http(_Handler, pages=pages) as url:
        yield url


def _crawl(db: Database, options: CrawlOptions) -> None:
    run_crawl(db, options, crawl_fetch_settings(FAST, options), stats_interval=60, tty=False)


def _revisit(db: Database, base: str) -> None:
    """Queue every page of the crawl again, as a re-visit does."""
    engine = WebScraper.register(db)
    with db.transaction() as conn:
        ids = [store.find_item_id(conn, uri=base + path) for path in ("/", "/a", "/b")]
        enqueue_events(
            conn,
            events=[
                EventSpec(engine.engine_id, engine.action_ids[CRAWL_ACTION], item_id)
                for item_id in ids
                if item_id is not None
            ],
            reopen=True,
        )


def _versions(db: Database, uri: str) -> list[versions.ItemVersion]:
    with db.read() as conn:
        item_id = store.find_item_id(conn, uri=uri)
        assert item_id is not None
        return versions.item_versions(conn, item_id=item_id)


@pytest.mark.parametrize("main_text", [True, False], ids=["main-text", "visible-text"])
def test_a_changed_paragraph_is_a_version_and_a_volatile_footer_is_not(
    db: Database, base: str, pages: dict[str, str], main_text: bool
) -> None:
    options = CrawlOptions(
        url=base + "/", max_depth=1, delay=0.0, concurrency=2, main_text=main_text, volatile=RULES
    )
    _crawl(db, options)
    assert all(len(_versions(db, base + path)) == 1 for path in ("/", "/a", "/b"))

    pages["/a"] = page("Article", "The first paragraph now says another.", clock="11:30")
    pages["/b"] = page("Notes", "Nothing changes here.", clock="11:31", ad="Buy hats")
    _revisit(db, base)
    _crawl(db, options)

    old, new = _versions(db, base + "/a")
    assert (old.version, new.version, new.current) == (1, 2, True)
    assert old.valid_to is not None
    assert new.valid_from == old.valid_to
    assert old.digest != new.digest
    assert [v.current for v in _versions(db, base + "/b")] == [True]  # footer and ad only
    assert [v.current for v in _versions(db, base + "/")] == [True]
    if main_text:
        assert old.text is not None
        assert "one thing" in old.text
        assert new.text is not None
        assert "another" in new.text
        assert "Updated" not in new.text  # the footer is no main content
        assert "color" not in new.text  # nor are styles or scripts
    else:
        assert old.text is None
        assert "MainText" not in new.data


def test_without_rules_a_rotating_ad_is_a_change(
    db: Database, base: str, pages: dict[str, str]
) -> None:
    options = CrawlOptions(url=base + "/", max_depth=1, delay=0.0, concurrency=2)
    _crawl(db, options)
    pages["/b"] = page("Notes", "Nothing changes here.", ad="Buy hats")
    _revisit(db, base)
    _crawl(db, options)
    assert [v.version for v in _versions(db, base + "/b")] == [1, 2]
    assert [v.version for v in _versions(db, base + "/a")] == [1]


def test_main_text_feeds_full_text_search(db: Database, base: str) -> None:
    options = CrawlOptions(url=base + "/", max_depth=1, delay=0.0, concurrency=2, main_text=True)
    _crawl(db, options)
    with db.read() as conn:
        found = query.list_page(conn, where=query.ItemFilter(q="paragraph"), limit=10)
    assert [item.uri for item in found.items] == [base + "/a"]
