"""Every extractor on random bytes and on mutated real files: records or its documented error.

Mutations: byte flips, truncation, duplicated segments, and deep nesting injected anywhere.
Whatever comes in, an extractor returns records of its documented shape, or raises the error
its module documents (``ExtractionError``: ``FeedError`` for feeds, ``DocumentLimitError``
past the parse limits, ``SiteChangedError`` for a site's missing form), each in bounded time.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haystack_collector.errors import ExtractionError
from haystack_collector.extract import craigslist, sites
from haystack_collector.extract.bookmarks import Bookmark, extract_bookmark_file
from haystack_collector.extract.craigslist import Posting, SearchResult
from haystack_collector.extract.feed import FeedEntry, FeedError, FeedInfo, parse_feed
from haystack_collector.extract.kinds import PageRecord, extract_page_record
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.records import to_json
from haystack_collector.extract.sites import SiteChangedError, SiteRecord

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real"
BASE = "https://example.test/dir/page.html"
# Generous: every call takes milliseconds; a quadratic blow-up takes minutes.
SECONDS_PER_CALL = 10
FUZZ = settings(
    max_examples=100,
    deadline=None,  # timed by the test itself, with a bound a busy machine cannot break
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples every run: a failure is reproducible as it is
)


def real_files(*folders: str, max_size: int = 2**31) -> list[bytes]:
    paths = [path for folder in folders for path in sorted((REAL / folder).iterdir())]
    found = [path.read_bytes() for path in paths if path.stat().st_size <= max_size]
    assert found, f"no real files in {folders}"
    return found


HTML_PAGES = real_files("misc_html", "jobboard", "craigslist_search", "craigslist_posting")
# feedparser's loose parser, where most mutations send it, takes seconds on the largest.
FEEDS = real_files("feeds", max_size=64 * 1024)
BOOKMARKS = real_files("bookmarks")
SEARCHES = real_files("craigslist_search")
POSTINGS = real_files("craigslist_posting")
JOB_BOARDS = real_files("jobboard")

NESTING = [b"<div>", b"<b>", b"<x>", b"<table>", b"<DL><p>", b"[", b'{"a":', b"<span><i>"]


@st.composite
def mutated(draw: st.DrawFn, originals: Sequence[bytes]) -> bytes:
    """A real file after a few random mutations."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        size = len(data)
        at = draw(st.integers(0, size))
        match draw(st.sampled_from(["flip", "truncate", "duplicate", "nest", "insert"])):
            case "flip" if size:
                for _ in range(draw(st.integers(1, 16))):
                    spot = draw(st.integers(0, size - 1))
                    data[spot] = draw(st.integers(0, 255))
            case "truncate":
                data = data[:at]
            case "duplicate":
                end = min(size, at + draw(st.integers(0, 4096)))
                data[at:at] = data[at:end] * draw(st.integers(1, 20))
            case "nest":
                # Deeper than the limit, or just under it, anywhere in the document.
                depth = draw(st.sampled_from([100, 600, 4_000, 30_000]))
                data[at:at] = draw(st.sampled_from(NESTING)) * depth
            case _:
                data[at:at] = draw(st.binary(max_size=64))
    return bytes(data)


def documents(originals: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=4096), mutated(originals))


def run(extract: Callable[[bytes], Sequence[Any]], data: bytes, *errors: type) -> list[Any]:
    """The records of ``extract(data)`` ([] for a documented error), timed."""
    started = time.perf_counter()
    try:
        found = list(extract(data))
    except (DocumentLimitError, *errors):
        found = []
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_CALL, f"{elapsed:.1f}s for {len(data)} bytes"
    for record in found:
        json.loads(to_json(record))  # every record serializes as its JSON line
    return found


def optional(value: Any, kind: type | tuple[type, ...]) -> bool:
    return value is None or isinstance(value, kind)


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(value, str) for value in values)


# --- the generic page -----------------------------------------------------------------------


@FUZZ
@given(documents(HTML_PAGES + BOOKMARKS))
def test_page(data: bytes) -> None:
    for record in run(lambda d: extract_page_record(d, base_url=BASE), data):
        assert isinstance(record, PageRecord)
        assert optional(record.title, str)
        assert all(is_url(link.url) and isinstance(link.text, str) for link in record.links)
        assert all(is_url(image.src) for image in record.images)
        assert all(image.width is None or image.width >= 0 for image in record.images)
        assert all(form.method in {"GET", "POST", "DIALOG"} for form in record.forms)


# --- craigslist -----------------------------------------------------------------------------


@FUZZ
@given(documents(SEARCHES))
def test_craigslist_search(data: bytes) -> None:
    base = "https://sfbay.craigslist.org/search/sss"
    for row in run(lambda d: craigslist.extract_search(d, base_url=base), data):
        assert isinstance(row, SearchResult)
        assert row.url is not None or row.post_id is not None
        assert optional(row.title, str)
        assert optional(row.hood, str)
        assert optional(row.price, (int, float))
        assert optional(row.posted, (date, datetime))
    run(lambda d: [craigslist.search_next_url(d, base_url=base)], data)


@FUZZ
@given(documents(POSTINGS))
def test_craigslist_posting(data: bytes) -> None:
    base = "https://sfbay.craigslist.org/sfc/apa/1234567890.html"
    found = run(lambda d: craigslist.extract_posting(d, base_url=base), data)
    assert len(found) <= 1  # exactly one, unless the page was refused
    for posting in found:
        assert isinstance(posting, Posting)
        assert posting.status in {"active", "deleted", "flagged", "expired"}
        assert optional(posting.title, str)
        assert optional(posting.body, str)
        assert strings(posting.attributes)
        assert strings(posting.images)
        assert optional(posting.latitude, float)
        assert optional(posting.longitude, float)


# --- feeds ----------------------------------------------------------------------------------


@FUZZ
@given(documents(FEEDS))
def test_feed(data: bytes) -> None:
    for found in run(lambda d: [parse_feed(d, base_url=BASE)], data, FeedError):
        info, entries = found
        assert isinstance(info, FeedInfo)
        assert isinstance(info.format, str)
        for entry in entries:
            assert isinstance(entry, FeedEntry)
            assert optional(entry.title, str)
            assert optional(entry.summary, str)
            assert entry.link is None or "://" in entry.link
            for moment in (entry.published, entry.updated):
                assert moment is None or moment.utcoffset() is not None
            assert strings(entry.categories)


# --- bookmarks ------------------------------------------------------------------------------


@FUZZ
@given(documents(BOOKMARKS), st.sampled_from([None, "x.html", "x.url", "x.webloc", "x.txt"]))
def test_bookmarks(data: bytes, name: str | None) -> None:
    for bookmark in run(lambda d: extract_bookmark_file(d, name=name, base_url=BASE), data):
        assert isinstance(bookmark, Bookmark)
        assert isinstance(bookmark.url, str)
        assert bookmark.url
        assert optional(bookmark.title, str)
        assert optional(bookmark.description, str)
        assert strings(bookmark.folder)
        assert strings(bookmark.tags)
        assert bookmark.added is None or bookmark.added.utcoffset() is not None


# --- declarative sites ----------------------------------------------------------------------

SITES = sites.builtin_sites()


@pytest.mark.parametrize("name", sorted(SITES))
@settings(FUZZ, max_examples=40)
@given(data=documents(JOB_BOARDS))
def test_site(name: str, data: bytes) -> None:
    defn = SITES[name]

    def listing(document: bytes) -> list[Any]:
        page = sites.read_listing(defn, document, base_url=BASE)
        assert page.next_url is None or is_url(page.next_url)
        return [*page.records]

    def detail(document: bytes) -> list[Any]:
        if defn.detail is None:
            return []
        record = sites.read_detail(defn, document, base_url=BASE).record
        return [] if record is None else [record]

    for record in run(listing, data) + run(detail, data):
        assert isinstance(record, SiteRecord)
        assert set(record.fields) <= set(defn.listing.fields) | set(
            defn.detail.fields if defn.detail else {}
        )
        assert record.url is None or isinstance(record.url, str)
    if defn.search is not None:
        forms = run(
            lambda d: [sites.find_form(defn, d, BASE, keyword="py")], data, SiteChangedError
        )
        assert all(form.method in {"GET", "POST"} for form in forms)


def test_the_documented_errors_are_extraction_errors() -> None:
    # What the fuzz tests let through is what ``haystack extract`` reports as a note.
    for error in (DocumentLimitError, FeedError, SiteChangedError):
        assert issubclass(error, ExtractionError) or error is FeedError
    assert dataclasses.is_dataclass(PageRecord)
