"""``run_crawl`` against a real HTTP server on every backend: exact pages, depths, links."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Connection

from haystack_collector.crawl import CrawlOptions, CrawlResult, crawl_fetch_settings, run_crawl
from haystack_collector.db import Database
from haystack_collector.engines import web_scraper
from haystack_collector.fetch import FetchSettings
from haystack_collector.store import crawl as crawl_store
from haystack_collector.store.crawl import StoredPage
from haystack_collector.urls import looks_like_trap
from tests.integration.crawl.helpers import crawl_events, link_edges, stored_pages
from tests.integration.crawl.site import OFFSITE, Site, reference_crawl, serve

# Retries of the 500 page would otherwise wait seconds; everything else is the default.
FAST = FetchSettings(retry_initial=0.01, retry_maximum=0.02)


@pytest.fixture
def site() -> Site:
    return Site(pages=60)


@pytest.fixture
def base(site: Site) -> Iterator[str]:
    with serve(site) as url:
        yield url


def crawl(db: Database, base: str, **options: object) -> CrawlResult:
    chosen = CrawlOptions(url=base + "/", delay=0.0, **options)  # type: ignore[arg-type]
    return run_crawl(db, chosen, crawl_fetch_settings(FAST, chosen), stats_interval=60, tty=False)


def expected_depths(site: Site, base: str, max_depth: int) -> dict[str, int]:
    depths = reference_crawl(
        site, max_depth=max_depth, trap=lambda path: looks_like_trap(base + path) is not None
    )
    return {base + path: depth for path, depth in depths.items()}


def test_crawl_stores_exactly_the_reachable_pages_once(db: Database, site: Site, base: str) -> None:
    result = crawl(db, base, max_depth=4, concurrency=1)

    expected = expected_depths(site, base, 4)
    pages = stored_pages(db)
    assert set(pages) == set(expected)
    assert {uri: data["Depth"] for uri, data in pages.items()} == {
        uri: [depth] for uri, depth in expected.items()
    }
    assert result.pages == result.total_pages == len(expected)
    assert crawl_events(db) == {"pending": 0, "claimed": 0, "done": len(expected), "dead": 0}
    # Each page was requested once (the 500 once per fetcher attempt); nothing else was.
    requested = dict(site.requests)
    assert requested.pop("/robots.txt") == 1
    assert requested.pop("/broken") == FAST.retry_attempts
    fetched = {uri.removeprefix(base) for uri in expected} - {"/private/secret", "/broken"}
    assert requested == dict.fromkeys(fetched, 1)
    assert OFFSITE not in pages


def test_pages_carry_titles_status_links_images_and_forms(
    sqlite_db: Database, site: Site, base: str
) -> None:
    db = sqlite_db
    crawl(db, base, max_depth=4, concurrency=1)
    pages = stored_pages(db)

    assert pages[base + "/"]["Title"] == ["Home"]
    assert pages[base + "/p/3"]["Title"] == ["Page 3"]
    assert pages[base + "/malformed"]["Title"] == ["Bad & broken"]
    assert pages[base + "/cal/2024/01"]["Title"] == ["Cal 2024-01"]
    home = pages[base + "/"]
    assert home["StatusCode"] == [200]
    assert home["ContentType"] == ["text/html; charset=utf-8"]
    assert home["ContentHash"] == [
        hashlib.sha256(site.respond("/", int(base.rsplit(":", 1)[1])).body).hexdigest()
    ]
    assert pages[base + "/missing"]["StatusCode"] == [404]
    assert pages[base + "/broken"]["StatusCode"] == [500]
    assert pages[base + "/broken"]["Error"] == ["HTTP 500"]
    assert pages[base + "/private/secret"]["Error"] == ["disallowed by robots.txt"]
    pdf = pages[base + "/file.pdf"]
    assert pdf["ContentType"] == ["application/pdf"]
    assert "Title" not in pdf
    assert pdf["ContentHash"] == [hashlib.sha256(site.routes["/file.pdf"].body).hexdigest()]

    assert pages[base + "/p/3"]["Image"] == [
        {"src": base + "/img/3.png", "alt": "Picture 3", "width": 4, "height": None}
    ]
    assert pages[base + "/p/0"]["Form"] == [
        {
            "name": "f0",
            "action": base + "/search",
            "method": "POST",
            "fields": [
                {"name": "q", "type": "text", "default": "hay"},
                {"name": "page", "type": "hidden", "default": "1"},
                {"name": "note", "type": "textarea", "default": "hi"},
            ],
        }
    ]
    assert "Form" not in pages[base + "/p/3"] or pages[base + "/p/3"]["Form"] == []

    edges = link_edges(db)
    for path in ("/", "/p/3", "/malformed"):
        assert {right for left, right in edges if left == base + path} == {
            base + target for target in site.links[path]
        }, path
    assert not any(OFFSITE in (left, right) for left, right in edges)


def test_traps_are_cut_by_depth_and_repeated_segments(
    sqlite_db: Database, site: Site, base: str
) -> None:
    db = sqlite_db
    crawl(db, base, max_depth=6, concurrency=1)
    pages = stored_pages(db)
    calendar = sorted(uri.removeprefix(base) for uri in pages if "/cal/" in uri)
    assert calendar == [f"/cal/2024/{month:02d}" for month in range(1, 7)]
    chain = sorted(uri.removeprefix(base) for uri in pages if "/a/" in uri)
    assert chain == ["/a/", "/a/a/", "/a/a/a/"]  # /a/a/a/a/ repeats a segment 4 times
    assert site.requests["/a/a/a/a/"] == 0


def test_running_the_same_crawl_again_fetches_nothing(
    sqlite_db: Database, site: Site, base: str
) -> None:
    db = sqlite_db
    first = crawl(db, base, max_depth=2, concurrency=4)
    before = dict(site.requests)
    again = crawl(db, base, max_depth=2, concurrency=4)
    assert again.pages == 0
    assert again.total_pages == first.total_pages == first.pages
    assert {path: n for path, n in site.requests.items() if path != "/robots.txt"} == {
        path: n for path, n in before.items() if path != "/robots.txt"
    }


@pytest.mark.parametrize("concurrency", [8])
def test_max_pages_is_exact_with_concurrency(
    db: Database, site: Site, base: str, concurrency: int
) -> None:
    result = crawl(db, base, max_depth=10, max_pages=25, concurrency=concurrency)
    pages = stored_pages(db)
    assert len(pages) == result.pages == 25
    fetched = {path for path in site.requests if path != "/robots.txt"}
    assert all(site.requests[path] == 1 for path in fetched - {"/broken"})
    assert {base + path for path in fetched} <= set(pages)
    assert crawl_events(db)["pending"] == 0


def test_concurrent_crawl_requests_each_page_once(db: Database, site: Site, base: str) -> None:
    result = crawl(db, base, max_depth=4, concurrency=8)
    pages = stored_pages(db)
    expected = expected_depths(site, base, 4)
    # Depths may exceed the shortest path when a slow page loses a race, never undercut it.
    for uri, data in pages.items():
        assert data["Depth"][0] >= expected.get(uri, 0)
    assert len(pages) == result.pages
    requested = {path: n for path, n in site.requests.items() if path not in ("/robots.txt",)}
    assert all(n == 1 for path, n in requested.items() if path != "/broken")
    assert crawl_events(db) == {"pending": 0, "claimed": 0, "done": len(pages), "dead": 0}


@pytest.mark.parametrize("allowed", [(), ("localhost",)])
def test_other_hosts_only_with_allow_domain(
    sqlite_db: Database, site: Site, base: str, allowed: tuple[str, ...]
) -> None:
    db = sqlite_db
    port = base.rsplit(":", 1)[1]
    site.html("/", "Home", [f"http://localhost:{port}/p/1", "/p/2"], canonical=[])
    crawl(db, base, max_depth=1, concurrency=2, allowed_domains=allowed)
    expected = {base + "/", base + "/p/2"}
    if allowed:
        expected.add(f"http://localhost:{port}/p/1")
    assert set(stored_pages(db)) == expected
    assert site.requests["/p/1"] == (1 if allowed else 0)


def test_pages_this_process_queued_are_fetched_without_reading_their_crawl(
    db: Database, site: Site, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The crawl's choices decide each fetch; the page writer remembers the crawl of every
    # target it queued, so only the start page (queued by the seed) is looked up.
    reads: list[int] = []
    real = crawl_store.page_scope

    def counting(conn: Connection, *, item_id: int, scopes: crawl_store.Scopes) -> object:
        reads.append(item_id)
        return real(conn, item_id=item_id, scopes=scopes)

    monkeypatch.setattr(crawl_store, "page_scope", counting)
    result = crawl(db, base, max_depth=4, concurrency=4)

    assert result.pages == len(expected_depths(site, base, 4))
    assert len(reads) == 1


def test_the_remembered_frontier_is_bounded_and_forgets_what_is_claimed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_scraper, "FRONTIER_MEMORY", 3)
    writer = web_scraper._PageWriter(Database("sqlite://"), 1, 1, web_scraper._Scopes({}))
    writer._remember(StoredPage(0, 4, 4, 7, ("u1", "u2", "u3", "u4")))
    writer._remember(StoredPage(0, 1, 0, None, ()))  # a page of no crawl queues nothing

    assert writer.root_of("u1") is None  # the oldest went first
    assert [writer.root_of(uri) for uri in ("u2", "u3", "u4")] == [7, 7, 7]
    assert writer.root_of("u2") is None  # asked once: the page is claimed
