"""The parse limits: documents too large or nested too deeply are refused before parsing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from haystack_collector.extract import kinds, limits
from haystack_collector.extract.feed import FeedError, extract_feed
from haystack_collector.extract.limits import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    UNCHECKED_TAGS,
    DocumentLimitError,
    check_markup,
)
from haystack_collector.extract.page import extract_page

WIDE = UNCHECKED_TAGS + 1  # enough tags for the depth to be checked at all


def nested(depth: int, tag: str = "div") -> bytes:
    return f"<{tag}>".encode() * depth + b"<a href='/x'>x</a>" + f"</{tag}>".encode() * depth


def two_hundred_thousand_divs() -> bytes:
    return b"<html><head><title>deep</title></head><body>" + nested(200_000) + b"</body></html>"


EXTRACTORS: dict[str, Callable[[bytes], Any]] = {
    "page": lambda data: kinds.extract("page", data, base_url="https://example.test/"),
    "craigslist-search": lambda data: kinds.extract("craigslist-search", data),
    "craigslist-posting": lambda data: kinds.extract("craigslist-posting", data),
    "site": lambda data: kinds.extract("site:weworkremotely", data),
}


@pytest.mark.parametrize("name", list(EXTRACTORS))
def test_two_hundred_thousand_nested_divs_are_refused_in_bounded_time(name: str) -> None:
    # Parsing this page took lexbor 135 s (tree building is O(depth²)).
    data = two_hundred_thousand_divs()
    started = time.perf_counter()
    with pytest.raises(DocumentLimitError, match=f"more than {MAX_DEPTH} elements deep"):
        EXTRACTORS[name](data)
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize(
    "feed",
    [
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item>"
        + b"<x>" * 200_000
        + b"</x>" * 200_000
        + b"</item></channel></rss>",
        b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><content type='xhtml'>"
        + nested(200_000)
        + b"</content></entry></feed>",
    ],
    ids=["rss", "atom-xhtml"],
)
def test_a_deeply_nested_xml_feed_is_refused(feed: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(DocumentLimitError, match="nested too deeply"):
        extract_feed(feed)
    assert time.perf_counter() - started < 10


def test_a_deeply_nested_json_feed_is_a_feed_error_not_a_recursion_error() -> None:
    data = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
        + b"[" * 100_000
        + b"]" * 100_000
        + b"]}"
    )
    with pytest.raises(FeedError, match="nested too deeply"):
        extract_feed(data)


def test_a_document_over_the_size_cap_is_refused_unparsed() -> None:
    data = b"<p>" + b"x" * MAX_DOCUMENT_BYTES
    with pytest.raises(DocumentLimitError, match="too large to parse"):
        extract_page(data)
    with pytest.raises(DocumentLimitError, match="too large to parse"):
        extract_feed(b"<rss version='2.0'>" + data)


def test_nesting_up_to_the_limit_is_parsed_as_before() -> None:
    data = b"<br>" * WIDE + nested(MAX_DEPTH - 3)  # html, body and the <a> are three more
    page = extract_page(data, base_url="https://example.test/")
    assert [link.url for link in page.links] == ["https://example.test/x"]
    with pytest.raises(DocumentLimitError):
        extract_page(b"<br>" * WIDE + nested(MAX_DEPTH + 1))


def test_a_page_with_few_tags_is_not_scanned_however_it_nests() -> None:
    # 10,000 nested elements cost lexbor a fraction of a second: not worth a scan.
    page = extract_page(nested((UNCHECKED_TAGS - 2) // 2), base_url="https://example.test/")
    assert [link.url for link in page.links] == ["https://example.test/x"]


@pytest.mark.parametrize(
    "markup",
    [
        "<p>para" * WIDE,  # closed by the next <p>
        "<ul>" + "<li>item" * WIDE + "</ul>",
        "<table>" + "<tr><td>cell" * WIDE + "</table>",
        "<a href=x>link" * WIDE,  # an <a> closes the open <a>
        "<img src=x><br><input>" * WIDE,
        "<svg>" + "<path d='M0'/>" * WIDE + "</svg>",
        "<script>" + "var s = '<div>';" * WIDE + "</script>",
        "<!--" + "<div>" * WIDE + "-->",
        "<div>" * 100 + "</span>" * WIDE + "</div>" * 100,
        "<DIV>x</DIV>" * WIDE,
    ],
    ids=["p", "li", "td", "a", "void", "svg", "script", "comment", "stray-ends", "upper-case"],
)
def test_wide_documents_that_browsers_do_not_nest_pass(markup: str) -> None:
    check_markup(markup)


@pytest.mark.parametrize(
    "markup",
    [
        "<div/>" * WIDE,  # "/>" does not close an HTML div
        "<div></b>" * WIDE,  # end tags of elements not open close nothing
        "<b>" * WIDE,
        "<DIV>" * WIDE,
        "<div x='<'>" * WIDE,
    ],
    ids=["self-closing-div", "stray-end", "formatting", "upper-case", "lt-in-attribute"],
)
def test_tricks_do_not_hide_deep_nesting(markup: str) -> None:
    with pytest.raises(DocumentLimitError):
        check_markup(markup)


def test_xml_reads_self_closing_elements_as_closed() -> None:
    feed = "<rss><channel>" + "<item><category term='x'/></item>" * WIDE + "</channel></rss>"
    limits.check_markup(feed, xml=True)
    with pytest.raises(DocumentLimitError):
        check_markup("<x>" * WIDE, xml=True)


def test_a_cdata_section_is_no_markup() -> None:
    check_markup("<rss><![CDATA[" + "<div>" * WIDE + "]]></rss>", xml=True)
