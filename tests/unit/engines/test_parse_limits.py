"""Engines store a document refused by the parse limits with the reason in ``Error``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from haystack_collector.engines import craigslist, haystack_folder, rss, web_scraper
from haystack_collector.extract.bookmarks import MAX_FOLDER_DEPTH
from haystack_collector.fetch import FetchResult

NOW = datetime(2024, 1, 2, tzinfo=UTC)
DEEP_HTML = b"<html><body>" + b"<div>" * 200_000 + b"<a href='/x'>x</a></body></html>"
DEEP_FEED = b"<rss version='2.0'><channel><item>" + b"<x>" * 200_000 + b"</item></channel></rss>"
REASON = "document nested too deeply to parse: more than 512 elements deep"


def fetched(body: bytes, content_type: str) -> FetchResult:
    return FetchResult(
        url="https://example.test/p", status=200, body=body, content_type=content_type
    )


def test_a_crawled_page_keeps_its_fetch_facts_and_the_reason_and_no_links() -> None:
    page = web_scraper._page_record(fetched(DEEP_HTML, "text/html"), NOW)
    assert page.data["Error"] == REASON
    assert page.data["StatusCode"] == 200
    assert "Title" not in page.data
    assert page.links == []


def test_a_feed_over_the_limits_is_an_error_on_the_feed_item() -> None:
    update = rss._update(fetched(DEEP_FEED, "application/rss+xml"), NOW)
    assert update.data["Error"] == REASON
    assert update.entries == []


def test_a_posting_over_the_limits_is_an_error_on_the_posting_item() -> None:
    data = craigslist.posting_data(fetched(DEEP_HTML, "text/html"), {}, NOW)
    assert data["Error"] == REASON
    assert "Title" not in data


def test_a_bookmark_file_nested_too_deeply_is_an_error_on_the_file_item(tmp_path: Path) -> None:
    lists = "<DT><H3>f</H3>\n<DL><p>\n" * (MAX_FOLDER_DEPTH + 1)
    path = tmp_path / "bookmarks.html"
    path.write_text(
        f"<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n{lists}<DT><A HREF='https://x.test/'>x</A>"
    )
    read = haystack_folder.read_file(path.as_uri())
    assert read.error == f"bookmark folders nested too deeply: more than {MAX_FOLDER_DEPTH} deep"
    assert read.bookmarks == []
