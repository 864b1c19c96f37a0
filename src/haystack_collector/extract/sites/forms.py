"""Filling in a site's search form the way a browser submits it."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode, urljoin, urlsplit

from parsel import Selector

from haystack_collector.errors import ExtractionError
from haystack_collector.extract.sites.apply import document
from haystack_collector.extract.sites.model import SiteDefinition
from haystack_collector.extract.sites.results import SiteChangedError, SiteWarning

__all__ = ["FormRequest", "find_form"]

# Input types whose value is never submitted without a click or a file.
_NOT_SUBMITTED = frozenset({"button", "reset", "file", "image"})
_SUBMITS = frozenset({"submit"})


class FormRequest(NamedTuple):
    """How to submit a search: ``method`` (GET or POST), the action URL and the fields."""

    method: str
    action: str
    fields: dict[str, str]

    @property
    def url(self) -> str:
        """The URL to request: for GET the fields replace the action's query string."""
        if self.method != "GET":
            return self.action
        parts = urlsplit(self.action)
        return parts._replace(query=urlencode(self.fields), fragment="").geturl()


def find_form(
    defn: SiteDefinition,
    data: bytes | str,
    base_url: str | None = None,
    *,
    keyword: str | None = None,
) -> FormRequest:
    """The definition's search form on this page, filled in: defaults, fixed fields, keyword.

    Reads the real form's action, method, hidden inputs and default values, so tokens the
    site puts in its form travel with the search. ``keyword`` (when given) goes into each
    keyword field. SiteChangedError when the form or a keyword field is not on the page.
    """
    search = defn.search
    if search is None:
        raise ExtractionError(f"site {defn.name!r} has no search form")
    page_url = base_url or search.page
    doc = document(data)
    form = _choose(doc, defn)
    if form is None:
        raise _changed(defn, page_url, f"the search form ({_which(defn)}) is not on the page")
    fields, submitter = _defaults(form)
    missing = [name for name in search.keyword_fields if name not in fields]
    if missing:
        raise _changed(defn, page_url, f"the search form has no field {missing[0]!r}")
    if submitter is not None:
        fields.setdefault(*submitter)  # pressing Enter submits with the first submit button
    fields.update(search.fields)
    if keyword is not None:
        fields.update(dict.fromkeys(search.keyword_fields, keyword))
    href = doc.css("base[href]::attr(href)").get()
    base = urljoin(page_url, href.strip()) if href and href.strip() else page_url
    action = (form.attrib.get("action") or "").strip()
    target = urljoin(base, action) if action else page_url
    method = "POST" if (form.attrib.get("method") or "").strip().lower() == "post" else "GET"
    return FormRequest(method, target, fields)


def _choose(doc: Selector, defn: SiteDefinition) -> Selector | None:
    search = defn.search
    assert search is not None  # checked by the caller
    if search.selector is not None:
        chosen = [f for f in doc.css(search.selector) if getattr(f.root, "tag", None) == "form"]
        return chosen[0] if chosen else None
    forms = doc.css("form")
    if search.name is not None:
        named = [f for f in forms if search.name in (f.attrib.get("name"), f.attrib.get("id"))]
        return named[0] if named else None
    index = search.index or 0
    return forms[index] if index < len(forms) else None


def _defaults(form: Selector) -> tuple[dict[str, str], tuple[str, str] | None]:
    """What the form submits untouched, and its first named submit button."""
    fields: dict[str, str] = {}
    submitter: tuple[str, str] | None = None
    for control in form.xpath(".//input | .//select | .//textarea | .//button"):
        attrib = control.attrib
        name = attrib.get("name")
        if not name or "disabled" in attrib:
            continue
        tag = getattr(control.root, "tag", "")
        kind = (attrib.get("type") or ("submit" if tag == "button" else "text")).lower()
        if tag == "button" or kind in _SUBMITS:
            if kind == "submit" and submitter is None:
                submitter = (name, attrib.get("value", ""))
            continue
        if tag == "select":
            fields[name] = _selected(control)
        elif tag == "textarea":
            fields[name] = "".join(control.xpath("text()").getall()).removeprefix("\n")
        elif kind in ("checkbox", "radio"):
            if "checked" in attrib:
                fields[name] = attrib.get("value", "on")
        elif kind not in _NOT_SUBMITTED:
            fields[name] = attrib.get("value", "")
    return fields, submitter


def _selected(select: Selector) -> str:
    options = select.xpath(".//option")
    chosen = [o for o in options if "selected" in o.attrib] or options[:1]
    if not chosen:
        return ""
    option = chosen[0]
    value = option.attrib.get("value")
    return (
        value
        if value is not None
        else " ".join("".join(option.xpath(".//text()").getall()).split())
    )


def _which(defn: SiteDefinition) -> str:
    search = defn.search
    assert search is not None
    if search.selector is not None:
        return f"css {search.selector!r}"
    if search.name is not None:
        return f"name {search.name!r}"
    return f"form #{search.index or 0}"


def _changed(defn: SiteDefinition, url: str, message: str) -> SiteChangedError:
    return SiteChangedError(SiteWarning(defn.name, url, message))
