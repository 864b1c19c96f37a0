"""The webScraper engine's pure parts and its store transaction, without a network."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from haystack_collector.db import Database
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.web_scraper import (
    CrawlSpec,
    WebScraper,
    WebScraperSettings,
    _page_record,
    seed_crawl,
    store_page,
)
from haystack_collector.errors import ConfigError
from haystack_collector.fetch import FetchResult, FetchSettings
from haystack_collector.queue import SqlQueue
from tests.integration.crawl.helpers import crawl_events, link_edges, stored_data

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SAME_PAGE = """<title>Spellings</title>
<a href="http://Site.TEST:80/a">1</a>
<a href="http://site.test/a#frag">2</a>
<a href="/b/../a">3</a>
<a href="./a">4</a>
<a href="HTTP://site.test/./a">5</a>
<a href="https://site.test:443/secure">6</a>
<a href="https://site.test/secure#x">7</a>
<a href="http://elsewhere.test/a">8</a>
<a href="mailto:me@site.test">9</a>
<a href="/x/x/x/x/x">trap</a>
"""


def html(url: str, body: str, content_type: str = "text/html") -> FetchResult:
    return FetchResult(
        url,
        200,
        httpx.Headers({"content-type": content_type}),
        body.encode(),
        text=body,
        content_type=content_type,
    )


def test_spellings_of_one_url_become_one_link() -> None:
    page = _page_record(html("http://site.test/", SAME_PAGE), NOW)
    assert page.links == [
        "http://site.test/a",
        "https://site.test/secure",
        "http://elsewhere.test/a",
        "http://site.test/x/x/x/x/x",
    ]
    assert page.data["Title"] == "Spellings"


def test_frames_iframes_areas_and_meta_refresh_are_followed() -> None:
    frameset = """<html><head><title>Frames</title>
<meta http-equiv="refresh" content="0; url=moved.html"></head>
<frameset cols="20%,80%"><frame src="toc.html"><frame src="main.html"></frameset></html>"""
    assert _page_record(html("http://site.test/f/", frameset), NOW).links == [
        "http://site.test/f/toc.html",
        "http://site.test/f/main.html",
        "http://site.test/f/moved.html",
    ]
    body = """<a href="a.html">a</a><iframe src="embed.html"></iframe>
<map><area href="a.html"><area href="b.html"></map><iframe src="a.html"></iframe>"""
    assert _page_record(html("http://site.test/", body), NOW).links == [
        "http://site.test/a.html",
        "http://site.test/b.html",
        "http://site.test/embed.html",
    ]


def test_nofollow_covers_frames_and_meta_refresh() -> None:
    body = """<meta name="robots" content="nofollow"><meta http-equiv="refresh" content="0; url=x">
<iframe src="embed.html"></iframe>"""
    assert _page_record(html("http://site.test/", body), NOW).links == []


def test_non_html_is_stored_but_not_parsed() -> None:
    page = _page_record(html("http://site.test/f.pdf", SAME_PAGE, "application/pdf"), NOW)
    assert page.links == []
    assert "Title" not in page.data
    assert page.data["ContentType"] == "application/pdf"
    assert page.data["StatusCode"] == 200


def test_a_failed_fetch_records_its_error() -> None:
    page = _page_record(FetchResult("http://site.test/", error="connection error"), NOW)
    assert page.data["Error"] == "connection error"
    assert page.data["StatusCode"] is None
    assert page.data["ContentHash"] is None


@pytest.mark.parametrize("url", ["", "not a url", "ftp://site.test/", "mailto:a@b.c"])
def test_a_crawl_needs_an_http_url(url: str) -> None:
    with pytest.raises(ConfigError):
        CrawlSpec.from_settings(WebScraperSettings(url=url))


def test_the_spec_round_trips_and_scopes_hosts() -> None:
    spec = CrawlSpec.from_settings(
        WebScraperSettings(url="HTTP://Site.Test:80/", max_depth=2, allowed_domains=["Other.test"])
    )
    assert spec.url == "http://site.test/"
    assert CrawlSpec.from_json(spec.as_json()) == spec
    assert spec.in_scope("http://www.site.test/x")
    assert spec.in_scope("https://other.test/")
    assert not spec.in_scope("http://elsewhere.test/")


def test_storing_a_page_links_in_scope_targets_and_queues_them_once(sqlite_db: Database) -> None:
    db = sqlite_db
    registered = WebScraper.register(db)
    action = registered.action_ids["WebCrawler"]
    spec = CrawlSpec.from_settings(WebScraperSettings(url="http://site.test/", max_depth=3))
    root = db.run(seed_crawl, engine_id=registered.engine_id, action_id=action, spec=spec)
    assert db.run(seed_crawl, engine_id=registered.engine_id, action_id=action, spec=spec) == root
    [task] = SqlQueue(db).claim(owner="test", limit=5)
    page = _page_record(html("http://site.test/", SAME_PAGE), NOW)
    stored = db.run(
        store_page, engine_id=registered.engine_id, action_id=action, task=task, page=page, specs={}
    )
    assert (stored.depth, stored.linked, stored.enqueued) == (0, 2, 2)
    # Running it again (a redelivered event) stores the same, and queues nothing new.
    again = db.run(
        store_page, engine_id=registered.engine_id, action_id=action, task=task, page=page, specs={}
    )
    assert again.enqueued == 0
    data = stored_data(db)
    assert data["http://site.test/"]["Title"] == ["Spellings"]
    assert data["http://site.test/"]["CrawlEnqueued"] == [3]
    assert data["http://site.test/a"] == {"CrawlRoot": [root], "Depth": [1]}
    assert data["https://site.test/secure"] == {"CrawlRoot": [root], "Depth": [1]}
    assert link_edges(db) == {
        ("http://site.test/", "http://site.test/a"),
        ("http://site.test/", "https://site.test/secure"),
    }
    assert crawl_events(db) == {"pending": 2, "claimed": 0, "done": 1, "dead": 0}


def test_max_pages_caps_what_is_queued(sqlite_db: Database) -> None:
    db = sqlite_db
    registered = WebScraper.register(db)
    action = registered.action_ids["WebCrawler"]
    spec = CrawlSpec.from_settings(WebScraperSettings(url="http://site.test/", max_pages=2))
    db.run(seed_crawl, engine_id=registered.engine_id, action_id=action, spec=spec)
    [task] = SqlQueue(db).claim(owner="test", limit=5)
    page = _page_record(html("http://site.test/", SAME_PAGE), NOW)
    stored = db.run(
        store_page, engine_id=registered.engine_id, action_id=action, task=task, page=page, specs={}
    )
    assert stored.enqueued == 1
    assert crawl_events(db)["pending"] == 1


def test_a_crawl_keeps_its_own_fetch_choices_and_an_old_row_has_none() -> None:
    chosen = WebScraperSettings(
        url="http://site.test/", delay=0.25, per_host_concurrency=8, obey_robots=False
    )
    spec = CrawlSpec.from_settings(chosen)
    assert spec.fetch_overrides() == {
        "min_delay": 0.25,
        "per_host_concurrency": 8,
        "obey_robots": False,
    }
    assert CrawlSpec.from_json(spec.as_json()) == spec
    # Stored before crawls kept them: the worker's own settings fetch its pages.
    old = {"url": "http://site.test/", "max_depth": 3, "max_pages": 10, "hosts": ["site.test"]}
    assert CrawlSpec.from_json(old).fetch_overrides() == {}
    unchosen = CrawlSpec.from_settings(WebScraperSettings(url="http://site.test/"))
    assert unchosen.as_json().keys() == old.keys()


async def test_a_crawl_fetcher_is_the_shared_one_unless_the_crawl_chose_otherwise() -> None:
    fetchers = Fetchers(FetchSettings(min_delay=1.0, per_host_concurrency=2))
    fetch = fetchers.for_engine(WebScraper.name)
    try:
        plain = CrawlSpec.from_settings(WebScraperSettings(url="http://site.test/"))
        same = CrawlSpec.from_settings(
            WebScraperSettings(url="http://site.test/", delay=1.0, per_host_concurrency=2)
        )
        fast = CrawlSpec.from_settings(WebScraperSettings(url="http://site.test/", delay=0.0))
        shared = fetch.fetcher()
        assert WebScraper.crawl_fetcher(fetch, plain) is shared
        assert WebScraper.crawl_fetcher(fetch, same) is shared
        own = WebScraper.crawl_fetcher(fetch, fast)
        assert own is not shared
        assert own.settings == FetchSettings(min_delay=0.0, per_host_concurrency=2)
        assert WebScraper.crawl_fetcher(fetch, fast) is own  # one per distinct settings
        # The Config row DefaultDelay replaces the worker's delay, not the crawl's.
        fetchers.set_delay(0.5)
        assert WebScraper.crawl_fetcher(fetch, plain) is shared
        assert WebScraper.crawl_fetcher(fetch, same).settings.min_delay == 1.0
    finally:
        await fetchers.aclose()


def test_snapshots_are_of_rendered_pages_and_are_kept_with_the_crawl() -> None:
    with pytest.raises(ConfigError, match="snapshot: snapshots are taken of rendered pages"):
        WebScraper.validate_settings({"url": "https://a.example/", "snapshot": ["png"]})
    settings = WebScraper.validate_settings(
        {"url": "https://a.example/", "render": True, "snapshot": ["png", "pdf"]}
    )
    assert isinstance(settings, WebScraperSettings)
    spec = CrawlSpec.from_settings(settings)
    assert spec.snapshot == ("png", "pdf")
    assert CrawlSpec.from_json(spec.as_json()) == spec
