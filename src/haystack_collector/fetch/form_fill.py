"""Filling in a form in a browser page, submitting it and turning its result pages.

``search_form`` drives a Playwright page through one search of a site definition's ``form:``
block: it opens the form's page, sets each control (text and date inputs are filled, selects
get their option(s), checkboxes and radio buttons are set), submits the form (its ``submit``
button, else the form's own submit, as pressing Enter does), and waits until results show.
Then it turns the pages: a "next" control is clicked and each page's HTML is handed on; a
"load more" button is clicked until it goes or the page limit is reached, and the whole list is
handed on once.

"Results show" means an element of the wait selector (the listing's by default, or its
``empty`` one) that was not on the page before the click: the listing elements present are
marked first, so a page that re-renders or appends is told apart from one still showing the
old results. Each wait is bounded by the form's ``wait.timeout``; running out is a
``FormTimeout`` naming what was awaited, with the pages already read handed on before it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from haystack_collector.errors import ExtractionError, NetworkError
from haystack_collector.extract.sites import SiteChangedError, SiteDefinition, SiteWarning
from haystack_collector.extract.sites.model import KEYWORD, BrowserForm, FormValue, Locator

if TYPE_CHECKING:
    from playwright.async_api import Locator as PageLocator
    from playwright.async_api import Page, Response

__all__ = ["FormPage", "FormPageError", "FormTimeout", "form_values", "search_form"]

_SEEN = "data-haystack-seen"
_TRUE = frozenset({"1", "true", "on", "yes", "checked"})

# Marks every element the locators match now; new results are those without the mark.
_MARK = """([locators, attribute]) => {
  for (const node of window.__haystackMatch(locators)) node.setAttribute(attribute, "");
}"""
# True once an element of the locators has no mark (results arrived since the last _MARK).
_FRESH = """([locators, attribute]) =>
  window.__haystackMatch(locators).some((node) => !node.hasAttribute(attribute))"""
# Installed in every document of the page: CSS or XPath locators to the elements they match.
_MATCHER = """window.__haystackMatch = (locators) => {
  const found = [];
  for (const [css, xpath] of locators) {
    if (css !== null) found.push(...document.querySelectorAll(css));
    else {
      const ordered = XPathResult.ORDERED_NODE_SNAPSHOT_TYPE;
      const hits = document.evaluate(xpath, document, null, ordered, null);
      for (let i = 0; i < hits.snapshotLength; i++) {
        const node = hits.snapshotItem(i);
        if (node.nodeType === 1) found.push(node);
      }
    }
  }
  return found;
};"""


class FormTimeout(ExtractionError):
    """The page did not show what a step of the search waits for within the form's timeout."""


class FormPageError(NetworkError):
    """The form's page could not be loaded: its HTTP status, or why its fetch failed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class FormPage:
    """One page of results: its number (1 on), the URL the browser shows, the rendered HTML."""

    number: int
    url: str
    html: str
    status: int | None = None  # of the form page's navigation (page 1 only)


def form_values(
    form: BrowserForm, overrides: Mapping[str, FormValue], keyword: str | None
) -> dict[str, FormValue]:
    """The definition's fields, then the run's, with ``{keyword}`` replaced in text values."""
    values: dict[str, FormValue] = {**form.fields, **overrides}
    return {
        name: value.replace(KEYWORD, keyword or "") if isinstance(value, str) else value
        for name, value in values.items()
    }


async def search_form(
    page: Page,
    defn: SiteDefinition,
    values: Mapping[str, FormValue],
    *,
    url: str,
    max_pages: int | None = None,
) -> AsyncIterator[FormPage]:
    """Run one search of ``defn``'s form in ``page`` (see the module docstring)."""
    form = defn.form
    if form is None:
        raise ValueError(f"site {defn.name!r} has no browser form")
    timeout = form.wait.timeout * 1000
    await page.add_init_script(_MATCHER)
    response = await _open(page, url, timeout)
    # The document may have loaded before the init script ran: install it there too.
    await page.evaluate(f"() => {{ {_MATCHER} }}")
    status = None if response is None else response.status
    target = page.locator(form.selector).first
    try:
        await target.wait_for(state="attached", timeout=timeout)
    except Exception as error:
        if not _is_timeout(error):
            raise
        raise _changed(defn, url, f"the form (css {form.selector!r}) is not on the page") from None
    for name, value in values.items():
        await _set_control(target, defn, url, (name, value), timeout)
    awaited = _awaited(defn)
    await _mark(page, awaited)
    if form.submit is not None:
        button = target.locator(form.submit).first
        if not await button.count():
            raise _changed(defn, url, f"the form has no submit button (css {form.submit!r})")
        await button.click(timeout=timeout)
    else:
        await target.evaluate("(f) => (f.requestSubmit ? f.requestSubmit() : f.submit())")
    await _wait_fresh(page, awaited, timeout, "results after submitting the form")
    pagination = form.pagination
    limit = max_pages if max_pages is not None else (pagination.max_pages if pagination else 1)
    number = 1
    if pagination is None or pagination.next is not None:
        yield FormPage(number, page.url, await page.content(), status)
    while pagination is not None and number < limit:
        control = page.locator(pagination.control).first
        if not await _usable(control):
            break
        await _mark(page, awaited)
        await control.click(timeout=timeout)
        number += 1
        what = "the next page of results" if pagination.next else "more results"
        await _wait_fresh(page, awaited, timeout, f"{what} (page {number})")
        if pagination.next is not None:
            yield FormPage(number, page.url, await page.content())
    if pagination is not None and pagination.load_more is not None:
        yield FormPage(number, page.url, await page.content(), status)


async def _open(page: Page, url: str, timeout: float) -> Response | None:
    """Load the form's page; FormPageError (or FormTimeout) when it cannot be loaded."""
    from playwright.async_api import Error as PlaywrightError  # noqa: PLC0415

    try:
        response = await page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    except PlaywrightError as error:
        if _is_timeout(error):
            raise FormTimeout(f"waited {timeout / 1000:g}s for the form page {url}") from None
        # The fetch behind the navigation says why (robots.txt, a refused address, ...).
        handler = getattr(page, "interceptor", None)
        fetched = getattr(getattr(handler, "navigation", None), "result", None)
        reason = getattr(fetched, "error", None) or _first_line(error)
        status = getattr(fetched, "status", None)
        raise FormPageError(f"the form page {url}: {reason}", status) from error
    if response is not None and response.status >= 400:
        raise FormPageError(f"the form page {url}: HTTP {response.status}", response.status)
    return response


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _awaited(defn: SiteDefinition) -> list[tuple[str | None, str | None]]:
    """The locators whose new elements mean results showed: the wait's, else the listing's
    and its ``empty`` one."""
    assert defn.form is not None
    if defn.form.wait.selector is not None:
        return [(defn.form.wait.selector, None)]
    found: list[Locator] = [defn.listing.selector]
    if defn.listing.empty is not None:
        found.append(defn.listing.empty)
    return [(each.css, each.xpath) for each in found]


def _described(awaited: list[tuple[str | None, str | None]]) -> str:
    return " or ".join(f"css {c!r}" if c is not None else f"xpath {x!r}" for c, x in awaited)


async def _mark(page: Page, awaited: list[tuple[str | None, str | None]]) -> None:
    await page.evaluate(_MARK, [awaited, _SEEN])


async def _wait_fresh(
    page: Page, awaited: list[tuple[str | None, str | None]], timeout: float, what: str
) -> None:
    try:
        await page.wait_for_function(_FRESH, arg=[awaited, _SEEN], timeout=timeout)
    except Exception as error:
        if not _is_timeout(error):
            raise
        raise FormTimeout(
            f"waited {timeout / 1000:g}s for {what}: nothing new matched {_described(awaited)}"
        ) from None


async def _usable(control: PageLocator) -> bool:
    """Whether a pagination control is there to click: present, visible and enabled."""
    if not await control.count():
        return False
    if not await control.is_visible():
        return False
    disabled = await control.evaluate(
        "(e) => e.disabled === true || e.getAttribute('aria-disabled') === 'true'"
    )
    return not disabled


async def _set_control(
    form: PageLocator,
    defn: SiteDefinition,
    url: str,
    field: tuple[str, FormValue],
    timeout: float,
) -> None:
    name, value = field
    controls = form.locator(f"[name={json.dumps(name)}]")
    if not await controls.count():
        raise _changed(defn, url, f"the form has no field {name!r}")
    control = controls.first
    tag, kind = await control.evaluate(
        "(e) => [e.tagName.toLowerCase(), (e.getAttribute('type') || '').toLowerCase()]"
    )
    if tag == "select":
        options = [str(v) for v in value] if isinstance(value, list) else [_text(value)]
        await control.select_option(options, timeout=timeout)
    elif kind == "checkbox":
        await control.set_checked(_checked(value), timeout=timeout)
    elif kind == "radio":
        choice = form.locator(f"[name={json.dumps(name)}][value={json.dumps(_text(value))}]")
        if not await choice.count():
            raise _changed(defn, url, f"the form's field {name!r} has no option {value!r}")
        await choice.first.check(timeout=timeout)
    elif kind == "hidden":
        await control.evaluate("(e, v) => { e.value = v; }", _text(value))
    else:
        await control.fill(_text(value), timeout=timeout)


def _text(value: FormValue) -> str:
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _checked(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def _changed(defn: SiteDefinition, url: str, message: str) -> SiteChangedError:
    return SiteChangedError(SiteWarning(defn.name, url, message))


def _is_timeout(error: Exception) -> bool:
    from playwright.async_api import TimeoutError as PlaywrightTimeout  # noqa: PLC0415

    return isinstance(error, PlaywrightTimeout)
