"""Craigslist search result pages and postings, in every markup era since 2009.

Pure extractors (bytes in, records out; see ``records.py``):

- ``extract_search``: one ``SearchResult`` per listing row, in page order. Eras read: bare
  ``<p> Mon DD - <a>title - $price -</a>`` rows (2009), ``p.row`` (2010-2015),
  ``li.result-row`` (2016-2022), ``li.cl-search-result`` (the 2023 browser-rendered DOM) and
  ``li.cl-static-search-result`` (server HTML since 2023). Rows after a "nearby areas" header
  are flagged ``nearby``.
- ``extract_posting``: exactly one ``Posting`` for a posting page of any era, including pages
  saying the posting was deleted, flagged or has expired.
- ``search_next_url``: the page's "next page" link, for walking result pages.

Malformed input never raises: a page that is not Craigslist yields no search results, and a
posting record whose fields are None. A page beyond the parse limits (``limits.py``) raises
``DocumentLimitError`` before it is parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from selectolax.lexbor import LexborHTMLParser, LexborNode

from haystack_collector.extract.limits import check_markup
from haystack_collector.fetch.decode import decode_body
from haystack_collector.urls import canonicalize

__all__ = [
    "Posting",
    "PostingStatus",
    "SearchResult",
    "extract_posting",
    "extract_search",
    "post_id_from_url",
    "search_next_url",
]

PostingStatus = Literal["active", "deleted", "flagged", "expired"]
Price = int | float


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One listing row of a search result page."""

    post_id: str | None
    title: str | None
    url: str | None
    price: Price | None
    posted: datetime | date | None
    hood: str | None
    nearby: bool


@dataclass(frozen=True, slots=True)
class Posting:
    """One posting page; ``status`` says whether the posting is still there."""

    post_id: str | None
    title: str | None
    body: str | None
    posted: datetime | None
    updated: datetime | None
    price: Price | None
    compensation: str | None
    employment_type: str | None
    attributes: list[str] = field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    images: list[str] = field(default_factory=list)
    status: PostingStatus = "active"


# --- shared helpers -------------------------------------------------------------------------

# A posting URL ends in its numeric id: /sfc/apa/123.html, /d/slug/123.html, /view/d/.../123.
_POST_ID_IN_URL = re.compile(r"/(\d{6,})(?:\.html?)?/?(?:[?#].*)?$")
_PRICE = re.compile(r"(\d[\d,]*(?:\.\d+)?)")
_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
# Elements after which text starts on a new line when a body is rendered as text.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "th", "thead",
        "tr", "ul",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style", "noscript", "template", "-comment"})


def _parse(data: bytes) -> LexborHTMLParser:
    check_markup(data)
    text = decode_body(data)[0] if data else ""
    # NUL is a parse error that HTML tokenizers replace; do it before lexbor sees it.
    return LexborHTMLParser(text.replace("\x00", "\ufffd"))


def _text(node: LexborNode | None) -> str | None:
    """Whitespace-collapsed text of a node's descendants (pieces joined by one space)."""
    if node is None:
        return None
    text = " ".join(node.text(deep=True, separator=" ", strip=True).split())
    return text or None


def _page_base(tree: LexborHTMLParser, base_url: str | None) -> str | None:
    """What relative links resolve against: <base href>, the canonical link, then base_url."""
    for selector in ("base[href]", 'link[rel="canonical"][href]'):
        node = tree.css_first(selector)
        if node is not None:
            resolved = canonicalize(node.attributes.get("href") or "", base_url)
            if resolved is not None:
                return resolved
    return canonicalize(base_url) if base_url else None


def _absolute(href: str | None, base: str | None) -> str | None:
    """``href`` made absolute; kept as written when there is nothing to resolve it against."""
    if not href or not href.strip():
        return None
    href = href.strip()
    if href.startswith("//") and base is None:
        href = "https:" + href
    return canonicalize(href, base) or (None if base else href)


def post_id_from_url(url: str | None) -> str | None:
    """The posting id a Craigslist posting URL ends in, or None."""
    if not url:
        return None
    match = _POST_ID_IN_URL.search(url)
    return match.group(1) if match else None


def _price(text: str | None) -> Price | None:
    """``$1,325`` → 1325, ``£12.50`` → 12.5; None without digits."""
    if not text:
        return None
    match = _PRICE.search(text)
    if match is None:
        return None
    number = match.group(1).replace(",", "")
    try:
        return float(number) if "." in number else int(number)
    except ValueError:
        return None


def _hood(text: str | None) -> str | None:
    """``" (santa rosa)"`` → ``"santa rosa"``."""
    if not text:
        return None
    text = " ".join(text.split()).strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text or None


_TIMEZONES = {
    "HST": -10, "AKST": -9, "AKDT": -8, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6,
    "CST": -6, "CDT": -5, "EST": -5, "EDT": -4, "AST": -4, "ADT": -3, "NST": -3.5,
    "NDT": -2.5, "UTC": 0, "GMT": 0,
}  # fmt: skip
# "2012-10-29, 11:19AM PDT" (2012-2014 postings; the zone is the site's).
_OLD_STAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2}),?\s+(\d{1,2}):(\d{2})\s*([AP]M)\s*([A-Z]{2,4})?", re.IGNORECASE
)


def _datetime(value: str | None) -> datetime | None:
    """A ``datetime`` attribute ("2015-01-03T16:06:20-0800", "2019-09-30 16:53"), or None."""
    if not value:
        return None
    value = value.strip()
    for pattern in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return _old_stamp(value)


def _old_stamp(text: str) -> datetime | None:
    match = _OLD_STAMP.search(text)
    if match is None:
        return None
    day, hour, minute, half, zone = match.groups()
    try:
        parsed = datetime.strptime(f"{day} {hour}:{minute} {half.upper()}", "%Y-%m-%d %I:%M %p")
    except ValueError:
        return None
    offset = _TIMEZONES.get((zone or "").upper())
    return parsed if offset is None else parsed.replace(tzinfo=timezone(timedelta(hours=offset)))


# --- search pages ---------------------------------------------------------------------------

# Every era's row (and the nearby-areas header) in one selector, so rows come in page order.
_ROWS = (
    "li.cl-static-search-result, li.cl-search-result, li.result-row, p.row, "
    "h4.nearby, li.nearby, div.nearby-results-header, h4.ban"
)
# 2009: "<p> Mar 19 - <a href=...>title - $4499 -</a><font size="-1"> (SoHo)</font>".
_BARE_ROW_DATE = re.compile(r"^\s*[A-Z][a-z]{2}\s+\d{1,2}\s+-\s*$")
_TITLE_PRICE = re.compile(r"^(.*?)\s+-\s+([^\w\s]\s?\d[\d,]*(?:\.\d+)?)\s+-\s*$|^(.*?)\s+-\s*$")
_NEARBY = re.compile(r"nearby\s+areas?|from\s+nearby", re.IGNORECASE)
_DISTANCE = re.compile(r"^\d+(?:\.\d+)?\s*mi$")
_RELATIVE_TIME = re.compile(r"\bago\b|^\d{1,2}/\d{1,2}$|^(?:today|yesterday)$", re.IGNORECASE)


def extract_search(data: bytes, *, base_url: str | None = None) -> list[SearchResult]:
    """Every listing row of a search result page, in page order (none for other pages)."""
    tree = _parse(data)
    base = _page_base(tree, base_url)
    results: list[SearchResult] = []
    nearby = False
    for node in tree.css(_ROWS):
        classes = set((node.attributes.get("class") or "").split())
        if node.tag == "h4" or "nearby" in classes or "nearby-results-header" in classes:
            # "ban" headers are also day banners (2014); only the nearby one changes sections.
            nearby = nearby or "nearby" in classes or bool(_NEARBY.search(_text(node) or ""))
            continue
        row = _row(node, classes, base, nearby=nearby)
        if row is not None:
            results.append(row)
    if not results:
        results = _bare_rows(tree, base)
    return results


def _row(
    node: LexborNode, classes: set[str], base: str | None, *, nearby: bool
) -> SearchResult | None:
    if "cl-static-search-result" in classes:
        return _static_row(node, base, nearby)
    if "cl-search-result" in classes:
        return _rendered_row(node, base, nearby)
    if "result-row" in classes:
        return _result_row(node, base, nearby)
    return _p_row(node, base, nearby)


def _result(  # noqa: PLR0917 - one row's fields
    node: LexborNode,
    link: LexborNode | None,
    title: str | None,
    price: Price | None,
    posted: datetime | date | None,
    hood: str | None,
    base: str | None,
    nearby: bool,
) -> SearchResult | None:
    url = _absolute(None if link is None else link.attributes.get("href"), base)
    post_id = node.attributes.get("data-pid") or post_id_from_url(url)
    if url is None and post_id is None:
        return None
    return SearchResult(post_id, title, url, price, posted, hood, nearby)


def _static_row(node: LexborNode, base: str | None, nearby: bool) -> SearchResult | None:
    """2023+ server HTML: li[title] > a > div.title, div.details > div.price, div.location."""
    title = _text(node.css_first(".title")) or _clean(node.attributes.get("title"))
    price = _price(_text(node.css_first(".price")))
    hood = _hood(_text(node.css_first(".location")))
    return _result(node, node.css_first("a[href]"), title, price, None, hood, base, nearby)


def _rendered_row(node: LexborNode, base: str | None, nearby: bool) -> SearchResult | None:
    """2023 browser DOM: a.posting-title > span.label, div.meta ("12 mins ago · Peabody")."""
    link = node.css_first("a.posting-title[href]") or node.css_first("a[href]")
    title = _text(node.css_first("a.posting-title .label")) or _clean(node.attributes.get("title"))
    price = _price(_text(node.css_first(".priceinfo")) or _text(node.css_first(".price")))
    hood = None
    meta = node.css_first(".meta")
    if meta is not None:
        parts = [
            " ".join(piece.split())
            for piece in meta.text(deep=True, separator="\u0001").split("\u0001")
        ]
        # Separators, the relative age and distances are not the neighbourhood.
        places = [
            p
            for p in parts
            if p and p != "·" and not _RELATIVE_TIME.search(p) and not _DISTANCE.match(p)
        ]
        hood = places[-1] if places else None
    return _result(node, link, title, price, None, hood, base, nearby)


def _result_row(node: LexborNode, base: str | None, nearby: bool) -> SearchResult | None:
    """2016-2022: time.result-date[datetime], a.result-title, span.result-price/-hood."""
    link = node.css_first("a.result-title[href]") or node.css_first("a[href]")
    time = node.css_first("time[datetime]")
    posted = _datetime(time.attributes.get("datetime")) if time is not None else None
    price = _price(_text(node.css_first(".result-price")))
    hood = _hood(_text(node.css_first(".result-hood")) or _text(node.css_first(".nearby")))
    return _result(node, link, _text(link), price, posted, hood, base, nearby)


def _p_row(node: LexborNode, base: str | None, nearby: bool) -> SearchResult | None:
    """2010-2015 ``p.row``: span.pl > a (or a bare a), span.price/itempp, itempn/pnr small.

    2010-2011 rows have no spans: ``Feb 23 - <a>title -</a> $490<font size="-1"> (hood)</font>
    <small class="gc">category</small>``.
    """
    link = node.css_first("span.pl a[href]") or node.css_first("a.hdrlnk[href]")
    if link is None:
        links = [a for a in node.css("a[href]") if "i" not in (a.attributes.get("class") or "")]
        link = next((a for a in links if _text(a)), None)
    time = node.css_first("time[datetime]")
    posted = _datetime(time.attributes.get("datetime")) if time is not None else None
    title = _text(link)
    price = _price(_text(node.css_first(".price")) or _text(node.css_first(".itempp")))
    if link is not None and title is not None and title.endswith("-"):
        title, in_title = _split_title_price(title)
        price = price if price is not None else in_title or _price_after(link)
    return _result(node, link, title, price, posted, _p_row_hood(node), base, nearby)


def _p_row_hood(node: LexborNode) -> str | None:
    """The neighbourhood of a ``p.row``, as each era wrote it, never its category.

    2012: ``span.itempn > font``; 2013-2015: ``span.pnr > small``; 2010-2011: a bare
    ``<font size="-1"> (hood)</font>``. Those bare tags, and any other ``small``, count only when
    their text is parenthesised, so the category (``small.gc``) and dates are never taken.
    """
    hood = _hood(_text(node.css_first(".itempn")) or _text(node.css_first(".pnr small")))
    if hood is not None:
        return hood
    for candidate in node.css("font, small"):
        text = _text(candidate)
        if text is not None and text.startswith("(") and text.endswith(")"):
            return _hood(text)
    return None


def _price_after(link: LexborNode) -> Price | None:
    """2010-2011: the price is the bare text between the title link and the hood's font."""
    sibling = link.next
    while sibling is not None and sibling.tag == "-text":
        price = _price(sibling.text())
        if price is not None:
            return price
        sibling = sibling.next
    return None


def _bare_rows(tree: LexborHTMLParser, base: str | None) -> list[SearchResult]:
    """2009: classless <p> rows, "Mon DD - " then the link; price inside the link text."""
    results: list[SearchResult] = []
    for p in tree.css("p"):
        first = p.child
        if first is None or first.tag != "-text" or not _BARE_ROW_DATE.match(first.text() or ""):
            continue
        link = p.css_first("a[href]")
        if link is None:
            continue
        title, price = _split_title_price(_text(link) or "")
        row = _result(p, link, title, price, None, _p_row_hood(p), base, False)
        if row is not None and row.post_id is not None:
            results.append(row)
    return results


def _split_title_price(raw: str) -> tuple[str | None, Price | None]:
    """ "Armoire - $4499 -" → ("Armoire", 4499); "Table -" → ("Table", None)."""
    match = _TITLE_PRICE.match(raw)
    if match is None:
        return _clean(raw), None
    if match.group(1) is not None:
        return _clean(match.group(1)), _price(match.group(2))
    return _clean(match.group(3)), None


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


_NEXT_LINKS = ("a.button.next[href]", "a.next[href]", 'link[rel="next"][href]')


def search_next_url(data: bytes, *, base_url: str | None = None) -> str | None:
    """The absolute URL of the next result page a search page links to, or None."""
    tree = _parse(data)
    base = _page_base(tree, base_url)
    for selector in _NEXT_LINKS:
        for node in tree.css(selector):
            url = _absolute(node.attributes.get("href"), base)
            if url is not None:
                return url
    # 2009-2012: "<a href=...><b>Next &gt;&gt;</b></a>" with no class.
    for node in tree.css("a[href]"):
        if (_text(node) or "").lower().startswith("next"):
            url = _absolute(node.attributes.get("href"), base)
            if url is not None and url.startswith(("http://", "https://")):
                return url
    return None


# --- posting pages --------------------------------------------------------------------------

_NOTICES: tuple[tuple[re.Pattern[str], PostingStatus], ...] = (
    (re.compile(r"this posting has been deleted", re.IGNORECASE), "deleted"),
    (re.compile(r"this posting has been flagged", re.IGNORECASE), "flagged"),
    (re.compile(r"this posting has expired", re.IGNORECASE), "expired"),
)
_POST_ID_TEXT = re.compile(r"post(?:ing)?\s*id\s*:\s*(\d{6,})", re.IGNORECASE)
_PID_SCRIPT = re.compile(r"""\bpID\s*=\s*["'](\d{6,})["']""")
_IMG_LIST = re.compile(r"\bimgList\s*=\s*(\[.*?\])\s*;", re.DOTALL)
_IMG_ARRAY = re.compile(r"\bimgList\s*=\s*new\s+Array\(([^)]*)\)", re.DOTALL)
_QUOTED_URL = re.compile(r"""["'](https?://[^"']+)["']""")
_LABELLED = re.compile(r"^\s*([^:]{1,40}?)\s*:\s*(.*)$", re.DOTALL)
# Leading "$2050 / 3br - 1108ft² - " of pre-2017 titles and their trailing "(hood)".
_TITLE_PREFIX = re.compile(
    r"^\s*(?:[^\w\s]\s?\d[\d,]*(?:\.\d+)?\s*)?(?:/\s*\d+br\s*)?(?:-\s*\d[\d,]*\s*ft\S*\s*)?-\s+",
    re.IGNORECASE,
)
_TRAILING_HOOD = re.compile(r"\s*\([^()]*\)\s*$")
# Links and notices that share the attribute blocks but describe no property of the item.
_NOT_ATTRIBUTES = re.compile(r"^more ads\s+by this user$|\bcontact (?:this poster|me)\b", re.I)


def extract_posting(data: bytes, *, base_url: str | None = None) -> list[Posting]:
    """Exactly one record for a posting page of any era; fields the page lacks are None."""
    tree = _parse(data)
    base = _page_base(tree, base_url)
    status = _status(tree)
    attributes = _attributes(tree)
    labelled = _labelled(attributes)
    posted, updated = _times(tree)
    latitude, longitude = _coordinates(tree)
    title, price = _title_and_price(tree, status)
    return [
        Posting(
            post_id=_posting_id(tree),
            title=title,
            body=_body(tree),
            posted=posted,
            updated=updated,
            price=price,
            compensation=labelled.get("compensation"),
            employment_type=labelled.get("employment type"),
            attributes=attributes,
            latitude=latitude,
            longitude=longitude,
            images=_images(tree, base),
            status=status,
        )
    ]


def _status(tree: LexborHTMLParser) -> PostingStatus:
    """What a removal notice says; a page without one is taken as an active posting."""
    candidates = [tree.css_first(".removed"), tree.css_first("#userbody"), tree.css_first("h2")]
    for node in candidates:
        text = _text(node) or ""
        for pattern, status in _NOTICES:
            if pattern.search(text):
                return status
    return "active"


def _posting_id(tree: LexborHTMLParser) -> str | None:
    for node in tree.css(".postinginfos .postinginfo, .postingidtext, p.postinginfo"):
        match = _POST_ID_TEXT.search(_text(node) or "")
        if match:
            return match.group(1)
    for node in tree.css("script"):
        match = _PID_SCRIPT.search(node.text() or "")
        if match:
            return match.group(1)
    return None


def _title_and_price(
    tree: LexborHTMLParser, status: PostingStatus
) -> tuple[str | None, Price | None]:
    heading = tree.css_first(".postingtitletext") or tree.css_first(".postingtitle")
    price = _price(_text(tree.css_first(".postingtitle .price")))
    title = _text(tree.css_first("#titletextonly"))
    if title is not None:
        return title, price
    if status != "active":
        return None, price  # the only heading is the removal notice
    if heading is None and not _is_posting_page(tree):
        return None, price  # a heading of some other page is no posting title
    if heading is None:
        heading = next((h for h in tree.css("h2") if "street-address" not in _classes(h)), None)
    raw = _text(heading)
    if raw is None:
        return _clean(_text(tree.css_first("title"))), price
    raw = raw.removeprefix("favorite this post").strip()
    if price is None and _TITLE_PREFIX.match(raw) and raw[:1] not in "-/":
        price = _price(raw.split("/")[0].split(" - ")[0])
    # The document title is the bare title when it differs from the heading (2012, 2015).
    page_title = _clean(_text(tree.css_first("title")))
    if page_title and page_title != raw and page_title in raw:
        return page_title, price
    stripped = _TRAILING_HOOD.sub("", _TITLE_PREFIX.sub("", raw, count=1))
    return (_clean(stripped) or raw), price


def _is_posting_page(tree: LexborHTMLParser) -> bool:
    body = tree.css_first("body")
    return (body is not None and "posting" in _classes(body)) or tree.css_first(
        "#userbody, #postingbody"
    ) is not None


def _classes(node: LexborNode) -> set[str]:
    return set((node.attributes.get("class") or "").split())


def _times(tree: LexborHTMLParser) -> tuple[datetime | None, datetime | None]:
    posted: datetime | None = None
    updated: datetime | None = None
    for node in tree.css(".postinginfos .postinginfo, #display-date, p.postinginfo"):
        label = (_text(node) or "").lower()
        time = node.css_first("time[datetime]")
        if time is not None:
            value = _datetime(time.attributes.get("datetime"))
        else:
            stamp = node.css_first("date")
            value = _old_stamp(_text(stamp) or label)
        if value is None:
            continue
        if label.startswith("updated") or label.startswith("edited"):
            updated = updated or value
        elif label.startswith("posted"):
            posted = posted or value
    if posted is None:
        # 2012: <span class="postingdate">Date: 2012-10-29, 11:19AM PDT</span>
        posted = _old_stamp(_text(tree.css_first(".postingdate")) or "")
    return posted, updated


def _coordinates(tree: LexborHTMLParser) -> tuple[float | None, float | None]:
    for node in tree.css("#map[data-latitude], #leaflet[data-latitude], [data-latitude]"):
        lat = _float(node.attributes.get("data-latitude"))
        lon = _float(node.attributes.get("data-longitude"))
        if lat is not None and lon is not None:
            return lat, lon
    meta = tree.css_first('meta[name="geo.position"]')
    if meta is not None:
        parts = (meta.attributes.get("content") or "").split(";")
        if len(parts) == 2:
            return _float(parts[0]), _float(parts[1])
    return None, None


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value and value.strip() else None
    except ValueError:
        return None
    return number if number is not None and abs(number) <= 180 else None


def _attributes(tree: LexborHTMLParser) -> list[str]:
    """The attribute group entries ("2BR / 1Ba", "odometer: 123456"); 2012: the blurbs."""
    found: list[str] = []
    for group in tree.css(".attrgroup"):
        for node in group.iter():
            if node.tag == "span" or (node.tag == "div" and "attr" in _classes(node)):
                text = _attribute_text(node)
                if text and not _NOT_ATTRIBUTES.search(text):
                    found.append(text)
    if not found:
        blurbs = (_text(li) for li in tree.css("ul.blurbs li"))
        found = [text for text in blurbs if text and not _NOT_ATTRIBUTES.search(text)]
    return found


def _attribute_text(node: LexborNode) -> str | None:
    """ "rent period: monthly" from span.labl + span.valu (2023+), else the text."""
    label, value = node.css_first(".labl"), node.css_first(".valu")
    if label is not None or value is not None:
        return _clean(" ".join(t for t in (_text(label), _text(value)) if t))
    return _text(node)


def _labelled(attributes: list[str]) -> dict[str, str]:
    """ "compensation: $40/hr" → {"compensation": "$40/hr"} (first of each label)."""
    found: dict[str, str] = {}
    for attribute in attributes:
        match = _LABELLED.match(attribute)
        if match and match.group(2).strip():
            found.setdefault(match.group(1).strip().lower(), match.group(2).strip())
    return found


def _images(tree: LexborHTMLParser, base: str | None) -> list[str]:
    """Full-size image URLs: the imgList script when there is one, else the gallery."""
    urls: list[str] = []
    for script in tree.css("script"):
        urls.extend(_script_images(script.text() or ""))
    if not urls:
        for node in tree.css("#thumbs a[href], #iwt a[href], .iw img[src], figure img[src]"):
            href = node.attributes.get("href") or node.attributes.get("src")
            if href and "50x50" not in href and "/thumb/" not in href:
                urls.append(href)
    resolved = (_absolute(url, base) for url in urls)
    return list(dict.fromkeys(url for url in resolved if url is not None))


def _script_images(script: str) -> Iterator[str]:
    match = _IMG_LIST.search(script)
    if match is not None:
        try:
            entries = json.loads(match.group(1))
        except ValueError:
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            url = entry.get("url") if isinstance(entry, dict) else None
            if isinstance(url, str):
                yield url
        return
    array = _IMG_ARRAY.search(script)
    if array is not None:
        yield from _QUOTED_URL.findall(array.group(1))


def _body(tree: LexborHTMLParser) -> str | None:
    """The posting text, without the QR-code/print blocks, scripts and image galleries."""
    node = tree.css_first("#postingbody") or tree.css_first("#userbody")
    if node is None:
        return None
    return _render(node) or None


def _render(root: LexborNode) -> str:
    """Text with line breaks where <br> and block elements put them."""
    parts: list[str] = []
    # An explicit stack: hostile pages nest deeper than Python's recursion limit.
    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        tag = node.tag
        if leaving:
            if tag in _BLOCKS:
                parts.append("\n")
            continue
        if tag == "-comment" and "START CLTAGS" in (node.html or ""):
            break  # 2012: the location tags and blurbs after the body are not its text
        if tag in _SKIPPED or _is_chrome(node):
            continue
        if tag == "-text":
            # Line breaks in the source are plain whitespace in HTML; <br> and blocks make lines.
            parts.append((node.text_content or "").replace("\n", " "))
            continue
        if tag == "br":
            parts.append("\n")
            continue
        if tag in _BLOCKS and node is not root:
            parts.append("\n")
        stack.append((node, True))
        children = list(node.iter(include_text=True))
        stack.extend((child, False) for child in reversed(children))
    return _tidy("".join(parts))


def _is_chrome(node: LexborNode) -> bool:
    """Blocks inside a posting body that are page furniture, not the poster's text."""
    if node.tag in ("-text", "-comment"):
        return False
    classes = _classes(node)
    return bool(classes & {"print-information", "print-qrcode-container", "iw", "blurbs"}) or (
        node.attributes.get("id") in ("iwt", "ci", "thumbs")
    )


def _tidy(text: str) -> str:
    lines = [_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
