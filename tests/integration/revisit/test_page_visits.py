"""Re-visiting crawled pages on every backend, against a local site the test changes between
visits: 304 unchanged (the conditional headers sent, nothing re-parsed or stored), changed (a
new version), gone (404/410), new links joining the crawl, and the server down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from haystack_collector.db import Database
from haystack_collector.engines.web_scraper import CRAWL_ACTION, REVISIT_ACTION, WebScraper
from haystack_collector.extract.volatile import VolatileRules
from tests.integration.crawl.helpers import stored_data
from tests.integration.revisit.helpers import (
    age,
    crawl_site,
    drain,
    due_now,
    event_of,
    fire,
    item_ids,
    pending,
    set_policy,
    state,
    version,
    visits,
)
from tests.integration.revisit.site import Page, Site, serve

POLICY = "revisit:webScraper"


@pytest.fixture
def site() -> Site:
    site = Site()
    site.html("/", "Home", "the start", ("/a", "/b"))
    site.html("/a", "Page A", "the first text of a")
    site.html("/b", "Page B", "the text of b")
    return site


@pytest.fixture
def base(site: Site) -> Iterator[str]:
    with serve(site) as url:
        yield url


def revisit(db: Database, *pages: int) -> None:
    """Age the pages, fire the policy's tick and run what it queued."""
    age(db, WebScraper, list(pages), days=2)
    assert fire(db, POLICY) == len(pages)
    drain(db, [WebScraper])


def test_an_unchanged_page_is_answered_304_and_not_re_parsed(
    db: Database, site: Site, base: str
) -> None:
    crawl_site(db, base + "/")
    [page] = item_ids(db, base + "/a")
    before = stored_data(db)[base + "/a"]
    assert before["ETag"] == [site.pages["/a"].tag]  # kept for the re-visit
    set_policy(db, WebScraper)

    revisit(db, page)

    # The conditional header went out and the server answered 304 (no body to parse).
    assert site.asked("/a")[-1] == (site.pages["/a"].tag, None, 304)
    assert visits(db, page) == [("unchanged", 304)]
    assert stored_data(db)[base + "/a"] == before  # nothing stored: not even FetchedAt
    assert version(db, page) == 1
    assert state(db, page) == "fetched"
    assert event_of(db, WebScraper, REVISIT_ACTION, page).state == "done"


def test_last_modified_alone_makes_the_re_visit_conditional(
    db: Database, site: Site, base: str
) -> None:
    site.pages["/b"] = Page(
        site.pages["/b"].body, etag=False, last_modified="Mon, 01 Jun 2026 10:00:00 GMT"
    )
    crawl_site(db, base + "/")
    [page] = item_ids(db, base + "/b")
    set_policy(db, WebScraper)

    revisit(db, page)

    assert site.asked("/b")[-1] == (None, "Mon, 01 Jun 2026 10:00:00 GMT", 304)
    assert visits(db, page) == [("unchanged", 304)]


def test_a_changed_page_gets_a_new_version_and_a_changed_visit(
    db: Database, site: Site, base: str
) -> None:
    crawl_site(db, base + "/")
    [page] = item_ids(db, base + "/a")
    set_policy(db, WebScraper)
    site.html("/a", "Page A, revised", "the second text of a")

    revisit(db, page)

    assert site.asked("/a")[-1][2] == 200
    assert visits(db, page) == [("changed", 200)]
    assert version(db, page) == 2  # the store kept the old values as version 1
    data = stored_data(db)[base + "/a"]
    assert data["Title"] == ["Page A, revised"]
    assert data["ETag"] == [site.pages["/a"].tag]  # the new validator, for the next visit
    # The next visit, with the new validator: unchanged again.
    revisit(db, page)
    assert visits(db, page) == [("changed", 200), ("unchanged", 304)]


@pytest.mark.parametrize("status", [404, 410])
def test_a_page_that_went_away_is_gone(db: Database, site: Site, base: str, status: int) -> None:
    crawl_site(db, base + "/")
    [page] = item_ids(db, base + "/a")
    set_policy(db, WebScraper)
    site.pages["/a"] = Page("gone for good", status=status)

    revisit(db, page)

    assert visits(db, page) == [("gone", status)]
    assert state(db, page) == "gone"
    data = stored_data(db)[base + "/a"]
    assert data["Title"] == ["Page A"]  # what it was is kept
    assert data["StatusCode"] == [status]
    # A gone page is not re-visited again.
    age(db, WebScraper, [page], days=2)
    assert fire(db, POLICY) == 0


def test_links_a_re_visited_page_newly_shows_join_the_same_crawl(
    db: Database, site: Site, base: str
) -> None:
    result = crawl_site(db, base + "/", max_pages=10)
    [page] = item_ids(db, base + "/a")
    set_policy(db, WebScraper)
    site.html("/a", "Page A", "now with a link", ("/c",))
    site.html("/c", "Page C", "a new page")

    revisit(db, page)

    [new] = item_ids(db, base + "/c")
    data = stored_data(db)
    assert data[base + "/c"]["CrawlRoot"] == [result.root_id]
    assert data[base + "/c"]["Title"] == ["Page C"]  # crawled by the same drain
    assert event_of(db, WebScraper, CRAWL_ACTION, new).state == "done"
    assert sum("CrawlSettings" in each for each in data.values()) == 1  # still one crawl


def test_the_server_down_leaves_the_page_as_it_was_and_retries_later(
    db: Database, site: Site
) -> None:
    with serve(site) as url:
        crawl_site(db, url + "/")
        [page] = item_ids(db, url + "/a")
        before = stored_data(db)[url + "/a"]
    set_policy(db, WebScraper)

    revisit(db, page)  # nothing listens on the port any more

    assert visits(db, page) == []
    assert state(db, page) == "fetched"
    assert stored_data(db)[url + "/a"] == before
    event = event_of(db, WebScraper, REVISIT_ACTION, page)
    assert (event.state, event.attempts) == ("pending", 1)  # the queue retries it, later
    assert event.last_error is not None
    assert "re-visit of" in event.last_error
    assert pending(db, WebScraper, REVISIT_ACTION) == {page}

    port = int(url.rsplit(":", 1)[1])
    with serve(site, port=port):
        due_now(db, page)  # the backoff has passed
        drain(db, [WebScraper])
    assert visits(db, page) == [("unchanged", 304)]
    assert event_of(db, WebScraper, REVISIT_ACTION, page).state == "done"


def test_a_server_error_is_no_visit_either(db: Database, site: Site, base: str) -> None:
    crawl_site(db, base + "/")
    [page] = item_ids(db, base + "/a")
    set_policy(db, WebScraper)
    site.pages["/a"] = Page("overloaded", status=503)

    revisit(db, page)

    assert visits(db, page) == []
    assert state(db, page) == "fetched"
    assert event_of(db, WebScraper, REVISIT_ACTION, page).state == "pending"


def test_a_page_robots_txt_now_disallows_is_not_asked_for_and_no_visit(
    db: Database, site: Site, base: str
) -> None:
    crawl_site(db, base + "/")
    [page] = item_ids(db, base + "/a")
    set_policy(db, WebScraper)
    site.pages["/robots.txt"] = Page("User-agent: *\nDisallow: /a\n", etag=False)
    asked = len(site.asked("/a"))

    revisit(db, page)

    assert len(site.asked("/a")) == asked  # not requested
    assert visits(db, page) == []
    assert state(db, page) == "fetched"
    # The fetcher cannot tell "robots.txt says no" from "robots.txt unreachable" (the host
    # down): both wait for a retry, never a verdict on the page.
    assert event_of(db, WebScraper, REVISIT_ACTION, page).state == "pending"


def test_a_volatile_footer_is_no_change_for_the_visit_nor_the_store(
    db: Database, site: Site, base: str
) -> None:
    footer = "<footer>rendered at {}</footer>"
    site.pages["/a"] = Page(
        "<html><head><title>A</title></head><body><p>stays</p>"
        + footer.format("10:00")
        + "</body></html>"
    )
    volatile = VolatileRules(drop=("footer",))
    crawl_site(db, base + "/", volatile=volatile)
    [page] = item_ids(db, base + "/a")
    before = version(db, page)
    set_policy(db, WebScraper)
    site.pages["/a"] = Page(site.pages["/a"].body.replace("10:00", "10:05"))

    revisit(db, page)

    assert site.asked("/a")[-1][2] == 200  # a new ETag: the body was fetched and parsed
    assert visits(db, page) == [("unchanged", 200)]
    assert version(db, page) == before
    site.pages["/a"] = Page(site.pages["/a"].body.replace("stays", "moved on"))
    revisit(db, page)
    assert visits(db, page)[-1] == ("changed", 200)
    assert version(db, page) == before + 1


def test_a_crawl_s_re_visits_fetch_with_the_crawl_s_own_choices(
    db: Database, site: Site, base: str
) -> None:
    result = crawl_site(db, base + "/", obey_robots=False, revisit_every=86400)
    [page] = item_ids(db, base + "/a")
    site.pages["/robots.txt"] = Page("User-agent: *\nDisallow: /\n", etag=False)
    age(db, WebScraper, [page], days=2)

    assert fire(db, f"revisit:crawl:{result.root_id}") == 1
    drain(db, [WebScraper])  # the worker obeys robots.txt; the crawl chose not to

    assert site.asked("/a")[-1][2] == 304
    assert visits(db, page) == [("unchanged", 304)]
