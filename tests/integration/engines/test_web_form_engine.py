"""The ``seleniumwebform`` engine in real Chromium against the local JavaScript site, on every
backend: every result across the pages of both pagination kinds, each form input applied, the
timeout of the form wait, and the snapshots of each results page."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import ActionResult, run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.registry import get_engine
from haystack_collector.engines.sites import Sites
from haystack_collector.engines.web_form import WebForm, search_uri
from haystack_collector.extract.sites import builtin_sites
from haystack_collector.fetch import FetchSettings
from haystack_collector.origin import API, origin_scope
from haystack_collector.store.snapshots import item_snapshots
from tests.integration.crawl.helpers import link_edges, stored_data
from tests.jssite import PAGE_SIZE, JobRow, JsSite, expected

pytestmark = pytest.mark.timeout(180)

FAST = FetchSettings(
    min_delay=0.0, jitter=0.0, per_host_concurrency=8, retry_initial=0.01, retry_maximum=0.02
)
SHIPPED = "jssite-search"


def run(db: Database, **settings: Any) -> ActionResult:
    # Fetchers of their own per run: the browser they own closes with the action's loop.
    [result] = run_start_actions(WebForm, db, settings, fetchers=Fetchers(FAST))
    return result


def definition(folder: Path, **changes: Any) -> str:
    """The shipped example as a file of its own, with ``form`` keys (and others) changed."""
    source = builtin_sites()[SHIPPED].source
    assert source is not None
    raw = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    raw["name"] = "jssite-copy"
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            raw[section][name] = value
        else:
            raw[section] = value
    path = folder / "jssite-copy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return str(path)


def listings(db: Database, jssite: JsSite) -> dict[str, dict[str, list[Any]]]:
    prefix = jssite.url + "/job/"
    return {uri: data for uri, data in stored_data(db).items() if uri.startswith(prefix)}


def uris(jssite: JsSite, jobs: list[JobRow]) -> set[str]:
    return {f"{jssite.url}/job/{job.n}" for job in jobs}


def test_the_engine_keeps_the_original_name_and_action() -> None:
    assert get_engine("seleniumwebform") is WebForm
    assert [spec.name for spec in WebForm.start_actions()] == ["search"]


def test_the_shipped_example_collects_every_result_over_its_next_pages(
    db: Database, jssite: JsSite
) -> None:
    result = run(db, site=SHIPPED, keywords=["python"], base_url=jssite.url)
    assert result.ok, result.error

    # The example's fields: q=python, category=engineering, remote off, since 2024-01-01.
    wanted = expected("python", "engineering", remote=False, since="2024-01-01")
    assert len(wanted) == 30
    found = listings(db, jssite)
    assert set(found) == uris(jssite, wanted)
    # Three pages of ten, each one POST to the search API, each a page item holding its ten.
    assert len(jssite.asked("/api/search")) == 3
    values = {"q": "python", "category": "engineering", "remote": False}
    values["since"] = date(2024, 1, 1)  # type: ignore[assignment]
    page_uris = [search_uri(f"{jssite.url}/search", values, n) for n in (1, 2, 3)]
    data = stored_data(db)
    assert [data[uri]["SiteListings"] for uri in page_uris] == [[10], [10], [10]]
    assert [data[uri]["SitePage"] for uri in page_uris] == [[1], [2], [3]]
    edges = link_edges(db)
    for number, uri in enumerate(page_uris):
        chunk = wanted[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]
        assert {right for left, right in edges if left == uri} == uris(jssite, chunk)
    # The fields and the job fields, salary included where the site shows one.
    job = next(job for job in wanted if job.salary)
    stored = found[f"{jssite.url}/job/{job.n}"]
    assert stored["title"] == [job.title]
    assert stored["JobTitle"] == [job.title]
    assert stored["JobCompany"] == [job.company]
    assert stored["JobLocation"] == ["Vancouver" if not job.remote else "Remote"]
    assert stored["JobPosted"] == [date.fromisoformat(job.posted)]
    assert stored["JobCompensation"] == [job.salary]
    assert stored["Site"] == [SHIPPED]


def test_every_input_is_applied_and_load_more_collects_every_result(
    db: Database, jssite: JsSite, tmp_path: Path
) -> None:
    copy = definition(
        tmp_path,
        form__page="/search?more=1",
        form__pagination={"load_more": "button.load-more", "max_pages": 10},
    )
    fields = {"category": "all", "remote": True, "since": "2024-01-10"}
    result = run(db, site=copy, keywords=["developer"], base_url=jssite.url, fields=fields)
    assert result.ok, result.error

    wanted = expected("developer", "all", remote=True, since="2024-01-10")
    assert len(wanted) == 17  # two "load more" clicks after the first ten
    assert set(listings(db, jssite)) == uris(jssite, wanted)
    assert len(jssite.asked("/api/search")) == 2
    # Each input narrowed the search: leaving any one out would find other jobs.
    for looser in (
        expected("", "all", remote=True, since="2024-01-10"),
        expected("developer", "engineering", remote=True, since="2024-01-10"),
        expected("developer", "all", remote=False, since="2024-01-10"),
        expected("developer", "all", remote=True, since=""),
    ):
        assert uris(jssite, looser) != uris(jssite, wanted)
    # load more shows one growing list: one page item holding all of it.
    [page] = [data for uri, data in stored_data(db).items() if "#form:" in uri]
    assert page["SiteListings"] == [17]
    assert page["SitePage"] == [2]


def test_settings_fields_replace_the_definitions_and_a_narrow_search_is_one_page(
    db: Database, jssite: JsSite
) -> None:
    fields = {"remote": True, "since": "2024-02-01"}
    result = run(db, site=SHIPPED, keywords=["python"], base_url=jssite.url, fields=fields)
    assert result.ok, result.error
    wanted = expected("python", "engineering", remote=True, since="2024-02-01")
    assert 0 < len(wanted) < PAGE_SIZE
    assert set(listings(db, jssite)) == uris(jssite, wanted)
    assert len(jssite.asked("/api/search")) == 1  # no next link: one page


def test_max_pages_stops_the_pages(db: Database, jssite: JsSite) -> None:
    result = run(db, site=SHIPPED, keywords=["python"], base_url=jssite.url, max_pages=2)
    assert result.ok, result.error
    wanted = expected("python", "engineering", since="2024-01-01")[: 2 * PAGE_SIZE]
    assert set(listings(db, jssite)) == uris(jssite, wanted)


def test_results_that_never_show_time_out_and_the_page_says_so(
    db: Database, jssite: JsSite, tmp_path: Path
) -> None:
    copy = definition(tmp_path, form__wait={"selector": "div.never-there", "timeout": 1})
    result = run(db, site=copy, keywords=["python"], base_url=jssite.url)

    assert not result.ok
    assert result.error is not None
    assert "waited 1s for results after submitting the form" in result.error
    assert "css 'div.never-there'" in result.error
    # The form was submitted (the search was asked for) and nothing was stored as listings.
    assert len(jssite.asked("/api/search")) == 1
    assert listings(db, jssite) == {}
    [(uri, page)] = [(u, d) for u, d in stored_data(db).items() if "#form:" in u]
    assert uri.endswith("page=1")
    assert "waited 1s" in page["Error"][0]
    engine_id = WebForm.register(db).engine_id
    messages = [row.message for row in db.run_read(store.recent_status, engine_id=engine_id)]
    assert any("waited 1s for results" in message for message in messages)


def test_a_field_the_page_lacks_is_a_changed_site(
    db: Database, jssite: JsSite, tmp_path: Path
) -> None:
    copy = definition(tmp_path, form__fields={"q": "{keyword}", "country": "CA"})
    result = run(db, site=copy, keywords=["python"], base_url=jssite.url)
    assert not result.ok
    assert "the form has no field 'country'" in (result.error or "")
    assert jssite.asked("/api/search") == []  # nothing was submitted


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "searches by keyword: give keywords"),
        ({"keywords": ["x"], "fields": {"colour": "red"}}, "fields ['colour'] are not fields"),
        ({"keywords": ["x"], "site": "realpython"}, "has no 'form:' block"),
        ({"keywords": ["x"], "base_url": "ftp://x"}, "base_url: Value error, not an http(s)"),
    ],
)
def test_bad_settings_fail_the_run_before_any_page_opens(
    db: Database, jssite: JsSite, settings: dict[str, Any], problem: str
) -> None:
    result = run(db, **({"site": SHIPPED, "base_url": jssite.url} | settings))
    assert not result.ok
    assert problem in (result.error or "")
    assert jssite.hits == []


def test_the_sites_engine_sends_a_browser_form_to_this_engine(db: Database) -> None:
    [result] = run_start_actions(Sites, db, {"site": SHIPPED, "keywords": ["x"]})
    assert not result.ok
    assert "run it with the seleniumwebform engine" in (result.error or "")


def test_snapshots_of_each_results_page_are_stored_once_by_hash_and_linked(
    db: Database, jssite: JsSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAYSTACK_DOWNLOADS_DIR", str(tmp_path / "dl"))
    fields = {"remote": True, "since": "2024-02-01"}  # one page
    settings = {"site": SHIPPED, "keywords": ["python"], "base_url": jssite.url}
    settings |= {"fields": fields, "snapshot": ["html", "png", "pdf"]}
    result = run(db, **settings)
    assert result.ok, result.error

    folder = tmp_path / "dl" / "snapshots"
    files = sorted(folder.iterdir())
    assert sorted(path.suffix for path in files) == [".html", ".pdf", ".png"]
    by_kind = {path.suffix[1:]: path for path in files}
    assert by_kind["png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert by_kind["pdf"].read_bytes().startswith(b"%PDF-")
    html = by_kind["html"].read_text(encoding="utf-8")
    # The rendered page, not the empty shell.
    wanted = expected("python", "engineering", remote=True, since="2024-02-01")
    assert html.count('class="result"') == len(wanted) > 0

    for path in files:
        assert path.stem == hashlib.sha256(path.read_bytes()).hexdigest()

    [page_uri] = [uri for uri in stored_data(db) if "#form:" in uri]
    with db.read() as conn:
        page_id = store.find_item_id(conn, uri=page_uri)
        assert page_id is not None
        shots = item_snapshots(conn, item_id=page_id)
    assert {(shot.kind, shot.sha256) for shot in shots} == {
        (kind, path.stem) for kind, path in by_kind.items()
    }
    data = stored_data(db)
    png = data[f"urn:sha256:{by_kind['png'].stem}"]
    assert png["ContentType"] == ["image/png"]
    assert png["FileSize"] == [by_kind["png"].stat().st_size]

    # The same page rendered again: the HTML is the same bytes, stored once, linked once.
    assert run(db, **settings).ok
    again = Counter(path.suffix for path in folder.iterdir())
    assert again[".html"] == 1
    html_links = [e for e in link_edges(db) if e[1] == f"urn:sha256:{by_kind['html'].stem}"]
    assert html_links == [(page_uri, f"urn:sha256:{by_kind['html'].stem}")]


def test_without_submit_or_wait_selector_the_form_submits_itself_and_waits_for_listings(
    db: Database, jssite: JsSite, tmp_path: Path
) -> None:
    copy = definition(
        tmp_path,
        form__submit=None,  # submitted as Enter does
        form__wait={"timeout": 10},  # the listing selector shows the results
        form__pagination={"next": "a.next", "max_pages": 1},  # the definition's page limit
    )
    result = run(db, site=copy, keywords=["python"], base_url=jssite.url)
    assert result.ok, result.error
    wanted = expected("python", "engineering", since="2024-01-01")[:PAGE_SIZE]
    assert set(listings(db, jssite)) == uris(jssite, wanted)
    assert len(jssite.asked("/api/search")) == 1


def test_a_form_that_is_not_on_the_page_is_a_changed_site(
    db: Database, jssite: JsSite, tmp_path: Path
) -> None:
    copy = definition(tmp_path, form__selector="form#nowhere", form__wait={"timeout": 1})
    result = run(db, site=copy, keywords=["python"], base_url=jssite.url)
    assert not result.ok
    assert "the form (css 'form#nowhere') is not on the page" in (result.error or "")
    assert jssite.asked("/api/search") == []


@pytest.mark.parametrize(
    ("page", "problem", "status"),
    [
        ("/missing", "HTTP 404", 404),
        ("/private/search", "robots.txt", None),  # the site's robots.txt disallows /private
    ],
)
def test_a_form_page_that_cannot_be_loaded_is_stored_with_its_reason(
    db: Database, jssite: JsSite, tmp_path: Path, page: str, problem: str, status: int | None
) -> None:
    copy = definition(tmp_path, form__page=page)
    result = run(db, site=copy, keywords=["python"], base_url=jssite.url)
    assert not result.ok
    assert f"the form page {jssite.url}{page}: " in (result.error or "")
    assert problem in (result.error or "")
    [stored] = [d for u, d in stored_data(db).items() if u.startswith(f"{jssite.url}{page}#form:")]
    assert problem in stored["Error"][0]
    assert stored.get("StatusCode", [None]) == [status]
    assert jssite.asked("/api/search") == []


def test_api_work_cannot_point_the_form_at_a_loopback_address(db: Database, jssite: JsSite) -> None:
    # Through the API, base_url is a token holder's choice: the SSRF guard refuses loopback.
    with origin_scope(API):
        result = run(db, site=SHIPPED, keywords=["python"], base_url=jssite.url)
    assert not result.ok
    assert f"the form page {jssite.url}/search: blocked address" in (result.error or "")
    assert jssite.hits == []
