"""Feed entries from RSS 0.9x/1.0/2.0, Atom and JSON Feed documents.

XML feeds go through feedparser; JSON Feed (1.0 and 1.1), which feedparser 6 does not read,
is parsed here with ``json``. Titles and summaries come out as plain text (markup removed,
entities decoded), links absolute (one that cannot be made absolute is None), dates
timezone-aware UTC; ``updated`` is None when the feed gives no update time. An entry with a
single date (RSS 1.0's ``dc:date``, an Atom entry's required ``updated``, JSON Feed's
``date_modified``) has it as ``published`` too, so every dated entry sorts by ``published``.

Entity expansion (billion laughs, external entities): every ``<!DOCTYPE ...>`` declaration,
internal subset included, is STRIPPED before parsing rather than the document refused. Real
feeds still carry doctypes (RSS 0.91 points at Netscape's DTD) and are worth reading; with the
declarations gone an entity reference is merely undefined, so nothing is expanded and nothing
is fetched. feedparser's own doctype filter and expat's amplification limit stay behind it as
a second and third line.

A document that is not a feed at all (an HTML page, garbage, JSON that is not a JSON Feed)
raises ``FeedError``; a feed with no entries is an empty list. A document beyond the parse
limits (``limits.py``: too large, or XML nested too deeply) raises ``DocumentLimitError``
before it is parsed; a JSON Feed nested deeper than ``json`` recurses is a ``FeedError``.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from haystack_collector.extract.limits import check_markup, check_size

__all__ = [
    "FeedEntry",
    "FeedError",
    "FeedInfo",
    "extract_feed",
    "feed_info",
    "html_to_text",
    "parse_feed",
]

_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_PROLOG = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_SPACE = re.compile(r"\s+")
_BOM = b"\xef\xbb\xbf"
_JSON_FEED = "jsonfeed.org/version/"
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class FeedError(ValueError):
    """The document is not a feed this module can read."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry (item) of a feed."""

    id: str | None
    title: str | None
    link: str | None
    published: datetime | None
    updated: datetime | None
    author: str | None
    summary: str | None
    categories: list[str]


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """The feed itself; ``format`` is feedparser's version name (``rss20``, ``atom10``, ...)
    or ``json1``/``json11`` for JSON Feed."""

    title: str | None
    link: str | None
    description: str | None
    format: str
    updated: datetime | None


def extract_feed(data: bytes, *, base_url: str | None = None) -> list[FeedEntry]:
    """Every entry of the feed in ``data``, in document order; FeedError if it is no feed."""
    json_feed = _json_feed(data)
    if json_feed is not None:
        return [_json_entry(item, json_feed, base_url) for item in _json_items(json_feed)]
    parsed = _parse_xml(data, base_url)
    return [_xml_entry(entry, base_url) for entry in parsed.entries]


def feed_info(data: bytes, *, base_url: str | None = None) -> FeedInfo:
    """The feed's own title, link, description, format and update time."""
    json_feed = _json_feed(data)
    if json_feed is not None:
        version = str(json_feed.get("version", ""))
        return FeedInfo(
            title=_text(json_feed.get("title")),
            link=_absolute(_text(json_feed.get("home_page_url")), base_url),
            description=_text(json_feed.get("description")),
            format="json11" if version.rstrip("/").endswith("1.1") else "json1",
            updated=None,
        )
    return _xml_info(_parse_xml(data, base_url), base_url)


def _xml_info(parsed: Any, base_url: str | None) -> FeedInfo:
    feed = parsed.feed
    return FeedInfo(
        title=_detail_text(feed, "title"),
        link=_absolute(_text(feed.get("link")), base_url),
        description=_detail_text(feed, "subtitle"),
        format=str(parsed.version),
        updated=_struct_date(dict.get(feed, "updated_parsed")),
    )


def parse_feed(data: bytes, *, base_url: str | None = None) -> tuple[FeedInfo, list[FeedEntry]]:
    """``feed_info`` and ``extract_feed`` from one parse."""
    json_feed = _json_feed(data)
    if json_feed is not None:
        return feed_info(data, base_url=base_url), extract_feed(data, base_url=base_url)
    parsed = _parse_xml(data, base_url)
    return _xml_info(parsed, base_url), [_xml_entry(entry, base_url) for entry in parsed.entries]


# --- XML feeds through feedparser ---------------------------------------------------------


def _prepare(data: bytes) -> bytes:
    """``data`` without leading whitespace before the XML declaration, and without a doctype."""
    head = data.removeprefix(_BOM).lstrip(b" \t\r\n")
    if head.startswith(b"<"):
        data = head  # "XML declaration not at start" would force feedparser's loose parser
    # A doctype can only follow the declaration, processing instructions and comments.
    prolog = _PROLOG.match(data)
    start = prolog.end() if prolog else 0
    doctype = _DOCTYPE.match(data, start)
    if doctype is None:
        return data
    return data[:start] + data[doctype.end() :]


def _parse_xml(data: bytes, base_url: str | None) -> Any:
    check_markup(data, xml=True)
    headers = {"content-location": base_url} if base_url else {}
    try:
        parsed = feedparser.parse(
            _prepare(data), response_headers=headers, resolve_relative_uris=True, sanitize_html=True
        )
    except Exception as error:
        # feedparser's own bugs on malformed input surface as anything (the fuzz test met
        # AttributeError, TypeError, UnicodeDecodeError and ValueError); all say "unreadable".
        raise FeedError(f"not a readable feed ({type(error).__name__}: {error})") from error
    if not parsed.get("version") and not parsed.get("entries"):
        problem = parsed.get("bozo_exception")
        detail = f": {problem}" if problem else ""
        raise FeedError(f"not an RSS, Atom or JSON feed{detail}")
    return parsed


def _xml_entry(entry: Any, base_url: str | None) -> FeedEntry:
    # dict.get: FeedParserDict.get would answer "updated" with the published date.
    # feedparser files dc:date under "updated".
    updated = _struct_date(dict.get(entry, "updated_parsed"))
    return FeedEntry(
        id=_text(entry.get("id")),
        title=_detail_text(entry, "title"),
        link=_absolute(_text(entry.get("link")), base_url),
        published=_struct_date(dict.get(entry, "published_parsed")) or updated,
        updated=updated,
        author=_text(entry.get("author")),
        summary=_summary(entry),
        categories=_unique(_text(tag.get("term")) for tag in entry.get("tags") or ()),
    )


def _detail_text(node: Any, key: str) -> str | None:
    """A text construct as plain text: HTML is reduced to its text, plain text kept."""
    value = node.get(key)
    if not isinstance(value, str):
        return None
    kind = (node.get(f"{key}_detail") or {}).get("type", "text/plain")
    return _text(html_to_text(value) if kind in _HTML_TYPES else value)


def _summary(entry: Any) -> str | None:
    """The summary, else the first content (an Atom entry with only ``<content>``)."""
    if entry.get("summary_detail"):
        return _detail_text(entry, "summary")
    for content in entry.get("content") or ():
        value = content.get("value")
        if isinstance(value, str):
            kind = content.get("type", "text/plain")
            return _text(html_to_text(value) if kind in _HTML_TYPES else value)
    return _text(entry.get("summary"))


def _struct_date(value: time.struct_time | None) -> datetime | None:
    """feedparser's dates are struct_time in UTC."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


# --- JSON Feed ----------------------------------------------------------------------------


def _json_feed(data: bytes) -> dict[str, Any] | None:
    """The JSON Feed object in ``data``, or None when ``data`` is no JSON Feed."""
    if not data.removeprefix(_BOM).lstrip().startswith(b"{"):
        return None
    check_size(data)
    try:
        loaded = json.loads(data.removeprefix(_BOM).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    except RecursionError as error:  # json recurses once per nested array or object
        raise FeedError("a JSON document nested too deeply to read") from error
    if isinstance(loaded, dict) and _JSON_FEED in str(loaded.get("version", "")):
        return loaded
    raise FeedError("a JSON document that is not a JSON Feed (no jsonfeed.org version)")


def _json_items(feed: dict[str, Any]) -> list[dict[str, Any]]:
    items = feed.get("items")
    if not isinstance(items, list):
        raise FeedError("a JSON Feed without an items array")
    return [item for item in items if isinstance(item, dict)]


def _json_entry(item: dict[str, Any], feed: dict[str, Any], base_url: str | None) -> FeedEntry:
    summary = _text(item.get("summary")) or _text(item.get("content_text"))
    if summary is None and isinstance(item.get("content_html"), str):
        summary = _text(html_to_text(item["content_html"]))
    raw_id = item.get("id")
    feed_base = _text(feed.get("home_page_url")) or base_url
    link = _text(item.get("url")) or _text(item.get("external_url"))
    modified = _iso_date(item.get("date_modified"))
    return FeedEntry(
        id=None if raw_id is None or isinstance(raw_id, dict | list) else str(raw_id),
        title=_text(html_to_text(item["title"])) if isinstance(item.get("title"), str) else None,
        link=_absolute(link, feed_base),
        published=_iso_date(item.get("date_published")) or modified,
        updated=modified,
        author=_json_author(item) or _json_author(feed),
        summary=summary,
        categories=_unique(_text(tag) for tag in item.get("tags") or () if isinstance(tag, str)),
    )


def _json_author(node: dict[str, Any]) -> str | None:
    """Version 1.1's ``authors`` (first named) or 1.0's ``author``."""
    candidates = node.get("authors")
    authors = list(candidates) if isinstance(candidates, list) else []
    authors.append(node.get("author"))
    for author in authors:
        if isinstance(author, dict) and _text(author.get("name")):
            return _text(author.get("name"))
    return None


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --- text helpers -------------------------------------------------------------------------


# Elements that do not break the text flow; every other tag separates words.
_INLINE = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "cite",
        "code",
        "data",
        "dfn",
        "em",
        "font",
        "i",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "time",
        "u",
        "var",
        "wbr",
    ]
)


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag not in _INLINE:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return _SPACE.sub(" ", "".join(parser.parts)).strip()


def _text(value: Any) -> str | None:
    """A non-empty string with collapsed whitespace, or None."""
    if not isinstance(value, str):
        return None
    cleaned = _SPACE.sub(" ", value).strip()
    return cleaned or None


def _absolute(url: str | None, base_url: str | None) -> str | None:
    """``url`` resolved against ``base_url``; None unless that gives a URL with a host (an
    entry's ``urn:`` id that feedparser offers as its link is no link)."""
    if url is None:
        return None
    resolved = urljoin(base_url, url) if base_url else url
    parts = urlsplit(resolved)
    return resolved if parts.scheme and parts.netloc else None


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))
