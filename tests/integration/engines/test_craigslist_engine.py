"""The ``craigslist`` engine end to end: real captured pages from a local server, a Worker, every
backend. Search → listing items linked ``contains`` → extractor events → posting data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_links, items, link_types
from haystack_collector.engines.base import ActionResult, run_start_actions
from haystack_collector.engines.craigslist import ENGINE_URI, KEYWORD, Craigslist
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import SqlQueue
from haystack_collector.store import ItemRecord
from haystack_collector.worker import Worker, WorkerStats, run_worker
from tests.integration.crawl.helpers import stored_data
from tests.integration.engines.cl_site import ClSite, real, serve

# No politeness delay between local requests; retries of a 500 wait milliseconds.
FAST = FetchSettings(min_delay=0.0, jitter=0.0, retry_initial=0.01, retry_maximum=0.02)
# What the engine fetches with: the runtime's fetchers, as a worker hands them down.
FETCHERS = Fetchers(FAST)

MILWAUKEE_SEARCH = "craigslist_search/cl2026_milwaukee_apa_wauwatosa_staticresults.html"
MILWAUKEE_POSTING = "craigslist_posting/cl2026_milwaukee_apa_7936415355.html"
PHOENIX_SEARCH = "craigslist_search/cl2025_phoenix_sof_jobs_staticresults.html"
SF_JOBS_SEARCH = "craigslist_search/cl2019_sfbay_sof_jobs_resultrow.html"
NO_RESULTS = "craigslist_search/cl2012_sfbay_sss_noresults.html"
DELETED = "craigslist_posting/cl_deleted_by_author.html"
OTHER_POSTING = "craigslist_posting/cl2023_posting_no_price.html"

FIRST, DELETED_ID, MISSING_ID, BROKEN_ID = "7936415355", "7936415958", "7936415882", "7936415660"


@pytest.fixture
def site() -> ClSite:
    """Milwaukee's 37 apartments; the first posting is the real one, three others misbehave."""
    return ClSite(
        searches={"/search/apa": real(MILWAUKEE_SEARCH)},
        postings={FIRST: real(MILWAUKEE_POSTING), DELETED_ID: real(DELETED)},
        default_posting=real(OTHER_POSTING),
        statuses={MISSING_ID: 404, BROKEN_ID: 500},
    )


@pytest.fixture
def base(site: ClSite) -> Iterator[str]:
    with serve(site) as url:
        yield url


def search(db: Database, **settings: Any) -> ActionResult:
    [result] = run_start_actions(Craigslist, db, settings, fetchers=FETCHERS)
    assert result.ok, result.error
    return result


def drain(db: Database) -> WorkerStats:
    worker = Worker(db, SqlQueue(db), [Craigslist], concurrency=4, drain=True, fetchers=FETCHERS)
    return run_worker(worker, stats_interval=60, tty=False)


def milwaukee(base: str) -> dict[str, Any]:
    return {"city": "milwaukee", "category": "apa", "query": "wauwatosa", "base_url": base}


def events(db: Database) -> dict[str, int]:
    engine_id = Craigslist.register(db).engine_id
    with db.read() as conn:
        return store.event_counts(conn, engine_id=engine_id)


def contained(db: Database, search_uri: str) -> set[str]:
    """URIs the search item links to with ``contains``."""
    left, right = aliased(items), aliased(items)
    query = (
        select(right.c.ItemURI)
        .select_from(item_links)
        .join(left, left.c.itemId == item_links.c.itemId_left)
        .join(right, right.c.itemId == item_links.c.itemId_right)
        .join(link_types, link_types.c.LinkTypeId == item_links.c.linkTypeId)
        .where(left.c.ItemURI == search_uri, link_types.c.LinkTypeName == "contains")
    )
    with db.read() as conn:
        return {str(uri) for uri in conn.execute(query).scalars()}


def item_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(items)).scalar_one())


def posting(uri_id: str) -> str:
    return f"craigslist:posting/{uri_id}"


def test_search_stores_listings_and_queues_one_extractor_each(
    db: Database, site: ClSite, base: str
) -> None:
    result = search(db, **milwaukee(base), max_pages=2)

    search_uri = f"{base}search/apa?query=wauwatosa"
    assert (result.items_stored, result.events_enqueued) == (38, 37)
    listings = contained(db, search_uri)
    assert len(listings) == 37  # MANIFEST: listings 37
    assert posting(FIRST) in listings
    data = stored_data(db)
    assert data[search_uri]["Results"] == [37]
    assert data[search_uri]["Pages"] == [1]  # no next-page link on a 2023+ page
    assert data[search_uri]["StatusCode"] == [200]
    assert data[search_uri]["Error"] == [None]
    first = data[posting(FIRST)]
    assert first["Title"] == ["Wauwatosa 2 Bdrm, 1 Bath Near MCW"]
    assert first["Price"] == [1325]
    assert first["Hood"] == ["Wauwatosa"]
    assert first["PostId"] == [FIRST]
    assert first["Nearby"] == [False]
    assert first["Url"] == [
        "https://milwaukee.craigslist.org/apa/d/milwaukee-wauwatosa-bdrm-bath-near-mcw/7936415355.html"
    ]
    assert first["FetchUrl"] == [f"{base}apa/d/milwaukee-wauwatosa-bdrm-bath-near-mcw/{FIRST}.html"]
    assert events(db) == {"pending": 37, "claimed": 0, "done": 0, "dead": 0}
    assert site.posting_requests() == {}  # nothing fetched before the worker runs


def test_the_worker_extracts_every_posting_and_marks_the_gone_ones(
    db: Database, site: ClSite, base: str
) -> None:
    search(db, **milwaukee(base))
    stats = drain(db)

    assert (stats.finished, stats.failed) == (37, 0)
    assert events(db) == {"pending": 0, "claimed": 0, "done": 37, "dead": 0}
    data = stored_data(db)
    first = data[posting(FIRST)]
    assert first["Title"] == ["Wauwatosa 2 Bdrm, 1 Bath Near MCW"]
    assert first["Body"][0].startswith(
        "Beautifully updated, clean, quiet 2 bedroom, 1 bath apartment in the City"
    )
    assert first["Posted"] == [
        datetime(2026, 5, 24, 8, 45, 51, tzinfo=timezone(timedelta(hours=-5)))
    ]
    assert first["Updated"] == [None]
    assert first["Price"] == [1325]
    assert (first["Latitude"], first["Longitude"]) == ([43.049222], [-88.057494])
    assert first["Attribute"][:4] == [
        "2BR / 1Ba",
        "925ft 2",
        "available jun 1",
        "rent period: monthly",
    ]
    assert len(first["Image"]) == 10
    assert (first["Status"], first["Gone"], first["StatusCode"]) == (["active"], [False], [200])
    assert first["PostId"] == [FIRST]
    assert "JobTitle" not in first  # apartments are no jobs

    deleted = data[posting(DELETED_ID)]
    assert (deleted["Status"], deleted["Gone"]) == (["deleted"], [True])
    assert deleted["Title"] == ["Wauwatosa Area - Near MCW - 1 Bdrm, 1 Bath"]  # kept
    missing = data[posting(MISSING_ID)]
    assert (missing["Status"], missing["Gone"], missing["StatusCode"]) == (
        ["expired"],
        [True],
        [404],
    )
    broken = data[posting(BROKEN_ID)]
    assert broken["Error"] == ["HTTP 500"]
    assert "Status" not in broken  # a failed fetch says nothing about the posting
    assert broken["Title"] == ["Wauwatosa 2 Bdrm, 1 Bath Near MCW"]

    requested = site.posting_requests()
    assert requested.pop(BROKEN_ID) == FAST.retry_attempts
    assert set(requested.values()) == {1}
    assert len(requested) == 36


def test_a_second_run_of_the_same_search_creates_and_queues_nothing(
    db: Database, site: ClSite, base: str
) -> None:
    search(db, **milwaukee(base))
    drain(db)
    items_before = item_count(db)
    requests_before = site.posting_requests()

    again = search(db, **milwaukee(base))
    stats = drain(db)

    assert again.events_enqueued == 0
    assert item_count(db) == items_before
    assert stats.claimed == 0
    assert site.posting_requests() == requests_before
    assert events(db) == {"pending": 0, "claimed": 0, "done": 37, "dead": 0}
    # The result row did not overwrite what the posting said.
    first = stored_data(db)[posting(FIRST)]
    assert first["Posted"] == [datetime(2026, 5, 24, 13, 45, 51, tzinfo=UTC)]
    assert first["Status"] == ["active"]


def test_root_item_keywords_in_the_original_format_are_searched(
    sqlite_db: Database, base: str, site: ClSite
) -> None:
    db = sqlite_db
    site.searches["/search/sof"] = real(PHOENIX_SEARCH)
    site.default_posting = real(MILWAUKEE_POSTING)
    engine_id = Craigslist.register(db).engine_id
    db.run(
        store.store_items,
        engine_id=engine_id,
        records=[
            ItemRecord(
                uri=ENGINE_URI,
                data={KEYWORD: ["phoenix|en|us|search|python|sof", "phoenix|en|python|sof"]},
            )
        ],
    )

    result = search(db, base_url=base)
    drain(db)

    search_uri = f"{base}search/sof?query=python&lang=en&cc=us"
    assert contained(db, search_uri) == {posting("7896115661"), posting("7894083922")}
    assert result.events_enqueued == 2
    statuses = db.run_read(store.recent_status, engine_id=engine_id)
    assert any("skipped keyword 'phoenix|en|python|sof'" in row.message for row in statuses)
    assert any(
        row.message == "craigslist:search searched 1 keyword(s); items stored 3, postings queued 2"
        for row in statuses
    )
    job = stored_data(db)[posting("7896115661")]
    assert job["Category"] == ["sof"]
    assert job["JobSource"] == ["craigslist"]
    assert job["JobLocation"] == ["Chandler, AZ"]  # the listing's location
    assert job["JobTitle"] == job["Title"]
    assert job["JobFingerprint"][0] is not None


def test_keywords_added_through_the_engine_are_checked_and_kept_once(sqlite_db: Database) -> None:
    db = sqlite_db
    assert Craigslist.add_keywords(db, ["sfbay|en|us|search|python|sof"]) == [
        "sfbay|en|us|search|python|sof"
    ]
    assert Craigslist.add_keywords(db, ["sfbay|en|us|search|python|sof", "boston|||||"]) == [
        "sfbay|en|us|search|python|sof",
        "boston|||search||jjj",
    ]
    with pytest.raises(Exception, match="six fields"):
        Craigslist.add_keywords(db, ["sfbay|python"])
    root = db.run_read(store.find_item_id, uri=ENGINE_URI)
    assert root is not None
    assert db.run_read(store.get_item_data, item_id=root, key=KEYWORD) == [
        "sfbay|en|us|search|python|sof",
        "boston|||search||jjj",
    ]


def test_result_pages_are_followed_up_to_max_pages(
    sqlite_db: Database, site: ClSite, base: str
) -> None:
    db = sqlite_db
    site.searches["/search/sof"] = real(SF_JOBS_SEARCH)
    site.next_page = real(NO_RESULTS)

    search(db, city="sfbay", category="sof", base_url=base, max_pages=1)
    assert site.requests["/search/sof"] == 1
    assert site.requests["/search/sof?s=120"] == 0

    search(db, city="sfbay", category="sof", base_url=base, max_pages=5)
    # Page 2 ("next >", rewritten to this server) has no results: the walk ends there.
    assert site.requests["/search/sof?s=120"] == 1
    data = stored_data(db)[f"{base}search/sof"]
    assert (data["Results"], data["Pages"]) == ([120], [2])
    assert len(contained(db, f"{base}search/sof")) == 120


def test_an_unreachable_site_is_recorded_on_the_search_item(sqlite_db: Database) -> None:
    dead = "http://127.0.0.1:9/"  # discard port: nothing listens
    result = search(sqlite_db, city="sfbay", category="sof", base_url=dead)
    assert result.events_enqueued == 0
    data = stored_data(sqlite_db)[f"{dead}search/sof"]
    # The fetcher's answer: an unreachable robots.txt disallows the whole site for a while.
    assert data["Error"] == ["disallowed by robots.txt"]
    assert data["StatusCode"] == [None]
    assert data["Results"] == [0]


def test_nothing_to_search_fails_the_action_with_a_clear_error(sqlite_db: Database) -> None:
    [result] = run_start_actions(Craigslist, sqlite_db, {}, fetchers=FETCHERS)
    assert not result.ok
    assert "nothing to search" in (result.error or "")
