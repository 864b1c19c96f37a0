"""Bookmarks from browser exports, Internet Shortcuts, ``.webloc`` files and URL lists.

Formats, told apart by content (``detect_bookmark_format``):

- ``netscape``: the NETSCAPE-Bookmark-file-1 HTML every browser and service exports
  (Chrome, Firefox, Safari, IE, delicious, Google): ``<DT><A HREF ...>`` links, ``<H3>``
  folders around ``<DL>`` lists, ``<DD>`` descriptions, ``ADD_DATE`` and ``TAGS`` attributes.
  Read with one regular-expression scan and an explicit folder stack, so 100,000 links take
  well under a second. Lists nested more than ``MAX_FOLDER_DEPTH`` deep raise
  ``DocumentLimitError``: every link carries its folder path, so a file putting each link one
  folder deeper would otherwise need memory growing with the square of its size.
- ``url``: a Windows Internet Shortcut (``[InternetShortcut]`` ``URL=...``, any line endings,
  other sections and keys ignored).
- ``webloc``: an Apple property list, XML or binary, with a ``URL`` key (``plistlib``).
- ``text``: one URL a line; lines that are not absolute URLs are skipped.

Every link is returned as exported, whatever its scheme (Firefox's ``place:`` queries too);
deciding which are worth fetching is the caller's business. Garbage gives no records. Every
step is linear in the file's size, so no size cap applies here beyond the caller's (the
haystackFolder engine's ``max_file_bytes``).
"""

from __future__ import annotations

import html
import plistlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Literal
from urllib.parse import urljoin

from haystack_collector.extract.limits import DocumentLimitError

__all__ = [
    "MAX_FOLDER_DEPTH",
    "Bookmark",
    "BookmarkFormat",
    "detect_bookmark_format",
    "extract_bookmark_file",
    "extract_bookmarks",
]

BookmarkFormat = Literal["netscape", "url", "webloc", "text"]
MAX_FOLDER_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Bookmark:
    """One bookmarked URL; ``folder`` is the folder path from the root (outermost first)."""

    url: str
    title: str | None
    folder: list[str]
    added: datetime | None
    tags: list[str]
    description: str | None


def extract_bookmarks(data: bytes, *, base_url: str | None = None) -> list[Bookmark]:
    """Every bookmark in ``data``, whatever the format; [] when there are none."""
    return extract_bookmark_file(data, base_url=base_url)


def extract_bookmark_file(
    data: bytes, *, name: str | None = None, base_url: str | None = None
) -> list[Bookmark]:
    """``extract_bookmarks`` with the file's name as a hint: a shortcut's title is its name,
    and the extension settles what content alone cannot."""
    title = (PurePath(name).stem or None) if name else None
    match detect_bookmark_format(data, name=name):
        case "netscape":
            return _netscape(_decode(data), base_url)
        case "url":
            return _shortcut(_internet_shortcut(_decode(data)), title, base_url)
        case "webloc":
            return _shortcut(_webloc(data), title, base_url)
        case "text":
            return _url_list(_decode(data), base_url)
        case None:
            return []


def detect_bookmark_format(data: bytes, *, name: str | None = None) -> BookmarkFormat | None:
    """The format of ``data`` by content, the name's extension breaking ties; None if unknown."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = head.lower()
    suffix = PurePath(name).suffix.lower() if name else ""
    if head.startswith(b"bplist00") or b"<plist" in lowered or b"<!doctype plist" in lowered:
        return "webloc"
    if _SHORTCUT_SECTION.search(data[:65536]) is not None:
        return "url"
    if b"netscape-bookmark-file" in lowered or _ANCHOR.search(data[:65536]) is not None:
        return "netscape"
    if _looks_binary(data):
        return None
    if suffix == ".url":  # a shortcut without its section header is still a shortcut
        return "url"
    return "text"


# --- decoding -----------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"charset\s*=\s*[\"']?\s*([\w.:\-]+)", re.IGNORECASE)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else the declared charset, else Windows-1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _META_CHARSET.search(data[:8192])
    for encoding in (declared.group(1).decode("ascii") if declared else None, "cp1252"):
        if encoding:
            try:
                return data.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return data.decode("latin-1")  # cannot fail: every byte is a character


def _looks_binary(data: bytes) -> bool:
    """NULs or mostly undecodable bytes in the first 8 KB: not a text file."""
    sample = data[:8192]
    if not sample or b"\x00" in sample:
        return bool(sample)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 4:  # a character cut at the sample's end is fine
            controls = sum(1 for byte in sample if byte < 9 or 13 < byte < 32)
            return controls > len(sample) // 100 or _mostly_high(sample)
    return False


def _mostly_high(sample: bytes) -> bool:
    return sum(1 for byte in sample if byte >= 0x80) > len(sample) // 3


# --- Netscape bookmark files --------------------------------------------------------------

_ANCHOR = re.compile(rb"<dt>\s*<a\s[^>]*href\s*=", re.IGNORECASE)
# The tags that matter; everything between them is text (a title, a description).
_TOKEN = re.compile(r"<(/?)(dl|dt|dd|h3|a|hr|h1)\b([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_TAG = re.compile(r"<[^>]*>")
_CLOSING = {tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in ("a", "h3")}
_SPACE = re.compile(r"\s+")


@dataclass(slots=True)
class _Pending:
    """A link read, waiting for the ``<DD>`` description that may follow it."""

    url: str
    title: str | None
    folder: list[str]
    added: datetime | None
    tags: list[str]
    description: str | None = None

    def freeze(self) -> Bookmark:
        return Bookmark(self.url, self.title, self.folder, self.added, self.tags, self.description)


def _netscape(text: str, base_url: str | None) -> list[Bookmark]:
    found: list[Bookmark] = []
    # One entry per open <DL>: the folder it belongs to, or None for the root list.
    stack: list[str | None] = []
    folder_name: str | None = None  # the last <H3>, which names the next <DL>
    folder: list[str] = []
    pending: _Pending | None = None
    describing: _Pending | None = None  # the link a <DD> right now would describe
    for closing, tag, attributes, end, text_after, next_start in _tokens(text):
        if tag == "dd":
            if describing is not None:
                describing.description = _text(text_after)
            describing = None
            continue
        if tag in {"dt", "hr"} or (tag in {"a", "h3"} and closing):
            continue
        if pending is not None:
            found.append(pending.freeze())
            pending = describing = None
        if tag == "dl":
            folder_name = _enter_or_leave(stack, folder_name, leave=bool(closing))
            folder = [name for name in stack if name is not None]
        elif tag == "h3":
            folder_name = _text(_inner(text, end, "h3", next_start)) or ""
        elif tag == "a":
            inner = _inner(text, end, "a", next_start)
            pending = describing = _link(attributes, inner, folder, base_url)
    if pending is not None:
        found.append(pending.freeze())
    return found


def _enter_or_leave(stack: list[str | None], folder_name: str | None, *, leave: bool) -> str | None:
    """Open (``<DL>``, named by the last ``<H3>``) or close (``</DL>``) a list; the name
    the next list would get."""
    if leave:
        if stack:
            stack.pop()
        return folder_name
    if len(stack) > MAX_FOLDER_DEPTH:  # the root list and MAX_FOLDER_DEPTH folders
        raise DocumentLimitError(
            f"bookmark folders nested too deeply: more than {MAX_FOLDER_DEPTH} deep"
        )
    stack.append(folder_name)
    return None


def _tokens(text: str) -> Iterator[tuple[str, str, str, int, str, int]]:
    """``(closing "/", lower-case tag, attributes, tag end, text up to the next token, where
    the next token starts)``; only a ``<DD>`` gets its text (slicing every link's would copy
    the whole file)."""
    matches = _TOKEN.finditer(text)
    match = next(matches, None)
    while match is not None:
        following = next(matches, None)
        next_start = following.start() if following else len(text)
        tag = match.group(2).lower()
        after = text[match.end() : next_start] if tag == "dd" else ""
        yield match.group(1), tag, match.group(3), match.end(), after, next_start
        match = following


def _inner(text: str, start: int, tag: str, next_start: int) -> str:
    """The text of an element from ``start`` to its closing tag (or the next line).

    An unclosed element's closing tag or line end is looked for only up to the next token:
    searching the rest of the file for each of them made a file without them quadratic.
    """
    if next_start < len(text) and _CLOSING[tag].match(text, next_start):
        return text[start:next_start]
    closing = _CLOSING[tag].search(text, start, next_start)
    end = closing.start() if closing else text.find("\n", start, next_start)
    return text[start : end if end != -1 else next_start]


def _link(attributes: str, inner: str, folder: list[str], base_url: str | None) -> _Pending | None:
    raw = {
        key.lower(): quoted or single or bare
        for key, quoted, single, bare in _ATTRIBUTE.findall(attributes)
    }
    # Only these are unescaped: ICON data URIs can be most of a file and are not used.
    found = {key: html.unescape(raw[key]) for key in ("href", "add_date", "tags") if key in raw}
    url = found.get("href", "").strip()
    if not url:
        return None
    return _Pending(
        url=urljoin(base_url, url) if base_url else url,
        title=_text(inner),
        folder=folder,  # shared by the folder's links: a new list per <DL>, never mutated
        added=_epoch(found.get("add_date")),
        tags=list(dict.fromkeys(t.strip() for t in found.get("tags", "").split(",") if t.strip())),
    )


def _text(markup: str | None) -> str | None:
    if markup is None:
        return None
    if "<" not in markup and "&" not in markup:
        return " ".join(markup.split()) or None
    cleaned = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()
    return cleaned or None


def _epoch(value: str | None) -> datetime | None:
    """ADD_DATE: seconds since 1970; some exporters write milli- or microseconds."""
    value = value.strip() if value else ""
    # isdigit() alone takes "²" and other Unicode digits that int() refuses; 30 digits is
    # already finer than nanoseconds.
    if not value.isascii() or not value.isdigit() or len(value) > 30:
        return None
    number = int(value)
    while number > 100_000_000_000:  # later than the year 5138 in seconds: finer units
        number //= 1000
    try:
        return datetime.fromtimestamp(number, UTC) if number > 0 else None
    except (OverflowError, OSError, ValueError):
        return None


# --- shortcuts and lists ------------------------------------------------------------------

_SHORTCUT_SECTION = re.compile(rb"^\s*\[InternetShortcut\]\s*$", re.IGNORECASE | re.MULTILINE)
_SECTION = re.compile(r"^\s*\[(.*)\]\s*$")
_URL_LINE = re.compile(r"^[a-z][a-z0-9+.\-]*://\S+$", re.IGNORECASE)


def _internet_shortcut(text: str) -> str | None:
    """The ``URL=`` of the ``[InternetShortcut]`` section (of the whole file if it has none)."""
    section: str | None = None
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header is not None:
            section = header.group(1).strip().lower()
            continue
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "url" and section in {None, "internetshortcut"}:
            return value.strip() or None
    return None


def _webloc(data: bytes) -> str | None:
    try:
        loaded = plistlib.loads(data)
    except Exception:  # plistlib raises many kinds on garbage; all mean "not a webloc"
        return None
    url = loaded.get("URL") if isinstance(loaded, dict) else None
    return (url.strip() or None) if isinstance(url, str) else None


def _shortcut(url: str | None, title: str | None, base_url: str | None) -> list[Bookmark]:
    if not url:
        return []
    return [Bookmark(urljoin(base_url, url) if base_url else url, title, [], None, [], None)]


def _url_list(text: str, base_url: str | None) -> list[Bookmark]:
    found: dict[str, Bookmark] = {}
    for line in text.splitlines():
        candidate = line.strip()
        if _URL_LINE.match(candidate) and candidate not in found:
            url = urljoin(base_url, candidate) if base_url else candidate
            found[candidate] = Bookmark(url, None, [], None, [], None)
    return list(found.values())
