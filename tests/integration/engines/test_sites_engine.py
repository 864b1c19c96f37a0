"""The ``sites`` engine through the worker, against real HTTP servers on every backend."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_data, item_events, item_links, items
from haystack_collector.engines.base import ActionResult, run_item_action, run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.sites import Sites
from haystack_collector.extract.sites import builtin_sites
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import MemoryQueue, SqlQueue
from haystack_collector.worker import Worker, WorkerStats
from tests.integration.crawl.helpers import link_edges, stored_data
from tests.integration.engines.sites_board import (
    MISSING_DETAIL,
    POSTINGS,
    TOKEN,
    Board,
    realpython_routes,
    serve,
)

FAST = FetchSettings(
    min_delay=0.0, jitter=0.0, per_host_concurrency=8, retry_initial=0.01, retry_maximum=0.02
)
# What the engine fetches with: the runtime's fetchers, as a worker hands them down.
FETCHERS = Fetchers(FAST)
REAL_HOSTS = {
    "bctechnology": "https://www.bctechnology.com",
    "realpython": "https://realpython.github.io",
}


@pytest.fixture
def board() -> Board:
    return Board()


@pytest.fixture
def base(board: Board) -> Iterator[str]:
    with serve(board) as url:
        realpython_routes(board, lambda: url)
        yield url


def local_site(name: str, base: str, folder: Path) -> str:
    """The shipped definition ``name`` pointed at the local server, as a file of its own."""
    source = builtin_sites()[name].source
    assert source is not None
    text = Path(source).read_text(encoding="utf-8").replace(REAL_HOSTS[name], base)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def search(db: Database, **settings: Any) -> ActionResult:
    [result] = run_start_actions(Sites, db, settings, fetchers=FETCHERS)
    assert result.ok, result.error
    return result


def drain(db: Database) -> WorkerStats:
    worker = Worker(
        db,
        SqlQueue(db),
        [Sites],
        concurrency=4,
        drain=True,
        idle_sleep=0.05,
        finish_flush=0.05,
        fetchers=FETCHERS,
    )
    stats = asyncio.run(asyncio.wait_for(worker.run(), 60))
    failures = [message for message in statuses(db) if " failed in " in message]
    assert stats.failed == 0, failures
    return stats


def counts(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
            for table in (items, item_data, item_links, item_events)
        }


def statuses(db: Database) -> list[str]:
    engine_id = Sites.register(db).engine_id
    return [row.message for row in db.run_read(store.recent_status, engine_id=engine_id)]


def test_a_form_search_submits_the_keyword_stores_listings_and_fetches_details(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    site = local_site("bctechnology", base, tmp_path)
    result = search(db, site=site, keywords=["python"])

    # The real form was read and submitted: its hidden token, defaults and submit button.
    assert board.requests["GET /jobs/search.cfm"] == 1
    assert board.forms == [
        {"token": [TOKEN], "keywords": ["python"], "region": ["all"], "go": ["Search"]}
    ]
    assert board.requests["GET /jobs/results.cfm?keywords=python&page=2"] == 1
    assert (result.items_stored, result.events_enqueued) == (2 + 3, 3)

    stats = drain(db)
    assert stats.finished == 3
    data = stored_data(db)
    python_jobs = [p for p in POSTINGS if "python" in p.title.lower()]
    for posting in python_jobs:
        uri = f"{base}/jobs/job.cfm?id={posting.job_id}"
        assert board.requests[f"GET /jobs/job.cfm?id={posting.job_id}"] == 1
        job = data[uri]
        assert job["title"] == [posting.title]
        assert job["company"] == [posting.company]
        assert job["posted"] == [date(2026, 3, int(posting.posted.split()[1].rstrip(",")))]
        assert job["Site"] == ["bctechnology"]
        assert job["SiteFile"] == [site]
        assert job["JobTitle"] == [posting.title]
        assert job["JobCompany"] == [posting.company]
        assert job["JobLocation"] == [posting.location]
        assert job["JobSource"] == ["bctechnology"]
        # The listing's posting date survives the detail page, which does not show it.
        assert job["JobPosted"] == job["posted"]
        if posting.job_id == MISSING_DETAIL:
            assert job["Error"] == ["HTTP 404"]
            assert job["StatusCode"] == [404]
            assert job["JobEmploymentType"] == [None]
        else:
            assert job["Error"] == [None]
            assert job["JobEmploymentType"] == [posting.employment_type]
            assert job["JobCompensation"] == [posting.salary]
            assert job["description"] == [f"Build things at {posting.company}."]

    # A POST's page is told apart by what it searched for, not by the form's session token.
    first_page = f"{base}/jobs/results.cfm#post:keywords=python"
    second_page = f"{base}/jobs/results.cfm?keywords=python&page=2"
    assert data[first_page]["SiteKeyword"] == ["python"]
    assert data[first_page]["SiteListings"] == [2]
    assert data[second_page]["SiteListings"] == [1]
    edges = link_edges(db)
    assert {right for left, right in edges if left == first_page} == {
        f"{base}/jobs/job.cfm?id=1",
        f"{base}/jobs/job.cfm?id=2",
    }
    assert {right for left, right in edges if left == second_page} == {f"{base}/jobs/job.cfm?id=3"}
    assert not any("site changed" in message for message in statuses(db))
    assert "site 'bctechnology' for 'python': 2 page(s), 3 listing(s)" in statuses(db)[0]


def test_running_a_search_again_duplicates_nothing_and_fetches_no_detail_twice(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    site = local_site("bctechnology", base, tmp_path)
    search(db, site=site, keywords=["python"])
    drain(db)
    before, fetched = counts(db), dict(board.requests)
    detailed = stored_data(db)

    again = search(db, site=site, keywords=["python"])
    assert again.events_enqueued == 0
    assert drain(db).finished == 0
    after = counts(db)
    assert {k: after[k] for k in ("Items", "ItemLinks", "ItemEvents")} == {
        k: before[k] for k in ("Items", "ItemLinks", "ItemEvents")
    }
    assert after["ItemData"] == before["ItemData"]
    details = {path: n for path, n in board.requests.items() if "job.cfm" in path}
    assert details == {path: n for path, n in fetched.items() if "job.cfm" in path}
    # What the detail pages added is kept when the listing is stored again.
    now = stored_data(db)
    for posting in POSTINGS[:2]:
        uri = f"{base}/jobs/job.cfm?id={posting.job_id}"
        for key in ("salary", "description", "JobEmploymentType", "JobCompensation", "JobPosted"):
            assert now[uri][key] == detailed[uri][key], key


def test_a_keyword_without_results_is_not_a_warning(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    site = local_site("bctechnology", base, tmp_path)
    result = search(db, site=site, keywords=["cobol"])
    assert result.events_enqueued == 0
    assert board.forms[0]["keywords"] == ["cobol"]
    assert not any("site changed" in message for message in statuses(db))


def test_a_changed_results_page_is_a_warning_status_and_log(
    db: Database, board: Board, base: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    board.changed = True
    site = local_site("bctechnology", base, tmp_path)
    with caplog.at_level(logging.WARNING, logger="haystack.engines.sites"):
        result = search(db, site=site, keywords=["python"])
    assert result.events_enqueued == 0
    changed = [message for message in statuses(db) if message.startswith("site changed")]
    assert changed == [
        f"site changed: 'bctechnology' at {base}/jobs/results.cfm: the listing selector"
        " css 'table.job-results tr.job' matched nothing"
    ]
    assert changed[0] in caplog.text


def test_a_changed_detail_page_is_a_warning_and_keeps_the_listing(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    search(db, site=local_site("bctechnology", base, tmp_path), keywords=["django"])
    board.changed_detail = True
    assert drain(db).finished == 1
    job = stored_data(db)[f"{base}/jobs/job.cfm?id=4"]
    assert (job["StatusCode"], job["Error"]) == ([200], [None])
    assert (job["title"], job["JobTitle"]) == (["Django Developer"], ["Django Developer"])
    assert "salary" not in job
    changed = [message for message in statuses(db) if message.startswith("site changed")]
    assert changed == [
        f"site changed: 'bctechnology' at {base}/jobs/job.cfm?id=4:"
        " no detail field matched anything on the page"
    ]


def test_a_form_search_without_keywords_submits_the_defaults_up_to_max_pages(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    result = search(db, site=local_site("bctechnology", base, tmp_path), max_pages=2)
    assert board.forms == [
        {"token": [TOKEN], "keywords": [""], "region": ["all"], "go": ["Search"]}
    ]
    assert board.requests["GET /jobs/results.cfm?keywords=&page=2"] == 1
    assert board.requests["GET /jobs/results.cfm?keywords=&page=3"] == 0  # the third of three
    assert result.events_enqueued == 4


def test_a_search_page_without_the_form_is_a_warning(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    path = Path(local_site("bctechnology", base, tmp_path))
    path.write_text(path.read_text().replace("form#job-search", "form#jobs"), encoding="utf-8")
    result = search(db, site=str(path), keywords=["python", "django"])
    assert result.items_stored == 0
    assert board.forms == []
    changed = [message for message in statuses(db) if message.startswith("site changed")]
    assert changed == [
        f"site changed: 'bctechnology' at {base}/jobs/search.cfm:"
        " the search form (css 'form#jobs') is not on the page"
    ]


def test_an_unreachable_search_page_fails_the_run_and_stores_the_error(
    db: Database, base: str, tmp_path: Path
) -> None:
    path = Path(local_site("bctechnology", base, tmp_path))
    path.write_text(path.read_text().replace("search.cfm", "gone.cfm"), encoding="utf-8")
    [result] = run_start_actions(
        Sites, db, {"site": str(path), "keywords": ["python"]}, fetchers=FETCHERS
    )
    assert not result.ok
    assert result.error == (
        f"NetworkError: site 'bctechnology': the search form page {base}/jobs/gone.cfm: HTTP 404"
    )
    assert stored_data(db)[f"{base}/jobs/gone.cfm"]["Error"] == ["HTTP 404"]


def test_real_python_listing_and_detail_pages(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    # The user's own folder of definitions holds the local copy, found by name.
    local_site("realpython", base, tmp_path)
    result = search(db, site="realpython", folder=str(tmp_path))
    assert result.events_enqueued == 100  # MANIFEST.md: job_count 100, one Apply link each
    assert drain(db).finished == 100

    data = stored_data(db)
    first = data[f"{base}/fake-jobs/jobs/senior-python-developer-0.html"]
    assert first["title"] == ["Senior Python Developer"]
    assert first["company"] == ["Payne, Roberts and Davis"]
    assert first["location"] == ["Stewartbury, AA"]
    assert first["posted"] == [date(2021, 4, 8)]
    assert first["description"][0].startswith(
        "Professional asset web application environmentally friendly detail-oriented asset."
    )
    assert first["JobTitle"] == ["Senior Python Developer"]
    assert first["JobSource"] == ["realpython"]
    assert data[f"{base}/fake-jobs/"]["SiteListings"] == [100]
    assert len({right for left, right in link_edges(db) if left == f"{base}/fake-jobs/"}) == 100
    assert sum(n for path, n in board.requests.items() if "/fake-jobs/jobs/" in path) == 100


BY_URL_TOML = """
name = "by-url"
start_urls = ["{base}/jobs/results.cfm?keywords={keyword}"]
[listing]
selector = "tr.job"
empty = ".no-results"
next_page = "a.next"
[listing.fields]
title = "td.title"
company = "td.company"
url = { css = "td.title a", attr = "href", type = "url" }
[detail.fields]
salary = ".salary"
[job]
title = "title"
company = "company"
compensation = "salary"
"""


def test_a_keyword_in_a_start_url_is_searched_with_get(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    path = tmp_path / "by-url.toml"  # the board's results pages, searched by URL, as TOML
    path.write_text(BY_URL_TOML.replace("{base}", base), encoding="utf-8")

    result = search(db, site=str(path), keywords=["python data", "rust"])
    assert board.requests["GET /jobs/results.cfm?keywords=python+data"] == 1
    assert board.requests["GET /jobs/results.cfm?keywords=rust"] == 1
    assert board.forms == []
    assert result.events_enqueued == 2  # "Python Data Analyst" and "Rust Developer"
    drain(db)
    rust = stored_data(db)[f"{base}/jobs/job.cfm?id=5"]
    assert (rust["title"], rust["salary"]) == (["Rust Developer"], ["$140k"])
    assert (rust["JobCompensation"], rust["JobSource"]) == (["$140k"], ["by-url"])
    assert stored_data(db)[f"{base}/jobs/results.cfm?keywords=rust"]["SiteKeyword"] == ["rust"]


def test_a_results_page_that_cannot_be_fetched_stores_the_error(
    db: Database, base: str, tmp_path: Path
) -> None:
    path = tmp_path / "gone.toml"
    path.write_text(
        BY_URL_TOML.replace("{base}", base).replace("results.cfm", "moved.cfm"), encoding="utf-8"
    )
    result = search(db, site=str(path), keywords=["python"])
    assert (result.items_stored, result.events_enqueued) == (1, 0)
    page = stored_data(db)[f"{base}/jobs/moved.cfm?keywords=python"]
    assert (page["Error"], page["StatusCode"], page["Site"]) == (["HTTP 404"], [404], ["by-url"])


def test_settings_that_name_no_usable_site_fail_the_run_clearly(db: Database) -> None:
    [missing] = run_start_actions(Sites, db, {}, fetchers=FETCHERS)
    assert missing.error == "ConfigError: no site given: name a shipped site or a definition file"
    [unknown] = run_start_actions(Sites, db, {"site": "monster"}, fetchers=FETCHERS)
    assert unknown.error == (
        "ConfigError: no site definition named 'monster';"
        " shipped: bctechnology, indeed, jssite-search, realpython, weworkremotely"
    )
    [no_keywords] = run_start_actions(Sites, db, {"site": "indeed"}, fetchers=FETCHERS)
    assert no_keywords.error == "ConfigError: site 'indeed' searches by keyword: give keywords"
    [bad_file] = run_start_actions(Sites, db, {"site": "/nowhere/board.yaml"}, fetchers=FETCHERS)
    assert bad_file.error is not None
    assert bad_file.error.startswith("SiteDefinitionError: site definition /nowhere/board.yaml")
    assert all("failed" in message for message in statuses(db))


def test_the_memory_queue_runs_the_engine_its_events_never_touching_the_database(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    site = local_site("bctechnology", base, tmp_path)
    queue = MemoryQueue(db=db)  # items in the database, events in the double
    [result] = run_start_actions(Sites, db, {"site": site, "keywords": ["python"]}, queue=queue)
    assert result.ok, result.error
    assert result.events_enqueued == 3
    assert counts(db)["ItemEvents"] == 0  # ctx.enqueue went through the queue

    jobs = queue.claim(owner="test", limit=10)
    assert sorted(job.uri for job in jobs) == [f"{base}/jobs/job.cfm?id={n}" for n in (1, 2, 3)]
    for job in jobs:
        done = run_item_action(Sites, db, job, queue=queue)
        assert done.ok, done.error
        assert done.event_done  # finished by the action, with its data, through the double
        assert queue.finish(job) == 0  # so nothing is left for the worker to finish
    assert queue.claim(owner="test") == []
    assert counts(db)["ItemEvents"] == 0
    data = stored_data(db)
    for posting in (p for p in POSTINGS if "python" in p.title.lower()):
        assert data[f"{base}/jobs/job.cfm?id={posting.job_id}"]["JobTitle"] == [posting.title]


def test_a_worker_on_the_memory_queue_drains_the_engine(
    db: Database, board: Board, base: str, tmp_path: Path
) -> None:
    site = local_site("bctechnology", base, tmp_path)
    queue = MemoryQueue(db=db)
    [result] = run_start_actions(Sites, db, {"site": site, "keywords": ["python"]}, queue=queue)
    assert result.events_enqueued == 3
    worker = Worker(
        db, queue, [Sites], concurrency=2, drain=True, idle_sleep=0.05, finish_flush=0.05
    )
    stats = asyncio.run(asyncio.wait_for(worker.run(), 60))
    assert (stats.finished, stats.failed) == (3, 0)
    assert queue.claim(owner="test") == []
    assert counts(db)["ItemEvents"] == 0
    assert sum(1 for uri in stored_data(db) if "/jobs/job.cfm?id=" in uri) == 3
