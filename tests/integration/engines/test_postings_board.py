"""The postings board over real engine runs: Craigslist (real captured pages), a declarative
job board and the same board's job feed, each served by a local HTTP server, on every backend.

A job the board and its feed both list is one posting with both sources; statuses and their
history survive a re-run of every engine; a posting whose only source answers 404 when it is
re-checked is gone and keeps its status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.craigslist import EXTRACT_ACTION, Craigslist
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.rss import Rss
from haystack_collector.engines.sites import Sites
from haystack_collector.errors import ConfigError
from haystack_collector.extract.sites import builtin_sites
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import SqlQueue
from haystack_collector.store import ItemRecord
from haystack_collector.store.postings import (
    Posting,
    get_posting,
    list_postings,
    set_posting_status,
)
from haystack_collector.worker import Worker
from tests.integration.crawl.helpers import stored_data
from tests.integration.engines.cl_site import ClSite, real
from tests.integration.engines.cl_site import serve as serve_craigslist
from tests.integration.engines.sites_board import Board, Response
from tests.integration.engines.sites_board import serve as serve_board

FAST = FetchSettings(
    min_delay=0.0, jitter=0.0, per_host_concurrency=8, retry_initial=0.01, retry_maximum=0.02
)
FETCHERS = Fetchers(FAST)
PHOENIX_SEARCH = "craigslist_search/cl2025_phoenix_sof_jobs_staticresults.html"
MILWAUKEE_POSTING = "craigslist_posting/cl2026_milwaukee_apa_7936415355.html"
CL_FOUND, CL_MISSING = "7896115661", "7894083922"
# The board's own feed of its postings, as job boards publish them: "Company: Title", with the
# location and pay in the description. One job is only in the feed.
FEED_JOBS = [
    ("Hootsuite", "Python Developer", "Vancouver, BC", "$120k"),
    ("Clio", "Senior Python Engineer", "Burnaby, BC", "$150k"),
    ("Absolute", "Python Data Analyst", "Victoria, BC", "$80/h"),
    ("Stripe", "Go Developer", "Remote", "$170k"),
]
FEED_SETTINGS = {
    "source": "board-feed",
    "title_pattern": r"^(?P<company>[^:]+):\s*(?P<title>.+)$",
    "summary_pattern": r"Location:\s*(?P<location>[^|]+?)\s*\|\s*Pay:\s*(?P<compensation>.+)",
}


def job_feed(base: str) -> bytes:
    published = format_datetime(datetime(2026, 3, 6, 8, 0, tzinfo=UTC))
    entries = "".join(
        f"<item><title>{escape(company)}: {escape(title)}</title>"
        f"<link>{base}/feed-jobs/{n}</link><guid>{base}/feed-jobs/{n}</guid>"
        f"<pubDate>{published}</pubDate>"
        f"<description>Location: {escape(location)} | Pay: {escape(pay)}</description></item>"
        for n, (company, title, location, pay) in enumerate(FEED_JOBS)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Board jobs</title><link>{base}</link>{entries}</channel></rss>"
    ).encode()


@pytest.fixture
def craigslist() -> Iterator[tuple[ClSite, str]]:
    site = ClSite(
        searches={"/search/sof": real(PHOENIX_SEARCH)},
        postings={CL_FOUND: real(MILWAUKEE_POSTING)},
        statuses={CL_MISSING: 500},  # never extracted: not a posting yet
    )
    with serve_craigslist(site) as url:
        yield site, url


@pytest.fixture
def board() -> Iterator[tuple[Board, str]]:
    board = Board()
    with serve_board(board) as url:
        feed = job_feed(url)
        board.extra["/feeds/jobs.rss"] = lambda _path: Response(200, feed, "application/rss+xml")
        yield board, url


def site_definition(base: str, folder: Path) -> str:
    source = builtin_sites()["bctechnology"].source
    assert source is not None
    text = Path(source).read_text(encoding="utf-8")
    path = folder / "bctechnology.yaml"
    path.write_text(text.replace("https://www.bctechnology.com", base), encoding="utf-8")
    return str(path)


def run_engines(db: Database, *, cl_base: str, board_base: str, site: str) -> None:
    """Every engine's start actions, then a worker until no work is left."""
    runs: list[tuple[Any, dict[str, Any]]] = [
        (
            Craigslist,
            {"city": "phoenix", "category": "sof", "query": "python", "base_url": cl_base},
        ),
        (Sites, {"site": site, "keywords": ["python"]}),
        (Rss, {"feeds": [f"{board_base}/feeds/jobs.rss"], "postings": FEED_SETTINGS}),
    ]
    for engine, settings in runs:
        for result in run_start_actions(engine, db, settings, fetchers=FETCHERS):
            assert result.ok, result.error
    drain(db)


def drain(db: Database) -> None:
    worker = Worker(
        db,
        SqlQueue(db),
        [Craigslist, Sites, Rss],
        concurrency=4,
        drain=True,
        idle_sleep=0.05,
        finish_flush=0.05,
        fetchers=FETCHERS,
    )
    stats = asyncio.run(asyncio.wait_for(worker.run(), 60))
    assert stats.failed == 0


def board_postings(db: Database) -> dict[str | None, Posting]:
    postings = db.run_read(list_postings, limit=100).postings
    return {posting.title: posting for posting in postings}


def test_the_board_lists_every_source_once_and_keeps_statuses_across_runs(
    db: Database,
    craigslist: tuple[ClSite, str],
    board: tuple[Board, str],
    tmp_path: Path,
) -> None:
    cl_site, cl_base = craigslist
    _, board_base = board
    site = site_definition(board_base, tmp_path)

    run_engines(db, cl_base=cl_base, board_base=board_base, site=site)

    postings = board_postings(db)
    assert set(postings) == {
        "Python Developer",
        "Senior Python Engineer",
        "Python Data Analyst",
        "Go Developer",
        "Wauwatosa 2 Bdrm, 1 Bath Near MCW",  # the Craigslist posting's own title
    }
    # Found by the board's form search and by its feed: one posting, both sources.
    python = postings["Python Developer"]
    assert sorted(python.sources) == ["bctechnology", "board-feed"]
    assert len(python.items) == 2
    assert python.company == "Hootsuite"
    assert python.compensation == "$120k"
    assert postings["Go Developer"].sources == ["board-feed"]
    assert postings["Wauwatosa 2 Bdrm, 1 Bath Near MCW"].sources == ["craigslist"]
    # The board's detail page of this job answers 404; the feed still lists it.
    analyst = postings["Python Data Analyst"]
    assert sorted(s.state for s in analyst.items) == ["fetched", "gone"]
    assert not analyst.gone
    assert all(p.status == "new" for p in postings.values())

    cl_fingerprint = postings["Wauwatosa 2 Bdrm, 1 Bath Near MCW"].fingerprint
    for fingerprint, status, note in [
        (python.fingerprint, "seen", None),
        (python.fingerprint, "applied", "cover letter sent"),
        (postings["Go Developer"].fingerprint, "archived", None),
        (cl_fingerprint, "seen", None),
    ]:
        db.run(set_posting_status, fingerprint=fingerprint, status=status, note=note, by="t")

    # Every engine runs again: the items are stored again; the statuses stay.
    run_engines(db, cl_base=cl_base, board_base=board_base, site=site)
    again = board_postings(db)
    assert set(again) == set(postings)
    assert {title: p.status for title, p in again.items()} == {
        "Python Developer": "applied",
        "Senior Python Engineer": "new",
        "Python Data Analyst": "new",
        "Go Developer": "archived",
        "Wauwatosa 2 Bdrm, 1 Bath Near MCW": "seen",
    }
    history = db.run_read(get_posting, fingerprint=python.fingerprint).history
    assert [(h.status, h.note) for h in history] == [
        ("seen", None),
        ("applied", "cover letter sent"),
    ]

    # The Craigslist posting is re-checked and has been removed: gone, still "seen".
    cl_site.statuses[CL_FOUND] = 404
    engine = Craigslist.register(db)
    posting_item = again["Wauwatosa 2 Bdrm, 1 Bath Near MCW"].items[0].item_id
    SqlQueue(db).enqueue(
        engine_id=engine.engine_id,
        action_id=engine.action_ids[EXTRACT_ACTION],
        item_ids=[posting_item],
        reopen=True,
    )
    drain(db)
    gone = board_postings(db)["Wauwatosa 2 Bdrm, 1 Bath Near MCW"]
    assert gone.gone
    assert gone.gone_at is not None
    assert gone.status == "seen"
    assert gone.fingerprint == cl_fingerprint


def test_a_bad_job_feed_pattern_is_a_clear_settings_error(sqlite_db: Database) -> None:
    settings = {
        "feeds": ["https://jobs.test/feed.rss"],
        "postings": {"source": "x", "title_pattern": r"(?P<salary>\d+)"},
    }
    with pytest.raises(ConfigError, match=r"postings\.title_pattern: .*must be posting fields"):
        Rss.validate_settings(settings)


def test_feeds_without_the_postings_setting_store_no_postings(
    sqlite_db: Database, board: tuple[Board, str]
) -> None:
    _, base = board
    feed = [f"{base}/feeds/jobs.rss"]
    for result in run_start_actions(Rss, sqlite_db, {"feeds": feed}, fetchers=FETCHERS):
        assert result.ok, result.error
    drain(sqlite_db)
    assert sqlite_db.run_read(list_postings).postings == []

    # As if the server had given validators: a conditional GET would now answer 304.
    engine_id = Rss.register(sqlite_db).engine_id
    sqlite_db.run(
        store.store_items,
        engine_id=engine_id,
        records=[ItemRecord(uri=feed[0], data={"ETag": '"v1"'})],
    )
    # Made a posting feed later: it is fetched in full again, and its entries become postings.
    settings = {"feeds": feed, "postings": FEED_SETTINGS}
    for result in run_start_actions(Rss, sqlite_db, settings, fetchers=FETCHERS):
        assert result.ok, result.error
    assert "ETag" not in stored_data(sqlite_db)[feed[0]]
    assert stored_data(sqlite_db)[feed[0]]["PostingFeed"] == [
        FEED_SETTINGS | {"company_from_author": True}
    ]
    drain(sqlite_db)
    titles = {p.title for p in sqlite_db.run_read(list_postings).postings}
    assert titles == {title for _, title, _, _ in FEED_JOBS}
