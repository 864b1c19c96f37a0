"""Re-checking postings on every backend: Craigslist's real captures (deleted, expired by
404/410, changed, unchanged, the board down) and a declarative site whose detail page shows
the board's "expired" notice (``detail.gone``), re-checked by a per-site policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.craigslist import RECHECK_ACTION, Craigslist
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.sites import Sites
from tests.integration.crawl.helpers import stored_data
from tests.integration.engines.cl_site import ClSite, real
from tests.integration.engines.cl_site import serve as serve_cl
from tests.integration.revisit.helpers import (
    FAST,
    age,
    drain,
    event_of,
    fire,
    item_ids,
    set_policy,
    state,
    version,
    visits,
)
from tests.integration.revisit.site import Page, Site, serve

MILWAUKEE_SEARCH = "craigslist_search/cl2026_milwaukee_apa_wauwatosa_staticresults.html"
MILWAUKEE_POSTING = "craigslist_posting/cl2026_milwaukee_apa_7936415355.html"
DELETED = "craigslist_posting/cl_deleted_by_author.html"
OTHER_POSTING = "craigslist_posting/cl2023_posting_no_price.html"
# Postings of the search that answer the default (other) posting at first.
SAME, CHANGES, DELETES, EXPIRES, BREAKS = (
    "7936415355",
    "7936415958",
    "7936415882",
    "7936415660",
    "7931044401",
)


@pytest.fixture
def cl_site() -> ClSite:
    return ClSite(
        searches={"/search/apa": real(MILWAUKEE_SEARCH)},
        postings={SAME: real(MILWAUKEE_POSTING)},
        default_posting=real(OTHER_POSTING),
    )


@pytest.fixture
def cl_base(cl_site: ClSite) -> Iterator[str]:
    with serve_cl(cl_site) as url:
        yield url


def posting(post_id: str) -> str:
    return f"craigslist:posting/{post_id}"


def test_a_posting_re_check_finds_it_unchanged_changed_deleted_expired_or_unanswered(
    db: Database, cl_site: ClSite, cl_base: str
) -> None:
    settings = {"city": "milwaukee", "category": "apa", "query": "wauwatosa", "base_url": cl_base}
    [searched] = run_start_actions(Craigslist, db, settings, fetchers=Fetchers(FAST))
    assert searched.ok, searched.error
    drain(db, [Craigslist])
    chosen = [SAME, CHANGES, DELETES, EXPIRES, BREAKS]
    ids = dict(zip(chosen, item_ids(db, *(posting(p) for p in chosen)), strict=True))
    assert {state(db, item) for item in ids.values()} == {"fetched"}
    age(db, Craigslist, list(ids.values()), days=2)
    set_policy(db, Craigslist, older_than=86400)
    versions = {post: version(db, item) for post, item in ids.items()}
    cl_site.postings[CHANGES] = real(MILWAUKEE_POSTING)
    cl_site.postings[DELETES] = real(DELETED)
    cl_site.statuses[EXPIRES] = 410
    cl_site.statuses[BREAKS] = 503

    assert fire(db, "revisit:craigslist") == 5  # only the aged ones, of 37
    drain(db, [Craigslist])

    assert visits(db, ids[SAME]) == [("unchanged", 200)]
    assert version(db, ids[SAME]) == versions[SAME]  # the store saw no change either
    assert visits(db, ids[CHANGES]) == [("changed", 200)]
    assert version(db, ids[CHANGES]) == versions[CHANGES] + 1
    assert visits(db, ids[DELETES]) == [("gone", 200)]  # the board's own "deleted" notice
    assert (state(db, ids[DELETES]), stored_data(db)[posting(DELETES)]["Status"]) == (
        "gone",
        ["deleted"],
    )
    assert visits(db, ids[EXPIRES]) == [("gone", 410)]
    assert stored_data(db)[posting(EXPIRES)]["Status"] == ["expired"]
    # No answer: no visit, the posting as it was, its re-check retried later.
    assert visits(db, ids[BREAKS]) == []
    assert state(db, ids[BREAKS]) == "fetched"
    assert "Error" not in stored_data(db)[posting(BREAKS)] or stored_data(db)[posting(BREAKS)][
        "Error"
    ] == [None]
    assert event_of(db, Craigslist, RECHECK_ACTION, ids[BREAKS]).state == "pending"


# --- a declarative site -------------------------------------------------------------------

DEFINITION = """
name: revisitboard
start_urls:
  - {base}/jobs
listing:
  selector: li.job
  fields:
    title: a
    url: {{css: a, attr: href, type: url}}
detail:
  fields:
    company: p.company
  gone: p.expired
job:
  title: title
  company: company
"""


def job_page(company: str, *, expired: bool = False) -> str:
    notice = "<p class='expired'>This job has expired.</p>" if expired else ""
    return f"<html><body><h1>Job</h1><p class='company'>{company}</p>{notice}</body></html>"


@pytest.fixture
def board() -> Site:
    site = Site()
    site.pages["/jobs"] = Page(
        "<html><body><ul>"
        + "".join(f"<li class='job'><a href='/job/{n}'>Job {n}</a></li>" for n in (1, 2, 3))
        + "</ul></body></html>"
    )
    for n in (1, 2, 3):
        site.pages[f"/job/{n}"] = Page(job_page(f"Company {n}"), etag=False)
    return site


@pytest.fixture
def board_base(board: Site) -> Iterator[str]:
    with serve(board) as url:
        yield url


def test_a_site_policy_re_checks_its_listings_and_reads_the_expired_notice(
    db: Database, board: Site, board_base: str, tmp_path: Path
) -> None:
    definition = tmp_path / "revisitboard.yaml"
    definition.write_text(DEFINITION.format(base=board_base), encoding="utf-8")
    settings: dict[str, Any] = {"site": str(definition)}
    [searched] = run_start_actions(Sites, db, settings, fetchers=Fetchers(FAST))
    assert searched.ok, searched.error
    drain(db, [Sites])
    listings = item_ids(db, *(f"{board_base}/job/{n}" for n in (1, 2, 3)))
    assert stored_data(db)[f"{board_base}/job/1"]["company"] == ["Company 1"]
    age(db, Sites, listings, days=2)
    name = set_policy(db, Sites, site="revisitboard", older_than=86400)
    assert name == "revisit:sites:revisitboard"
    board.pages["/job/1"] = Page(job_page("Company 1", expired=True), etag=False)
    board.pages["/job/2"] = Page(job_page("Company Two"), etag=False)

    assert fire(db, name) == 3
    drain(db, [Sites])

    assert visits(db, listings[0]) == [("gone", 200)]
    assert state(db, listings[0]) == "gone"
    assert stored_data(db)[f"{board_base}/job/1"]["company"] == ["Company 1"]  # kept
    assert visits(db, listings[1]) == [("changed", 200)]
    assert stored_data(db)[f"{board_base}/job/2"]["company"] == ["Company Two"]
    assert visits(db, listings[2]) == [("unchanged", 200)]


def test_a_site_policy_leaves_other_sites_listings_alone(
    db: Database, board: Site, board_base: str, tmp_path: Path
) -> None:
    definition = tmp_path / "revisitboard.yaml"
    definition.write_text(DEFINITION.format(base=board_base), encoding="utf-8")
    [searched] = run_start_actions(Sites, db, {"site": str(definition)}, fetchers=Fetchers(FAST))
    assert searched.ok
    drain(db, [Sites])
    listings = item_ids(db, *(f"{board_base}/job/{n}" for n in (1, 2, 3)))
    age(db, Sites, listings, days=2)

    name = set_policy(db, Sites, site="someotherboard", older_than=86400)
    assert fire(db, name) == 0
    assert db.run_read(store.event_counts, engine_id=Sites.register(db).engine_id)["pending"] == 0
