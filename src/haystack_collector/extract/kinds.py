"""The extractors ``haystack extract KIND FILE`` can run, by kind name.

A document that is not of the kind at all (an HTML page given as a feed) raises
``ExtractionError``; the command reports it on stderr and prints no records. Each kind maps
to a pure function ``(data: bytes, *, base_url) -> list[record]`` (see
``records.py``). ``site:NAME`` applies a declarative site definition (shipped or a path to a
``.yaml``/``.toml`` file) to a listing page, or to a detail page when the listing selectors
match nothing there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from haystack_collector.errors import ConfigError, ExtractionError
from haystack_collector.extract import craigslist, page
from haystack_collector.fetch.decode import decode_body

__all__ = ["KINDS", "PageRecord", "extract", "extract_page_record"]

Extractor = Callable[..., Sequence[Any]]


@dataclass(frozen=True, slots=True)
class PageLink:
    url: str
    text: str


@dataclass(frozen=True, slots=True)
class PageRecord:
    """The ``page`` kind's one record: a page's title, links, images and forms."""

    title: str | None
    links: list[PageLink]
    images: list[page.Image]
    forms: list[page.Form]


def extract_page_record(data: bytes, *, base_url: str | None = None) -> list[PageRecord]:
    """One record for any HTML page; bytes decoded as the fetcher would (header aside)."""
    text, _ = decode_body(data)
    found = page.extract_page(text, base_url=base_url)
    return [
        PageRecord(
            title=found.title,
            links=[PageLink(link.url, link.text) for link in found.links],
            images=found.images,
            forms=found.forms,
        )
    ]


def _feed(data: bytes, *, base_url: str | None = None) -> Sequence[Any]:
    from haystack_collector.extract.feed import FeedError, extract_feed  # noqa: PLC0415

    try:
        return extract_feed(data, base_url=base_url)
    except FeedError as error:  # not a feed at all: no records, and the reason
        raise ExtractionError(str(error)) from error


def _bookmarks(data: bytes, *, base_url: str | None = None) -> Sequence[Any]:
    from haystack_collector.extract.bookmarks import extract_bookmarks  # noqa: PLC0415

    return extract_bookmarks(data, base_url=base_url)


KINDS: dict[str, Extractor] = {
    "craigslist-search": craigslist.extract_search,
    "craigslist-posting": craigslist.extract_posting,
    "feed": _feed,
    "bookmarks": _bookmarks,
    "page": extract_page_record,
}


def extract(kind: str, data: bytes, *, base_url: str | None = None) -> Sequence[Any]:
    """Run the extractor of ``kind`` on ``data``; an unknown kind is a ConfigError."""
    if kind.startswith("site:"):
        return _site(kind.removeprefix("site:"), data, base_url=base_url)
    extractor = KINDS.get(kind)
    if extractor is None:
        known = ", ".join([*KINDS, "site:NAME"])
        raise ConfigError(f"unknown extractor kind {kind!r} (known: {known})", setting="kind")
    return extractor(data, base_url=base_url)


def _site(name: str, data: bytes, *, base_url: str | None) -> Sequence[Any]:
    from haystack_collector.extract import sites  # noqa: PLC0415 - only for site: kinds

    if name.endswith((".yaml", ".yml", ".toml")):
        definition = sites.load_site(name)
    else:
        shipped = sites.builtin_sites()
        if name not in shipped:
            known = ", ".join(sorted(shipped)) or "none"
            raise ConfigError(f"no site definition {name!r} (shipped: {known})", setting="kind")
        definition = shipped[name]
    page = sites.read_listing(definition, data, base_url=base_url)
    if page.records or definition.detail is None:
        return page.records
    detail = sites.read_detail(definition, data, base_url=base_url)
    return [] if detail.record is None else [detail.record]
