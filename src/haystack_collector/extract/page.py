"""Generic page extraction: title, links, frames, images, forms and crawl directives from one page.

Pure and synchronous (bytes or str in, frozen records out) because it runs on the crawl's hot
path: one lexbor parse, one CSS pass in document order, and Python work only on the elements
that are kept.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from haystack_collector.extract.limits import check_markup
from haystack_collector.urls import canonicalize

__all__ = ["Field", "Form", "Image", "Link", "Page", "extract_page"]

# Everything the extractor reads, in one selector so lexbor walks the tree once.
_SELECTOR = "title, a[href], area[href], frame[src], iframe[src], img, form, link[rel][href], meta"
_FIELD_SELECTOR = "input, select, textarea, button"
_FORM_METHODS = frozenset({"GET", "POST", "DIALOG"})
# "5; url='/next'", "0;URL=/next", "3, /next": the forms browsers accept; no delay, no refresh.
_REFRESH_PREFIX = re.compile(r"\s*[\d.]+\s*[;,]?\s*(?:url\s*=\s*)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Link:
    """A hyperlink: canonical absolute URL and its whitespace-collapsed text."""

    url: str
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    """An <img> with a resolvable http(s) src; width/height only when numeric attributes."""

    src: str
    alt: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class Field:
    """A named form control and the value the form would submit without user input."""

    name: str
    type: str
    default: str | None


@dataclass(frozen=True, slots=True)
class Form:
    """A <form>: resolved action (None when not http(s)), upper-cased method and named fields."""

    name: str | None
    action: str | None
    method: str
    fields: list[Field] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Page:
    """What the crawler needs from one page."""

    title: str | None
    base_url: str | None
    links: list[Link] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    # <frame src> and <iframe src>: documents the page shows, in document order, once each.
    frames: list[str] = field(default_factory=list)
    meta_refresh: str | None = None
    canonical: str | None = None
    robots_noindex: bool = False
    robots_nofollow: bool = False
    # The visible text of <body> (scripts, styles and templates left out), one line per
    # text node; only when asked for (``visible_text=True``).
    text: str | None = None


def _collapse(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _dimension(value: str | None) -> int | None:
    """Return an int for a purely numeric width/height attribute ("120", " 120 "), else None."""
    if value is None:
        return None
    value = value.strip()
    # More than 9 digits is no real size, and int() refuses very long digit strings.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def _decode(html: str | bytes, encoding: str | None) -> str:
    if isinstance(html, str):
        return html
    if encoding:
        try:
            return html.decode(encoding, errors="replace")
        except LookupError:
            pass  # an unknown charset label: fall back to UTF-8 like the default case
    return html.decode("utf-8", errors="replace")


def extract_page(
    html: str | bytes,
    *,
    base_url: str | None = None,
    encoding: str | None = None,
    visible_text: bool = False,
) -> Page:
    """Extract title, links, images, forms, canonical, meta refresh and robots meta from a page.

    `base_url` is the page's own URL; a ``<base href>`` overrides it for resolution. Bytes are
    decoded with `encoding`, or as UTF-8 with replacement characters when it is not given: the
    fetcher does the real charset detection and should pass text or the encoding it found.
    Malformed input never raises; it just yields less. A document beyond the parse limits
    (see ``limits.py``) raises ``DocumentLimitError`` before it is parsed. ``visible_text``
    also reads the body's visible text from the same parse (``Page.text``).
    """
    text = _decode(html, encoding)
    check_markup(text)
    # NUL is a parse error that HTML tokenizers replace; do it before lexbor sees it.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    document_url = canonicalize(base_url) if base_url else None
    tree = LexborHTMLParser(text)
    page = _PageBuilder(document_url, _effective_base(tree, document_url))
    for node in tree.css(_SELECTOR):
        tag = node.tag
        if tag == "a" or tag == "area":  # noqa: PLR1714 - two compares beat a set on the hot path
            page.add_link(node, tag)
        else:
            page.add_other(node, tag)
    built = page.build()
    if not visible_text:
        return built
    return dataclasses.replace(built, text=_visible_text(tree))


_INVISIBLE = "script, style, noscript, template"


def _visible_text(tree: LexborHTMLParser) -> str:
    """The body's text without what browsers never show (read after the links: it edits)."""
    body = tree.body
    if body is None:
        return ""
    for node in body.css(_INVISIBLE):
        node.decompose()
    return body.text(separator="\n")


def _effective_base(tree: LexborHTMLParser, document_url: str | None) -> str | None:
    """The first ``<base href>`` applies to the whole document, even links before it."""
    node = tree.css_first("base[href]")
    if node is None:
        return document_url
    resolved = canonicalize(node.attributes.get("href") or "", document_url)
    return resolved if resolved is not None else document_url


class _PageBuilder:
    """Accumulates one page's records while its elements are visited in document order."""

    __slots__ = (
        "base",
        "canonical",
        "document_url",
        "forms",
        "frames",
        "images",
        "links",
        "meta_refresh",
        "nofollow",
        "noindex",
        "resolved",
        "seen",
        "title",
    )

    def __init__(self, document_url: str | None, base: str | None) -> None:
        self.document_url = document_url
        self.base = base
        self.title: str | None = None
        self.links: list[Link] = []
        # Real pages repeat hrefs (navigation, "#" anchors): each spelling is resolved once,
        # and each canonical URL is listed once, with its first text.
        self.resolved: dict[str, str | None] = {}
        self.seen: set[str] = set()
        self.images: list[Image] = []
        self.forms: list[Form] = []
        self.frames: list[str] = []
        self.meta_refresh: str | None = None
        self.canonical: str | None = None
        self.noindex = False
        self.nofollow = False

    def add_link(self, node: LexborNode, tag: str) -> None:
        attrs = node.attributes
        href = attrs.get("href")
        if not href or href in self.resolved:
            return
        url = None if href.lstrip().startswith("#") else canonicalize(href, self.base)
        self.resolved[href] = url
        if url is None or url in self.seen:
            return
        self.seen.add(url)
        # A separator keeps block children apart ("Title</span><p>Company" is two words).
        label = node.text(deep=True, separator=" ") if tag == "a" else attrs.get("alt")
        self.links.append(Link(url, _collapse(label)))

    def add_other(self, node: LexborNode, tag: str | None) -> None:
        attrs = node.attributes
        if tag == "img":
            src = attrs.get("src")
            url = canonicalize(src, self.base) if src else None
            if url is not None:
                width, height = _dimension(attrs.get("width")), _dimension(attrs.get("height"))
                self.images.append(Image(url, attrs.get("alt"), width, height))
        elif tag == "frame" or tag == "iframe":  # noqa: PLR1714 - as in extract_page
            src = (attrs.get("src") or "").strip()
            url = canonicalize(src, self.base) if src and not src.startswith("#") else None
            if url is not None and url not in self.frames:
                self.frames.append(url)
        elif tag == "form":
            self.forms.append(_form(node, self.document_url, self.base))
        elif tag == "meta":
            self._add_meta(attrs)
        elif tag == "link":
            rel = (attrs.get("rel") or "").lower().split()
            if self.canonical is None and "canonical" in rel:
                self.canonical = canonicalize(attrs.get("href") or "", self.base)
        elif tag == "title" and self.title is None:
            # Only the first <title> counts; an <svg><title> later is a tooltip, not the page's.
            self.title = _collapse(node.text(deep=True))

    def _add_meta(self, attrs: dict[str, str | None]) -> None:
        name = (attrs.get("name") or "").strip().lower()
        if name == "robots":
            directives = {d.strip() for d in (attrs.get("content") or "").lower().split(",")}
            self.noindex = self.noindex or bool(directives & {"noindex", "none"})
            self.nofollow = self.nofollow or bool(directives & {"nofollow", "none"})
        elif self.meta_refresh is None and (attrs.get("http-equiv") or "").lower() == "refresh":
            self.meta_refresh = _refresh_target(attrs.get("content"), self.base)

    def build(self) -> Page:
        return Page(
            title=self.title,
            base_url=self.base,
            links=self.links,
            images=self.images,
            forms=self.forms,
            frames=self.frames,
            meta_refresh=self.meta_refresh,
            canonical=self.canonical,
            robots_noindex=self.noindex,
            robots_nofollow=self.nofollow,
        )


def _refresh_target(content: str | None, base: str | None) -> str | None:
    """Return the URL of a ``<meta http-equiv=refresh>``; None for a plain reload."""
    match = _REFRESH_PREFIX.match(content) if content else None
    if match is None or content is None:
        return None
    # Plain string operations, not a regex: a lazy pattern over the rest backtracks
    # quadratically on hostile content.
    url = content[match.end() :].strip()
    if len(url) >= 2 and url[0] in "'\"" and url[-1] == url[0]:
        url = url[1:-1]
    return canonicalize(url, base) if url else None


def _form(node: LexborNode, document_url: str | None, base: str | None) -> Form:
    attrs = node.attributes
    action_attr = attrs.get("action")
    # An absent or empty action submits to the document's own URL, not to <base href>.
    action = canonicalize(action_attr, base) if action_attr else document_url
    method = (attrs.get("method") or "GET").strip().upper()
    if method not in _FORM_METHODS:
        method = "GET"  # invalid methods fall back to GET, as browsers do
    fields = [item for item in (_field(control) for control in node.css(_FIELD_SELECTOR)) if item]
    return Form(attrs.get("name"), action, method, fields)


def _field(node: LexborNode) -> Field | None:
    attrs = node.attributes
    name = attrs.get("name")
    if not name:
        return None
    tag = node.tag
    if tag == "input":
        kind = (attrs.get("type") or "text").strip().lower()
        value = attrs.get("value")
        if kind in {"checkbox", "radio"}:
            # Unchecked boxes are not submitted; a checked one without value sends "on".
            return Field(
                name, kind, (value if value is not None else "on") if "checked" in attrs else None
            )
        return Field(name, kind, value or "")
    if tag == "select":
        return _select(node, name, "multiple" in attrs)
    if tag == "textarea":
        text = node.text(deep=True)
        return Field(name, "textarea", text)
    kind = (attrs.get("type") or "submit").strip().lower()
    return Field(name, kind, attrs.get("value") or "")


def _select(node: LexborNode, name: str, multiple: bool) -> Field:
    """A select submits its selected option; a single select without one submits the first."""
    options = node.css("option")
    chosen = next((o for o in options if "selected" in o.attributes), None)
    if chosen is None and not multiple and options:
        chosen = options[0]
    default: str | None = None
    if chosen is not None:
        value = chosen.attributes.get("value")
        default = value if value is not None else _collapse(chosen.text(deep=True))
    return Field(name, "select-multiple" if multiple else "select", default)
