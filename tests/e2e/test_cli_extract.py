"""``haystack extract KIND FILE``: JSON lines on stdout and nothing else, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import REAL


def haystack_extract(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "haystack_collector", "extract", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd, timeout=60)


def records(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_craigslist_search_page_gives_one_line_per_listing(tmp_path: Path) -> None:
    page = REAL / "craigslist_search" / "cl2019_sfbay_sof_jobs_resultrow.html"
    found = records(haystack_extract("craigslist-search", page, cwd=tmp_path))
    assert len(found) > 0
    first = found[0]
    assert set(first) == {"post_id", "title", "url", "price", "posted", "hood", "nearby"}
    assert first["url"].startswith("https://")


def test_a_posting_gives_exactly_one_record(tmp_path: Path) -> None:
    page = REAL / "craigslist_posting" / "cl_deleted_by_author.html"
    [posting] = records(haystack_extract("craigslist-posting", page, cwd=tmp_path))
    assert posting["status"] == "deleted"


def test_page_resolves_links_against_the_base_url(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<title>T &amp; U</title><a href='/a'>A</a><img src='i.png' alt='x' width='3'>"
        "<form name='f' action='/s'><input name='q' value='py'></form>"
    )
    [record] = records(
        haystack_extract("page", page, "--base-url", "http://x.test/d/", cwd=tmp_path)
    )
    assert record["title"] == "T & U"
    assert record["links"] == [{"url": "http://x.test/a", "text": "A"}]
    assert record["images"] == [
        {"src": "http://x.test/d/i.png", "alt": "x", "width": 3, "height": None}
    ]
    [form] = record["forms"]
    assert (form["name"], form["action"], form["method"]) == ("f", "http://x.test/s", "GET")
    assert form["fields"] == [{"name": "q", "type": "text", "default": "py"}]


def test_zero_records_is_success_with_empty_output(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    result = haystack_extract("craigslist-search", empty, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")


def test_binary_garbage_does_not_crash_an_extractor(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 64)
    for kind in ("craigslist-search", "feed", "bookmarks", "page"):
        result = haystack_extract(kind, garbage, cwd=tmp_path)
        assert result.returncode == 0, (kind, result.stderr)
        for line in result.stdout.splitlines():
            json.loads(line)


@pytest.mark.parametrize("make", ["missing", "directory", "fifo"])
def test_an_unreadable_file_is_one_error_line_and_exit_2(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nothing-here.html"
    if make == "directory":
        target.mkdir()
    elif make == "fifo":
        os.mkfifo(target)  # reading it used to wait for a writer forever
    result = haystack_extract("page", target, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot read ")
    assert "nothing-here.html" in line
    if make != "missing":
        assert line.endswith("not a regular file")


def test_a_page_nested_past_the_limit_says_why_and_prints_nothing(tmp_path: Path) -> None:
    page = tmp_path / "deep.html"
    page.write_bytes(b"<div>" * 200_000 + b"<a href='/x'>x</a>")
    result = haystack_extract("page", page, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    assert "nested too deeply to parse" in result.stderr


def test_an_unknown_kind_is_a_usage_error(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>")
    result = haystack_extract("tweets", page, cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown extractor kind 'tweets'" in result.stderr


def test_a_file_that_is_not_a_feed_says_so_on_stderr_and_prints_nothing(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>not a feed</p></body></html>")
    result = haystack_extract("feed", page, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.startswith("note: no records: not an RSS, Atom or JSON feed")


def test_a_shipped_site_definition_reads_a_listing_and_a_detail_page(tmp_path: Path) -> None:
    board = REAL / "jobboard"
    listing = records(
        haystack_extract("site:realpython", board / "realpython_fakejobs_index.html", cwd=tmp_path)
    )
    assert len(listing) == 100
    assert listing[0]["posting"]["title"] == "Senior Python Developer"
    assert listing[0]["url"].endswith("/fake-jobs/jobs/senior-python-developer-0.html")
    detail_page = board / "realpython_fakejobs_detail_senior-python-developer-0.html"
    [detail] = records(haystack_extract("site:realpython", detail_page, cwd=tmp_path))
    assert detail["posting"]["company"] == "Payne, Roberts and Davis"
    assert detail["fields"]["description"].startswith("Professional asset web application")


def test_an_unknown_site_is_a_usage_error(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>")
    result = haystack_extract("site:nowhere", page, cwd=tmp_path)
    assert result.returncode == 2
    assert "no site definition 'nowhere'" in result.stderr


def test_feeds_and_bookmarks_come_out_as_records(tmp_path: Path) -> None:
    feed = REAL / "feeds" / "rss20_guardian.rss"
    entries = records(haystack_extract("feed", feed, cwd=tmp_path))
    assert entries
    assert set(entries[0]) == {
        "id",
        "title",
        "link",
        "published",
        "updated",
        "author",
        "summary",
        "categories",
    }
    marks = REAL / "bookmarks" / "netscape_chromium_nested.htm"
    found = records(haystack_extract("bookmarks", marks, cwd=tmp_path))
    assert found
    assert set(found[0]) == {"url", "title", "folder", "added", "tags", "description"}
