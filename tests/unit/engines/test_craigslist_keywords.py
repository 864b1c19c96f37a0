"""The craigslist engine's keywords, settings and URL rules (no database, no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from haystack_collector.engines.base import Engine
from haystack_collector.engines.craigslist import (
    Craigslist,
    CraigslistSettings,
    Keyword,
    category_of,
    fetch_url,
    posting_data,
    posting_uri,
)
from haystack_collector.errors import ConfigError
from haystack_collector.fetch import FetchResult

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_original_keyword_format_is_read_field_by_field() -> None:
    keyword = Keyword.parse("sfbay|en|us|search|python developer|sof")
    assert keyword == Keyword(
        city="sfbay",
        query="python developer",
        category="sof",
        lang="en",
        country="us",
        path="search",
    )
    assert keyword.url() == (
        "https://sfbay.craigslist.org/search/sof?query=python+developer&lang=en&cc=us"
    )
    assert Keyword.parse(keyword.as_text()) == keyword


def test_empty_fields_take_the_defaults() -> None:
    keyword = Keyword.parse("boston|||||")
    assert keyword == Keyword(city="boston")
    assert keyword.url() == "https://boston.craigslist.org/search/jjj"


def test_a_query_may_use_craigslists_or_bar() -> None:
    keyword = Keyword.parse("phoenix|||search|python|django|sof")
    assert (keyword.query, keyword.category) == ("python|django", "sof")
    assert keyword.url() == "https://phoenix.craigslist.org/search/sof?query=python%7Cdjango"


def test_a_subarea_path_and_filters_go_into_the_url() -> None:
    keyword = Keyword.parse("SFBay||US|search/eby|rust|SOF")
    assert (keyword.city, keyword.country, keyword.path, keyword.category) == (
        "sfbay",
        "us",
        "search/eby",
        "sof",
    )
    url = keyword.url(
        "http://127.0.0.1:8080/", {"is_telecommuting": True, "employment_type": ["1", "2"]}
    )
    assert url == (
        "http://127.0.0.1:8080/search/eby/sof?query=rust&employment_type=1&employment_type=2"
        "&is_telecommuting=1&cc=us"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sfbay|en|us|search|python", "six fields"),
        ("", "six fields"),
        ("evil.com/x|en|us|search|q|sof", "site name"),
        ("sfbay|en|us|search|q|s/of", "category"),
        ("sfbay|en|us|../admin|q|sof", "search path"),
        ("sfbay|english|us|search|q|sof", "language"),
        ("sfbay|en|usa|search|q|sof", "country"),
    ],
)
def test_a_bad_keyword_is_a_clear_error(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Keyword.parse(text)


def test_settings_accept_site_as_city_and_check_their_values() -> None:
    settings = Craigslist.validate_settings({"site": "sfbay", "category": "sof", "query": "go"})
    assert isinstance(settings, Craigslist.Settings)
    assert settings.keyword() == Keyword(city="sfbay", query="go", category="sof")
    with pytest.raises(ConfigError, match="max_pages"):
        Craigslist.validate_settings({"city": "sfbay", "max_pages": 0})
    with pytest.raises(ConfigError, match="colour"):
        Craigslist.validate_settings({"city": "sfbay", "colour": "red"})


def test_the_engine_declares_search_extractor_and_recheck() -> None:
    actions = Craigslist.actions()
    assert {name: spec.kind for name, spec in actions.items()} == {
        "search": "start",
        "extractor": "item",
        "recheck": "item",
    }
    assert issubclass(Craigslist, Engine)
    assert Craigslist.name == "craigslist"


def test_posting_uris_are_keyed_by_post_id_across_eras_and_hosts() -> None:
    uris = {
        posting_uri("http://sfbay.craigslist.org/eby/apa/3555443860.html", None),
        posting_uri("https://sfbay.craigslist.org/eby/apa/d/fremont-cherry/3555443860.html", None),
        posting_uri("https://www.craigslist.org/view/d/fremont-cherry/3555443860.html", None),
        posting_uri(None, "3555443860"),
    }
    assert uris == {"craigslist:posting/3555443860"}
    assert posting_uri("https://example.com/Some/Page", None) == "https://example.com/Some/Page"
    assert posting_uri(None, None) is None


def test_craigslist_hosts_are_fetched_from_the_base_url() -> None:
    base = "http://127.0.0.1:9/"
    assert fetch_url("https://sfbay.craigslist.org/sfc/sof/d/x/1234567.html?a=1", base) == (
        "http://127.0.0.1:9/sfc/sof/d/x/1234567.html?a=1"
    )
    assert fetch_url("https://craigslist.org/about", base) == "http://127.0.0.1:9/about"
    assert fetch_url("https://example.com/1234567.html", base) == "https://example.com/1234567.html"
    assert fetch_url("https://notcraigslist.org/x", base) == "https://notcraigslist.org/x"
    assert fetch_url("https://sfbay.craigslist.org/x", None) == "https://sfbay.craigslist.org/x"
    mirror = "https://mirror.example/cl/"
    assert fetch_url("https://sfbay.craigslist.org/sfc/1234567.html", mirror) == (
        "https://mirror.example/cl/sfc/1234567.html"
    )


def test_a_base_url_must_be_a_url() -> None:
    settings = Craigslist.validate_settings({"city": "sfbay", "base_url": "ftp://x/"})
    assert isinstance(settings, CraigslistSettings)
    with pytest.raises(ConfigError, match="not an http"):
        settings.checked_base_url()
    empty = Craigslist.validate_settings({"city": "sfbay"})
    assert isinstance(empty, CraigslistSettings)
    assert empty.checked_base_url() is None


def test_the_category_comes_from_the_posting_url() -> None:
    assert category_of("http://sfbay.craigslist.org/nby/ctd/3367578332.html") == "ctd"
    assert category_of("https://sfbay.craigslist.org/sfc/sof/d/slug/6990024477.html") == "sof"
    assert category_of("https://milwaukee.craigslist.org/apa/d/slug/7936415355.html") == "apa"
    assert category_of("https://www.craigslist.org/view/d/slug/7900000001.html") is None
    assert category_of(None) is None


def _result(status: int | None, body: bytes = b"", **extra: object) -> FetchResult:
    return FetchResult(
        "https://x.craigslist.org/sof/1234567.html",
        status=status,
        headers=httpx.Headers(),
        body=body,
        content_type="text/html",
        **extra,  # type: ignore[arg-type]
    )


def test_a_fetch_failure_is_recorded_and_keeps_the_status() -> None:
    data = posting_data(_result(None, error="connection error (ConnectError: refused)"), {}, NOW)
    assert data == {
        "FetchedAt": NOW,
        "StatusCode": None,
        "Error": "connection error (ConnectError: refused)",
    }


@pytest.mark.parametrize("status", [404, 410])
def test_a_missing_posting_is_gone_but_kept(status: int) -> None:
    data = posting_data(_result(status, b"<title>Page not found</title>"), {}, NOW)
    assert (data["Status"], data["Gone"], data["StatusCode"]) == ("expired", True, status)
    assert "Title" not in data  # what an earlier extraction stored stays


def test_a_404_with_a_notice_takes_the_notices_status() -> None:
    body = b"<body class='posting'><div class='removed'><h2>This posting has been flagged"
    data = posting_data(_result(404, body + b" for removal.</h2></div>"), {}, NOW)
    assert data["Status"] == "flagged"


def test_other_http_errors_and_non_postings_are_errors() -> None:
    assert posting_data(_result(403, b"no"), {}, NOW)["Error"] == "HTTP 403"
    assert posting_data(_result(200, b"<p>hello</p>"), {}, NOW)["Error"] == (
        "no Craigslist posting found in the page"
    )
    pdf = FetchResult("https://x/1.pdf", status=200, body=b"%PDF", content_type="application/pdf")
    assert posting_data(pdf, {}, NOW)["Error"] == "not an HTML page (application/pdf)"


def test_job_fields_only_for_job_categories_or_job_attributes() -> None:
    page = (
        b"<body class='posting'><span id='titletextonly'>Cook</span>"
        b"<section id='postingbody'>Cook food.</section></body>"
    )
    job = posting_data(_result(200, page), {"Category": "fbh", "Hood": "soma"}, NOW)
    assert (job["JobTitle"], job["JobLocation"], job["JobSource"]) == ("Cook", "soma", "craigslist")
    assert (job["Title"], job["Body"], job["Status"], job["Gone"]) == (
        "Cook",
        "Cook food.",
        "active",
        False,
    )
    flat = posting_data(_result(200, page), {"Category": "apa"}, NOW)
    assert "JobTitle" not in flat
    assert "PostId" not in flat  # neither the page nor the item knows one
