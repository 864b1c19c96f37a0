"""Applying a site definition to a page: pure functions, bytes in, records and warnings out."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector, SelectorList

from haystack_collector.errors import ExtractionError
from haystack_collector.extract.limits import check_markup
from haystack_collector.extract.sites.model import (
    POSTING_FIELD_NAMES,
    FieldSpec,
    Locator,
    SiteDefinition,
)
from haystack_collector.extract.sites.results import (
    DetailPage,
    ListingPage,
    SiteChanged,
    SiteRecord,
    SiteWarning,
)
from haystack_collector.fetch.decode import decode_body

__all__ = [
    "document",
    "extract_detail",
    "extract_listing",
    "merge_fields",
    "posting_values",
    "read_detail",
    "read_listing",
]

_SPACE = re.compile(r"\s+")
_INT = re.compile(r"[-+]?\d[\d,]*")
_FLOAT = re.compile(r"[-+]?(?:\d[\d,]*)?\.?\d+")
# Text a reader sees: not the CSS and scripts some boards inline inside their cards.
_VISIBLE_TEXT = ".//text()[not(ancestor::script or ancestor::style)]"


def extract_listing(
    defn: SiteDefinition, data: bytes | str, *, base_url: str | None = None
) -> list[SiteRecord]:
    """The listings on a results page; a SiteChanged warning for each sign of a changed site."""
    page = read_listing(defn, data, base_url=base_url)
    _emit(page.warnings)
    return page.records


def extract_detail(
    defn: SiteDefinition, data: bytes | str, *, base_url: str | None = None
) -> list[SiteRecord]:
    """The detail page as one record ([] when nothing matched: a SiteChanged warning)."""
    page = read_detail(defn, data, base_url=base_url)
    _emit(page.warnings)
    return [] if page.record is None else [page.record]


def document(data: bytes | str) -> Selector:
    """A parsed HTML page (bytes decoded by BOM, declared charset, then detection).

    ``DocumentLimitError`` for a page beyond the parse limits (``limits.py``).
    """
    check_markup(data)
    text = data if isinstance(data, str) else decode_body(data)[0]
    # lxml refuses NUL characters; browsers show them as U+FFFD.
    return Selector(text=text.replace("\x00", "\ufffd") or "<html></html>", type="html")


def read_listing(
    defn: SiteDefinition, data: bytes | str, *, base_url: str | None = None
) -> ListingPage:
    """``extract_listing`` with the next page's URL and the warnings returned, not emitted."""
    doc = document(data)
    base = _base(doc, base_url or defn.default_base)
    spec = defn.listing
    found: list[SiteWarning] = []
    elements = _select(doc, spec.selector)
    if not elements and (spec.empty is None or not _select(doc, spec.empty)):
        found.append(
            _warn(defn, base_url, f"the listing selector {_show(spec.selector)} matched nothing")
        )
    matched: Counter[str] = Counter()
    unreadable: dict[str, tuple[int, str]] = {}
    records = []
    for element in elements:
        fields = {}
        for name, field_spec in spec.fields.items():
            value, hit = _field(element, field_spec, base, unreadable, name)
            fields[name] = value
            matched[name] += hit
        url_field = spec.url_field
        url = fields.get(url_field) if url_field else None
        records.append(
            SiteRecord(fields, url if isinstance(url, str) else None, posting_values(defn, fields))
        )
    if elements:
        for name, field_spec in spec.fields.items():
            if not field_spec.optional and not matched[name]:
                found.append(
                    _warn(
                        defn,
                        base_url,
                        f"listing field {name!r} ({_show(field_spec)}) matched nothing in"
                        f" {len(elements)} listing(s)",
                    )
                )
    found += _unreadable(defn, base_url, unreadable)
    return ListingPage(records, _next_url(doc, spec.next_page, base), found)


def detail_gone(defn: SiteDefinition, data: bytes | str) -> bool:
    """Whether a detail page shows the board's "removed/expired" notice (``detail.gone``)."""
    if defn.detail is None or defn.detail.gone is None:
        return False
    return bool(_select(document(data), defn.detail.gone))


def read_detail(
    defn: SiteDefinition, data: bytes | str, *, base_url: str | None = None
) -> DetailPage:
    """``extract_detail`` with the warnings returned, not emitted."""
    if defn.detail is None:
        raise ExtractionError(f"site {defn.name!r} defines no detail page fields")
    doc = document(data)
    base = _base(doc, base_url or defn.default_base)
    found: list[SiteWarning] = []
    unreadable: dict[str, tuple[int, str]] = {}
    fields: dict[str, Any] = {}
    missing, hits = [], 0
    for name, spec in defn.detail.fields.items():
        fields[name], hit = _field(doc, spec, base, unreadable, name)
        hits += hit
        if not hit and not spec.optional:
            missing.append(name)
    if not hits:
        found.append(_warn(defn, base_url, "no detail field matched anything on the page"))
        return DetailPage(None, found)
    found += [
        _warn(
            defn,
            base_url,
            f"detail field {name!r} ({_show(defn.detail.fields[name])}) matched nothing",
        )
        for name in missing
    ]
    found += _unreadable(defn, base_url, unreadable)
    return DetailPage(SiteRecord(fields, base_url, posting_values(defn, fields)), found)


def merge_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` updated by what ``new`` found: a field a page did not show keeps its value."""
    merged = dict(old)
    merged.update({name: value for name, value in new.items() if value not in (None, [])})
    for name in new:
        merged.setdefault(name, None)
    return merged


def posting_values(defn: SiteDefinition, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The normalized posting fields the definition maps ({} when it maps none)."""
    if not defn.posting:
        return {}
    posting: dict[str, Any] = dict.fromkeys(POSTING_FIELD_NAMES)
    for name, record_field in defn.posting.items():
        value = fields.get(record_field)
        posting[name] = _as_date(value) if name == "posted" else _as_text(value)
    posting["source"] = defn.name
    return posting


# --- fields -----------------------------------------------------------------------------


def _select(scope: Selector, locator: Locator) -> SelectorList[Selector]:
    if locator.css is not None:
        return scope.css(locator.css)
    return scope.xpath(locator.xpath or "")


def _field(
    scope: Selector,
    spec: FieldSpec,
    base: str,
    unreadable: dict[str, tuple[int, str]],
    name: str,
) -> tuple[Any, bool]:
    """The field's value in ``scope`` and whether its selector matched anything at all."""
    raws = [raw for raw in (_raw(match, spec.attr) for match in _select(scope, spec)) if raw]
    if spec.type == "list":
        items = [value for value in (_refine(raw, spec) for raw in raws) if value is not None]
        return items, bool(raws)
    for raw in raws:
        refined = _refine(raw, spec)
        if refined is None:
            continue
        value = _convert(refined, spec, base)
        if value is None:
            count, example = unreadable.get(name, (0, f"{refined!r} as {spec.type}"))
            unreadable[name] = (count + 1, example)
        return value, True
    return None, bool(raws)


def _raw(match: Selector, attr: str | None) -> str | None:
    """An element's attribute or visible text; a string result (``@href``, ``::text``) as is."""
    root = match.root
    if isinstance(root, str):
        text = root
    elif not hasattr(root, "tag"):  # a number or boolean from an XPath function
        text = str(root)
    elif attr is not None:
        text = match.attrib.get(attr) or ""
    else:
        text = "".join(match.xpath(_VISIBLE_TEXT).getall())
    return _SPACE.sub(" ", text).strip() or None


def _refine(raw: str, spec: FieldSpec) -> str | None:
    value: str | None = raw
    if spec.regex is not None:
        found = re.search(spec.regex, raw)
        if found is None:
            return None
        value = found.group(spec.group) if found.re.groups else found.group(0)
        value = value.strip() if value else None
    if value is not None and spec.template is not None:
        value = spec.template.replace("{}", value)
    return value or None


def _convert(value: str, spec: FieldSpec, base: str) -> Any:  # noqa: PLR0911 - one per type
    """The typed value, or None when ``value`` cannot be read as the field's type."""
    match spec.type:
        case "url":
            return _absolute(base, value)
        case "int":
            found = _INT.search(value)
            try:
                return int(found.group().replace(",", "")) if found else None
            except ValueError:  # more digits than int() reads (4,300)
                return None
        case "float":
            found = _FLOAT.search(value)
            return float(found.group().replace(",", "")) if found else None
        case "date":
            moment = _parse_moment(value, spec.format)
            return moment.date() if isinstance(moment, datetime) else moment
        case "datetime":
            moment = _parse_moment(value, spec.format)
            if isinstance(moment, date) and not isinstance(moment, datetime):
                return datetime(moment.year, moment.month, moment.day)
            return moment
    return value


def _parse_moment(value: str, fmt: str | None) -> date | datetime | None:
    try:
        if fmt is not None:
            return datetime.strptime(value, fmt)
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _absolute(base: str, value: str) -> str | None:
    url = urljoin(base, value)
    return url if urlsplit(url).scheme in ("http", "https") else None


def _base(doc: Selector, page_url: str) -> str:
    """The page's ``<base href>`` resolved against its URL, else its URL."""
    href = doc.css("base[href]::attr(href)").get()
    return urljoin(page_url, href.strip()) if href and href.strip() else page_url


def _next_url(doc: Selector, spec: FieldSpec | None, base: str) -> str | None:
    if spec is None:
        return None
    for match in _select(doc, spec):
        # ``next_page: a.next`` means the link, not its text.
        raw = _raw(match, spec.attr or "href")
        refined = _refine(raw, spec) if raw else None
        url = _absolute(base, refined) if refined else None
        if url is not None:
            return url
    return None


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(item) for item in value if item is not None) or None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _as_date(value: Any) -> date | datetime | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return _parse_moment(value.strip(), None)
    return None


# --- warnings ---------------------------------------------------------------------------


def _warn(defn: SiteDefinition, url: str | None, message: str) -> SiteWarning:
    return SiteWarning(defn.name, url, message)


def _unreadable(
    defn: SiteDefinition, url: str | None, unreadable: Mapping[str, tuple[int, str]]
) -> list[SiteWarning]:
    return [
        _warn(defn, url, f"field {name!r}: {count} value(s) not readable, e.g. {example}")
        for name, (count, example) in unreadable.items()
    ]


def _show(locator: Locator) -> str:
    return f"css {locator.css!r}" if locator.css is not None else f"xpath {locator.xpath!r}"


def _emit(found: list[SiteWarning]) -> None:
    for warning in found:
        warnings.warn(str(warning), SiteChanged, stacklevel=3)
