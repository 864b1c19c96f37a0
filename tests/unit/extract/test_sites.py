"""Specification of site definitions: loading them, and applying them to real and small pages."""

from __future__ import annotations

import json
import textwrap
import warnings
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from haystack_collector.errors import ExtractionError
from haystack_collector.extract.postings import PostingFields
from haystack_collector.extract.records import to_json
from haystack_collector.extract.sites import (
    SiteChanged,
    SiteChangedError,
    SiteDefinition,
    SiteDefinitionError,
    SiteRecord,
    SiteWarning,
    builtin_sites,
    extract_detail,
    extract_listing,
    find_form,
    load_site,
    load_sites,
    merge_fields,
    read_detail,
    read_listing,
)
from tests.fixtures import real_bytes


def real_page(name: str, sha256_prefix: str) -> bytes:
    """A pristine real capture (MANIFEST.md gives the hash prefix of each)."""
    return real_bytes(f"jobboard/{name}", sha256_prefix)


def definition(**overrides: Any) -> SiteDefinition:
    """A small listing definition, changed by ``overrides``."""
    raw: dict[str, Any] = {
        "name": "tiny",
        "start_urls": ["https://jobs.example/list"],
        "listing": {
            "selector": "li.job",
            "fields": {"title": "h2", "url": {"css": "a", "attr": "href", "type": "url"}},
        },
        "job": {"title": "title"},  # the section's earlier name, still read as "posting"
    }
    raw.update(overrides)
    return SiteDefinition.model_validate(raw)


def quietly(defn: SiteDefinition, html: str, base_url: str | None = None) -> list[SiteRecord]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any SiteChanged fails the test
        return extract_listing(defn, html.encode(), base_url=base_url)


# --- the shipped definitions on real pages (MANIFEST.md) --------------------------------


def test_the_shipped_definitions() -> None:
    sites = builtin_sites()
    assert sorted(sites) == [
        "bctechnology",
        "indeed",
        "jssite-search",
        "realpython",
        "weworkremotely",
    ]
    assert all(site.source and Path(site.source).is_file() for site in sites.values())
    assert sites["bctechnology"].search is not None


def test_realpython_listing() -> None:
    data = real_page("realpython_fakejobs_index.html", "f3199d30c223be6b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = extract_listing(
            builtin_sites()["realpython"], data, base_url="https://realpython.github.io/fake-jobs/"
        )
    assert len(records) == 100
    first = records[0]
    apply = "https://realpython.github.io/fake-jobs/jobs/senior-python-developer-0.html"
    assert first.fields == {
        "title": "Senior Python Developer",
        "company": "Payne, Roberts and Davis",
        "location": "Stewartbury, AA",
        "posted": date(2021, 4, 8),
        "url": apply,
    }
    assert first.url == apply
    assert first.posting == {
        "title": "Senior Python Developer",
        "company": "Payne, Roberts and Davis",
        "location": "Stewartbury, AA",
        "compensation": None,
        "employment_type": None,
        "posted": date(2021, 4, 8),
        "source": "realpython",
    }
    assert len({record.url for record in records}) == 100
    assert json.loads(to_json(first))["fields"]["posted"] == "2021-04-08"
    assert json.loads(to_json(first))["posting"]["title"] == "Senior Python Developer"


def test_realpython_detail() -> None:
    data = real_page(
        "realpython_fakejobs_detail_senior-python-developer-0.html", "3a59e264901ba765"
    )
    url = "https://realpython.github.io/fake-jobs/jobs/senior-python-developer-0.html"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [record] = extract_detail(builtin_sites()["realpython"], data, base_url=url)
    assert record.url == url
    assert record.fields["title"] == "Senior Python Developer"  # the 2nd h1, not "Fake Python"
    assert record.fields["company"] == "Payne, Roberts and Davis"
    assert record.fields["location"] == "Stewartbury, AA"  # "Location: Stewartbury, AA"
    assert record.fields["posted"] == date(2021, 4, 8)  # "Posted: 2021-04-08"
    assert record.fields["description"].startswith(
        "Professional asset web application environmentally friendly detail-oriented asset."
    )
    fields = record.posting_fields()
    assert fields == PostingFields(
        "Senior Python Developer",
        "Payne, Roberts and Davis",
        "Stewartbury, AA",
        posted=date(2021, 4, 8),
        source="realpython",
    )


def test_weworkremotely_listing() -> None:
    data = real_page("weworkremotely_2026_all_jobs_raw.html", "65adbb6c16e7ea04")
    page = read_listing(
        builtin_sites()["weworkremotely"], data, base_url="https://weworkremotely.com/remote-jobs"
    )
    assert page.warnings == []
    # 246 listing containers; the two ads have no /remote-jobs/ link and are not jobs.
    assert len(page.records) == 244
    assert len({record.url for record in page.records}) == 243  # one job in two categories
    first = page.records[0]
    assert first.fields["title"] == "Senior Product Manager"
    assert first.fields["company"] == "Toggl"
    assert first.url == "https://weworkremotely.com/remote-jobs/toggl-senior-product-manager-4"
    assert first.posting["title"] == "Senior Product Manager"
    assert first.posting["company"] == "Toggl"


def test_indeed_listing() -> None:
    data = real_page("indeed_2025_serp_alljobs.html", "a36b3e3ce739e2cf")
    page = read_listing(builtin_sites()["indeed"], data, base_url="https://www.indeed.com/jobs?q=")
    assert page.warnings == []
    assert len(page.records) == 15
    assert len({record.fields["job_key"] for record in page.records}) == 15
    first = page.records[0]
    assert first.fields["job_key"] == "0bb0c82f1ebd7121"
    assert first.fields["title"] == "Laboratory Analyst"
    assert first.fields["company"] == "US Sugar Savannah Refinery"
    assert first.fields["location"] == "Port Wentworth, GA 31407"
    assert first.url == "https://www.indeed.com/viewjob?jk=0bb0c82f1ebd7121"
    assert first.posting["location"] == "Port Wentworth, GA 31407"


def test_a_real_page_of_another_board_is_a_site_changed_warning() -> None:
    data = real_page("indeed_2025_serp_alljobs.html", "a36b3e3ce739e2cf")
    with pytest.warns(SiteChanged, match="listing selector css 'div.card-content' matched nothing"):
        records = extract_listing(builtin_sites()["realpython"], data, base_url="https://x.test/")
    assert records == []


# --- fields -------------------------------------------------------------------------------


def test_field_types_regexes_templates_and_attributes() -> None:
    defn = definition(
        listing={
            "selector": {"xpath": "//li[@class='job']"},
            "fields": {
                "title": {"xpath": ".//h2"},
                "url": {"xpath": ".//a/@href", "type": "url"},
                "count": {"css": ".n", "type": "int"},
                "pay": {
                    "css": ".pay",
                    "regex": r"\$(?P<amount>[\d,.]+)",
                    "group": "amount",
                    "type": "float",
                },
                "posted": {"css": ".when", "type": "date", "format": "%b %d, %Y"},
                "updated": {"css": "time", "attr": "datetime", "type": "datetime"},
                "tags": {"css": ".tag", "type": "list"},
                "ref": {
                    "css": "li.job",
                    "attr": "data-id",
                    "template": "https://jobs.example/v?id={}",
                    "type": "url",
                    "optional": True,
                },
                "code": {"css": ".code", "regex": "[A-Z]+-\\d+"},
            },
        }
    )
    html = """<html><head><base href="/jobs/"></head><body><ul>
      <li class="job" data-id="7"><h2> Data   <b>Engineer</b> </h2><a href="view/7">x</a>
        <span class="n">1,204 applicants</span><span class="pay">From $85,000.50 a year</span>
        <span class="when">Mar 05, 2026</span>
        <time datetime="2026-03-05T09:30:00+00:00">today</time>
        <span class="tag"> remote </span><span class="tag">python</span>
        <span class="code">ref ABC-42 here</span>
        <style>.x { color: red }</style><script>var y = 1;</script></li>
    </ul></body></html>"""
    [record] = quietly(defn, html, "https://jobs.example/list?page=1")
    assert record.fields == {
        "title": "Data Engineer",
        "url": "https://jobs.example/jobs/view/7",  # against <base href>
        "count": 1204,
        "pay": 85000.5,
        "posted": date(2026, 3, 5),
        "updated": datetime.fromisoformat("2026-03-05T09:30:00+00:00"),
        "tags": ["remote", "python"],
        "ref": "https://jobs.example/v?id=7",  # a CSS selector may match the listing itself
        "code": "ABC-42",
    }


def test_visible_text_leaves_out_inline_styles_and_scripts() -> None:
    defn = definition()
    html = (
        "<li class='job'><h2>Cook<style>h2{}</style><script>x()</script></h2>"
        "<a href='/1'>1</a></li>"
    )
    [record] = quietly(defn, html)
    assert record.fields["title"] == "Cook"
    assert record.url == "https://jobs.example/1"  # no page URL given: the start URL is the base


def test_unreadable_values_are_none_and_reported() -> None:
    defn = definition(
        listing={
            "selector": "li.job",
            "fields": {"title": "h2", "posted": {"css": ".when", "type": "date"}},
        }
    )
    html = (
        "<li class='job'><h2>A</h2><i class='when'>3d</i></li>"
        "<li class='job'><h2>B</h2><i class='when'>2026-01-02</i></li>"
    )
    page = read_listing(defn, html.encode(), base_url="https://jobs.example/list")
    assert [r.fields["posted"] for r in page.records] == [None, date(2026, 1, 2)]
    assert [w.message for w in page.warnings] == [
        "field 'posted': 1 value(s) not readable, e.g. '3d' as date"
    ]


def test_a_field_that_matches_in_no_listing_is_a_warning_unless_optional() -> None:
    defn = definition(
        listing={
            "selector": "li.job",
            "fields": {
                "title": "h2",
                "company": ".company",
                "salary": {"css": ".pay", "optional": True},
            },
        }
    )
    page = read_listing(defn, b"<li class='job'><h2>A</h2></li>", base_url="https://jobs.example/l")
    assert page.warnings == [
        SiteWarning(
            "tiny",
            "https://jobs.example/l",
            "listing field 'company' (css '.company') matched nothing in 1 listing(s)",
        )
    ]
    assert str(page.warnings[0]) == (
        "site changed: 'tiny' at https://jobs.example/l: listing field 'company' (css '.company')"
        " matched nothing in 1 listing(s)"
    )


def test_an_empty_results_page_the_definition_recognizes_is_no_warning() -> None:
    defn = definition(listing={"selector": "li.job", "fields": {"title": "h2"}, "empty": ".none"})
    assert quietly(defn, "<p class='none'>No jobs</p>") == []
    page = read_listing(defn, b"<p>Redesigned!</p>", base_url="https://jobs.example/l")
    assert [w.message for w in page.warnings] == [
        "the listing selector css 'li.job' matched nothing"
    ]


def test_next_page_link_resolves_against_the_page() -> None:
    defn = definition(
        listing={"selector": "li.job", "fields": {"title": "h2"}, "next_page": "a.next"}
    )
    html = b"<li class='job'><h2>A</h2></li><a class='next' href='?page=2'>Next</a>"
    page = read_listing(defn, html, base_url="https://jobs.example/list?page=1")
    assert page.next_url == "https://jobs.example/list?page=2"
    assert read_listing(defn, b"<li class='job'><h2>A</h2></li>").next_url is None


def test_listings_without_a_detail_link_have_no_url() -> None:
    defn = definition(listing={"selector": "li.job", "fields": {"title": "h2"}})
    [record] = quietly(defn, "<li class='job'><h2>A</h2></li>")
    assert record == SiteRecord({"title": "A"}, None, record.posting)
    assert record.posting["title"] == "A"


def test_a_detail_page_that_matches_nothing_is_no_record_and_a_warning() -> None:
    defn = definition(
        detail={"fields": {"body": "#body", "pay": {"css": ".pay", "optional": True}}}
    )
    with pytest.warns(SiteChanged, match="no detail field matched anything"):
        assert extract_detail(defn, b"<p>moved</p>", base_url="https://jobs.example/1") == []
    page = read_detail(defn, b"<div id='body'>Hi</div>", base_url="https://jobs.example/1")
    assert page.record == SiteRecord(
        {"body": "Hi", "pay": None},
        "https://jobs.example/1",
        page.record.posting if page.record else {},
    )
    assert page.warnings == []


def test_merging_keeps_what_a_page_does_not_show() -> None:
    old = {"title": "A", "posted": date(2026, 1, 1), "tags": ["x"]}
    assert merge_fields(old, {"title": "B", "posted": None, "tags": [], "pay": None}) == {
        "title": "B",
        "posted": date(2026, 1, 1),
        "tags": ["x"],
        "pay": None,
    }


# --- search forms -------------------------------------------------------------------------

FORM_PAGE = b"""<html><body>
<form name="nav" action="/site-search"><input name="q"></form>
<form id="jobs" name="jobsearch" action="results?old=1#top" method="get">
  <input type="hidden" name="csrf" value="t0k">
  <input name="kw" value="default words">
  <input name="where" value="">
  <input type="checkbox" name="remote" value="yes" checked>
  <input type="checkbox" name="contract">
  <input type="radio" name="sort" value="date"><input type="radio" name="sort" value="rel" checked>
  <input name="off" value="x" disabled>
  <select name="cat"><option>All categories</option><option value="it" selected>IT</option></select>
  <select name="size"><option value="10">10</option><option value="50">50</option></select>
  <textarea name="note">
hello</textarea>
  <input type="file" name="cv"><input type="reset" name="clear">
  <input type="submit" name="go" value="Find"><input type="submit" name="alt" value="Other">
</form></body></html>"""


def form_site(**search: Any) -> SiteDefinition:
    return SiteDefinition.model_validate(
        {
            "name": "formy",
            "search": {"page": "https://jobs.example/find/", "keyword_field": "kw", **search},
            "listing": {"selector": "li", "fields": {"title": "h2"}},
        }
    )


def test_a_get_form_is_read_like_a_browser_submits_it() -> None:
    form = find_form(
        form_site(name="jobsearch", fields={"where": "BC"}),
        FORM_PAGE,
        "https://jobs.example/find/",
        keyword="data",
    )
    method, action, fields = form
    assert (method, action) == ("GET", "https://jobs.example/find/results?old=1#top")
    assert fields == {
        "csrf": "t0k",
        "kw": "data",
        "where": "BC",
        "remote": "yes",
        "sort": "rel",
        "cat": "it",
        "size": "10",
        "note": "hello",
        "go": "Find",
    }
    # A GET submission replaces the action's query string with the fields.
    assert form.url == (
        "https://jobs.example/find/results?csrf=t0k&kw=data&where=BC&remote=yes&sort=rel&cat=it"
        "&size=10&note=hello&go=Find"
    )


def test_which_form_by_selector_index_or_name() -> None:
    assert find_form(form_site(selector="form#jobs"), FORM_PAGE).fields["kw"] == "default words"
    assert find_form(form_site(index=1), FORM_PAGE, keyword="x").fields["kw"] == "x"
    with pytest.raises(SiteChangedError, match="the search form has no field 'kw'"):
        find_form(form_site(), FORM_PAGE)  # the first form is the site's own search box
    with pytest.raises(
        SiteChangedError, match=r"the search form \(name 'jobz'\) is not on the page"
    ):
        find_form(form_site(name="jobz"), FORM_PAGE)
    with pytest.raises(SiteChangedError, match=r"form #5"):
        find_form(form_site(index=5), FORM_PAGE)


def test_a_post_form_with_an_empty_action_posts_to_its_page() -> None:
    page = b"<form method=POST><input name=kw><input type=hidden name=s value=1></form>"
    form = find_form(form_site(), page, "https://jobs.example/find/?a=b", keyword="ops")
    assert form == ("POST", "https://jobs.example/find/?a=b", {"kw": "ops", "s": "1"})
    assert form.url == "https://jobs.example/find/?a=b"


def test_a_missing_form_carries_a_site_warning() -> None:
    with pytest.raises(SiteChangedError) as caught:
        find_form(form_site(selector="form.search"), b"<p>no forms</p>")
    assert caught.value.warning == SiteWarning(
        "formy",
        "https://jobs.example/find/",
        "the search form (css 'form.search') is not on the page",
    )


# --- loading definitions ------------------------------------------------------------------

GOOD_YAML = """
name: board
start_urls: [https://board.example/jobs]
listing:
  selector: div.job
  fields:
    title: h3
    url: {css: a, attr: href, type: url}
job:
  title: title
"""

GOOD_TOML = """
name = "board"
start_urls = ["https://board.example/jobs"]
[listing]
selector = "div.job"
[listing.fields]
title = "h3"
url = { css = "a", attr = "href", type = "url" }
[job]
title = "title"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_yaml_and_toml_say_the_same_thing(tmp_path: Path) -> None:
    from_yaml = load_site(write(tmp_path, "a.yaml", GOOD_YAML))
    from_toml = load_site(write(tmp_path, "b.toml", GOOD_TOML))
    assert from_yaml.model_dump() == from_toml.model_dump()
    assert from_yaml.source == str(tmp_path / "a.yaml")
    assert from_yaml.listing.url_field == "url"


def test_a_folder_of_definitions(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD_YAML)
    write(tmp_path, "b.toml", GOOD_TOML.replace('"board"', '"other"', 1))
    write(tmp_path, "notes.txt", "not a definition")
    assert sorted(load_sites(tmp_path)) == ["board", "other"]
    write(tmp_path, "c.yml", GOOD_YAML)
    with pytest.raises(
        SiteDefinitionError, match=r"c\.yml: site 'board' is also defined in .*a\.yaml"
    ):
        load_sites(tmp_path)
    with pytest.raises(SiteDefinitionError, match="not a folder"):
        load_sites(tmp_path / "missing")


def yaml_with(**changes: Any) -> str:
    raw = yaml.safe_load(GOOD_YAML)
    for dotted, value in changes.items():
        target = raw
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return yaml.safe_dump(raw)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"listing__fields__title": "h3[", "listing__selector": "div..job"},
            r"listing\.selector: invalid CSS selector 'div\.\.job'.*; "
            r"listing\.fields\.title: invalid CSS selector 'h3\['",
        ),
        (
            {"listing__fields__title": {"xpath": "//h3["}},
            r"listing\.fields\.title: invalid XPath '//h3\['",
        ),
        (
            {"listing__fields__title": {"css": "h3", "xpath": "//h3"}},
            r"listing\.fields\.title: give exactly one of 'css' or 'xpath'",
        ),
        (
            {"listing__fields__title": {"css": "h3", "regex": "(unclosed"}},
            r"listing\.fields\.title: invalid regex '\(unclosed'",
        ),
        (
            {"listing__fields__title": {"css": "h3", "regex": "(a)", "group": "n"}},
            r"regex '\(a\)' has no group named 'n'",
        ),
        (
            {"listing__fields__title": {"css": "h3", "type": "money"}},
            r"listing\.fields\.title\.type: Input should be 'text', 'url'",
        ),
        (
            {"listing__fields__title": {"css": "h3", "colour": "red"}},
            r"listing\.fields\.title\.colour: Extra inputs are not permitted",
        ),
        (
            {"listing__fields__title": {"css": "h3", "template": "x{0}"}},
            r"'template' must contain one '\{\}'",
        ),
        (
            {"listing__fields__Title": "h3"},
            r"listing\.fields: field name 'Title' must be a lower-case identifier",
        ),
        (
            {"job__title": "headline"},
            r"posting\.title names no listing or detail field: 'headline'",
        ),
        ({"job__salary": "title"}, r"job\.salary: Input should be 'title', 'company'"),
        ({"start_urls": None}, r"give one of 'start_urls', 'search' \(a search form\) or 'form'"),
        (
            {"start_urls": ["ftp://board.example/"]},
            r"start_urls: not an http\(s\) URL: 'ftp://board\.example/'",
        ),
        ({"name": None}, r"name: Field required"),
        ({"name": "my board"}, r"name: a site name is 1-64 letters"),
        ({"listing__detail_url": "link"}, r"listing: detail_url names no listing field: 'link'"),
        (
            {
                "search": {
                    "page": "https://board.example/",
                    "keyword_field": "q",
                    "index": 0,
                    "name": "f",
                }
            },
            r"search: give at most one of 'selector', 'name' or 'index'",
        ),
    ],
)
def test_an_invalid_definition_names_the_file_and_the_field(
    tmp_path: Path, changes: dict[str, Any], problem: str
) -> None:
    path = write(tmp_path, "bad.yaml", yaml_with(**changes))
    with pytest.raises(
        SiteDefinitionError, match=rf"^site definition {path}: .*{problem}"
    ) as caught:
        load_site(path)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("broken.yaml", "name: [unclosed", "invalid YAML"),
        ("broken.toml", "name = ", "invalid TOML"),
        ("list.yaml", "- a\n- b\n", "the top level must be a mapping"),
        ("def.json", "{}", r"not a \.yaml, \.yml or \.toml file \('\.json'\)"),
    ],
)
def test_an_unreadable_file_is_a_clear_error(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(SiteDefinitionError, match=problem):
        load_site(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SiteDefinitionError, match=r"missing\.yaml: cannot read"):
        load_site(tmp_path / "missing.yaml")


def test_a_detail_page_missing_some_fields_keeps_the_rest_and_warns() -> None:
    defn = definition(detail={"fields": {"body": "#body", "pay": ".pay"}})
    page = read_detail(defn, b"<div id='body'>Hi</div>", base_url="https://jobs.example/1")
    assert page.record is not None
    assert page.record.fields == {"body": "Hi", "pay": None}
    assert [w.message for w in page.warnings] == ["detail field 'pay' (css '.pay') matched nothing"]


def test_applying_what_a_definition_lacks_is_an_error() -> None:
    with pytest.raises(ExtractionError, match="site 'tiny' defines no detail page fields"):
        extract_detail(definition(), b"<p></p>")
    with pytest.raises(ExtractionError, match="site 'tiny' has no search form"):
        find_form(definition(), b"<form></form>")


def test_bytes_are_decoded_by_their_declared_charset() -> None:
    defn = definition(listing={"selector": "li.job", "fields": {"title": "h2"}})
    html = "<meta charset='iso-8859-1'><li class='job'><h2>Café</h2></li>".encode("latin-1")
    [record] = extract_listing(defn, html)
    assert record.fields["title"] == "Café"


def test_a_volatile_block_names_what_of_a_detail_page_is_no_change() -> None:
    from pydantic import ValidationError  # noqa: PLC0415

    from haystack_collector.extract.volatile import changed  # noqa: PLC0415

    defn = definition(volatile={"drop": ["footer"], "ignore": [r"\d+ views"]})
    assert defn.volatile is not None
    before = "<html><body><p>Job text, 12 views</p><footer>10:00</footer></body></html>"
    after = "<html><body><p>Job text, 40 views</p><footer>11:00</footer></body></html>"
    assert not changed(before, after, defn.volatile)
    assert changed(before, after.replace("Job", "New job"), defn.volatile)
    with pytest.raises(ValidationError, match=r"volatile\.ignore"):
        definition(volatile={"ignore": ["(a*)*"]})


# --- forms filled in a browser ------------------------------------------------------------

GOOD_FORM: dict[str, Any] = {
    "page": "/search",
    "selector": "form#search",
    "fields": {"q": "{keyword}", "remote": True, "since": "2024-01-01", "tags": ["a", "b"]},
    "submit": "button[type=submit]",
    "wait": {"selector": "div.result", "timeout": 5},
    "pagination": {"next": "a.next", "max_pages": 3},
}


def form_yaml(form: dict[str, Any] | None = None, **top: Any) -> str:
    raw = yaml.safe_load(GOOD_YAML)
    del raw["start_urls"]
    raw.pop("detail", None)
    raw["listing"].pop("next_page", None)
    raw |= {
        "fetch": "browser",
        "base_url": "https://board.example/jobs/",
        "form": form or GOOD_FORM,
    }
    for key, value in top.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return yaml.safe_dump(raw)


def test_a_browser_form_definition_loads_and_joins_its_page_to_the_base(tmp_path: Path) -> None:
    defn = load_site(write(tmp_path, "form.yaml", form_yaml(snapshot=["png", "pdf"])))
    assert defn.form is not None
    assert defn.form_page() == "https://board.example/jobs/search"
    assert defn.form_page("http://127.0.0.1:8123") == "http://127.0.0.1:8123/search"
    assert defn.default_base == "https://board.example/jobs/search"
    assert defn.by_keyword
    assert defn.form.fields["remote"] is True
    assert defn.form.fields["tags"] == ["a", "b"]
    assert defn.form.pagination is not None
    assert defn.form.pagination.control == "a.next"
    assert defn.snapshot == ["png", "pdf"]
    # A form without {keyword} runs once with its fixed values.
    fixed = dict(GOOD_FORM, fields={"q": "python"})
    assert not load_site(write(tmp_path, "fixed.yaml", form_yaml(fixed))).by_keyword


@pytest.mark.parametrize(
    ("form", "top", "problem"),
    [
        (GOOD_FORM, {"fetch": None}, r"form: a form is filled in a browser: add 'fetch: browser'"),
        (GOOD_FORM, {"fetch": "carrier-pigeon"}, r"fetch: Input should be 'http' or 'browser'"),
        (
            GOOD_FORM,
            {"start_urls": ["https://board.example/"]},
            r"give one of 'start_urls', 'search' \(a search form\) or 'form'",
        ),
        (GOOD_FORM, {"base_url": None}, r"form\.page: '/search' is not an http\(s\) URL"),
        (GOOD_FORM, {"base_url": "ftp://x/"}, r"base_url: not an http\(s\) URL: 'ftp://x/'"),
        (dict(GOOD_FORM, page="search"), {}, r"form\.page: a path must start with '/'"),
        (
            dict(GOOD_FORM, selector="form[["),
            {},
            r"form\.selector: invalid CSS selector 'form\[\['",
        ),
        (dict(GOOD_FORM, submit="button::"), {}, r"form\.submit: invalid CSS selector 'button::'"),
        (
            dict(GOOD_FORM, fields={'say "hi"': "x"}),
            {},
            r"form\.fields: form field name 'say \"hi\"' must be 1-200 characters, no quotes",
        ),
        (dict(GOOD_FORM, fields={"q": {"nested": 1}}), {}, r"form\.fields\.q"),
        (dict(GOOD_FORM, wait={"timeout": 0}), {}, r"form\.wait\.timeout: Input should be greater"),
        (dict(GOOD_FORM, wait={"timeout": 5, "selector": "div["}), {}, r"form\.wait\.selector"),
        (
            dict(GOOD_FORM, pagination={"next": "a.next", "load_more": "button.more"}),
            {},
            r"form\.pagination: give exactly one of 'next' \(a link or button\) or 'load_more'",
        ),
        (dict(GOOD_FORM, pagination={}), {}, r"form\.pagination: give exactly one of 'next'"),
        (
            dict(GOOD_FORM, pagination={"load_more": "button.more", "max_pages": 0}),
            {},
            r"form\.pagination\.max_pages: Input should be greater than or equal to 1",
        ),
        (
            dict(GOOD_FORM, pagination={"next": "a..n"}),
            {},
            r"form\.pagination: next: invalid CSS selector 'a\.\.n'",
        ),
        (
            dict(GOOD_FORM, wait={"time": 5}),
            {},
            r"form\.wait\.time: Extra inputs are not permitted",
        ),
        (GOOD_FORM, {"snapshot": ["gif"]}, r"snapshot\.0: Input should be 'html', 'png' or 'pdf'"),
        (GOOD_FORM, {"wait": {"selector": "div"}}, r"a browser form waits as form\.wait says"),
    ],
)
def test_a_bad_form_block_names_the_file_and_the_field(
    tmp_path: Path, form: dict[str, Any], top: dict[str, Any], problem: str
) -> None:
    path = write(tmp_path, "bad-form.yaml", form_yaml(form, **top))
    with pytest.raises(SiteDefinitionError, match=rf"^site definition {path}: .*{problem}"):
        load_site(path)


def test_a_browser_form_turns_pages_with_its_pagination_not_next_page(tmp_path: Path) -> None:
    raw = yaml.safe_load(form_yaml())
    raw["listing"]["next_page"] = "a.next"
    path = write(tmp_path, "both.yaml", yaml.safe_dump(raw))
    with pytest.raises(SiteDefinitionError, match=r"listing\.next_page: a browser form turns"):
        load_site(path)


def test_the_shipped_browser_form_example_is_valid() -> None:
    shipped = builtin_sites()["jssite-search"]
    assert shipped.fetch == "browser"
    assert shipped.form is not None
    assert shipped.form.pagination is not None
    assert shipped.form_page("http://127.0.0.1:9") == "http://127.0.0.1:9/search"
