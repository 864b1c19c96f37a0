"""The site definition model: what a YAML or TOML file says about a job board, validated.

A definition names the pages to start from (``start_urls``), the search form to submit
over HTTP (``search``) or the form to fill in a browser (``form``), whether pages are
rendered in a browser first (``fetch: browser``, with ``wait`` and ``scroll``), how to find
each listing on a results page and the fields in it, the link to the next results page, the
fields of a listing's detail page, which fields are the normalized posting fields, and what
of a detail page is no change (``volatile``). Every selector is checked when the file is
loaded, so a typo is an error naming the file and the field, not an empty harvest later.
"""

from __future__ import annotations

import re
import string
from datetime import date
from typing import Any, Literal
from urllib.parse import urljoin

from parsel import Selector
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from haystack_collector.extract.volatile import VolatileRules
from haystack_collector.fetch.render_options import ScrollOptions, WaitOptions

__all__ = [
    "POSTING_FIELD_NAMES",
    "SNAPSHOT_KINDS",
    "BrowserForm",
    "DetailSpec",
    "FieldSpec",
    "FormPagination",
    "FormWait",
    "ListingSpec",
    "Locator",
    "SearchForm",
    "SiteDefinition",
]

SnapshotKind = Literal["html", "png", "pdf"]
SNAPSHOT_KINDS: tuple[SnapshotKind, ...] = ("html", "png", "pdf")
FieldType = Literal["text", "url", "int", "float", "date", "datetime", "list"]
PostingFieldName = Literal[
    "title", "company", "location", "compensation", "employment_type", "posted"
]
POSTING_FIELD_NAMES: tuple[str, ...] = (
    "title",
    "company",
    "location",
    "compensation",
    "employment_type",
    "posted",
)

# Field names are stored as ItemData keys: lower-case identifiers can never collide with the
# engines' own CamelCase keys (Error, StatusCode, JobTitle, ...).
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A form control's name: what ``[name="..."]`` selects; quotes and backslashes would need
# escaping inside the selector, and no real form needs them.
_CONTROL_NAME = re.compile(r'^[^"\\\x00-\x1f]{1,200}$')
KEYWORD = "{keyword}"
# An empty document to try selectors on: parsel compiles them only when they run.
_PROBE = Selector(text="<html><body></body></html>")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Locator(_Strict):
    """Where something is on a page: a CSS selector or an XPath expression (exactly one)."""

    css: str | None = None
    xpath: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # A bare string is the common case: a CSS selector.
        return {"css": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_and_valid(self) -> Locator:
        if (self.css is None) == (self.xpath is None):
            raise ValueError("give exactly one of 'css' or 'xpath'")
        try:
            if self.css is not None:
                _PROBE.css(self.css)
            else:
                _PROBE.xpath(self.xpath or "")
        except Exception as error:  # cssselect and lxml raise their own classes
            kind = "CSS selector" if self.css is not None else "XPath"
            raise ValueError(f"invalid {kind} {self.css or self.xpath!r}: {error}") from None
        return self


class FieldSpec(Locator):
    """One field: where it is, which attribute (else the text), a regex, and its type."""

    attr: str | None = None
    regex: str | None = None
    group: int | str = 1
    type: FieldType = "text"
    format: str | None = None  # strptime format for date/datetime when not ISO-8601
    template: str | None = None  # "https://host/view?id={}": the value put into a string
    optional: bool = False  # matching nothing on a page is normal, not a sign of change

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.regex is not None:
            try:
                pattern = re.compile(self.regex)
            except re.error as error:
                raise ValueError(f"invalid regex {self.regex!r}: {error}") from None
            names = pattern.groupindex
            if isinstance(self.group, str) and self.group not in names:
                raise ValueError(f"regex {self.regex!r} has no group named {self.group!r}")
            if isinstance(self.group, int) and self.group > pattern.groups and self.group != 1:
                raise ValueError(f"regex {self.regex!r} has no group {self.group}")
        if self.format is not None and self.type not in ("date", "datetime"):
            raise ValueError("'format' applies to date and datetime fields only")
        if self.template is not None:
            fields = [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
            if "{}" not in self.template or fields:
                raise ValueError("'template' must contain one '{}' and no other placeholders")
        return self


def _check_field_names(fields: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
    for name in fields:
        if not _FIELD_NAME.match(name):
            raise ValueError(f"field name {name!r} must be a lower-case identifier (a-z, 0-9, _)")
    return fields


class ListingSpec(_Strict):
    """A results page: one element per listing, its fields, the detail link, the next page."""

    selector: Locator
    fields: dict[str, FieldSpec] = Field(min_length=1)
    detail_url: str | None = None  # the field holding the detail link; "url" when it exists
    next_page: FieldSpec | None = None
    empty: Locator | None = None  # matches on a page that legitimately lists nothing

    _check_names = field_validator("fields")(_check_field_names)

    @model_validator(mode="after")
    def _url_field(self) -> ListingSpec:
        if self.detail_url is not None and self.detail_url not in self.fields:
            raise ValueError(f"detail_url names no listing field: {self.detail_url!r}")
        return self

    @property
    def url_field(self) -> str | None:
        if self.detail_url is not None:
            return self.detail_url
        return "url" if "url" in self.fields else None


class DetailSpec(_Strict):
    """A listing's own page: its fields (merged over the listing's), and the notice the board
    shows on a listing that was removed or has expired (``gone``: the listing is gone)."""

    fields: dict[str, FieldSpec] = Field(min_length=1)
    gone: Locator | None = None

    _check_names = field_validator("fields")(_check_field_names)


class SearchForm(_Strict):
    """A search form: the page holding it, which form, and the field(s) given each keyword."""

    page: str
    selector: str | None = None  # CSS selector of the <form>
    name: str | None = None  # its name or id attribute
    index: int | None = Field(default=None, ge=0)  # its position among the page's forms
    keyword_field: str | list[str]
    fields: dict[str, str] = Field(default_factory=dict)  # fixed values, over the defaults

    @field_validator("page")
    @classmethod
    def _http(cls, value: str) -> str:
        return _http_url(value)

    @model_validator(mode="after")
    def _which_form(self) -> SearchForm:
        given = [x for x in (self.selector, self.name, self.index) if x is not None]
        if len(given) > 1:
            raise ValueError("give at most one of 'selector', 'name' or 'index'")
        if self.selector is not None:
            Locator(css=self.selector)
        if not self.keyword_fields:
            raise ValueError("'keyword_field' names no field")
        return self

    @property
    def keyword_fields(self) -> list[str]:
        fields = [self.keyword_field] if isinstance(self.keyword_field, str) else self.keyword_field
        return [name for name in fields if name]


# A form control's value: text (``{keyword}`` is replaced by each keyword), a date (a date
# input), true/false (a checkbox), a number, or several options of a multiple select.
FormValue = bool | date | int | float | str | list[str]


def _css(value: str | None, what: str | None = None) -> str | None:
    """``value`` when it is a valid CSS selector; ValueError (naming ``what``) otherwise."""
    if value is None:
        return None
    try:
        Locator(css=value)
    except ValidationError as error:
        message = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{what}: {message}" if what else message) from None
    return value


class FormWait(_Strict):
    """What shows the results have come (default: the listing selector), and for how long."""

    selector: str | None = None
    timeout: float = Field(default=15.0, gt=0, le=600)  # seconds

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return _css(value)


class FormPagination(_Strict):
    """How more results are shown: a "next" link or button, or a "load more" button."""

    next: str | None = None
    load_more: str | None = None
    max_pages: int = Field(default=5, ge=1, le=1000)

    @model_validator(mode="after")
    def _one(self) -> FormPagination:
        if (self.next is None) == (self.load_more is None):
            raise ValueError("give exactly one of 'next' (a link or button) or 'load_more'")
        _css(self.next, "next")
        _css(self.load_more, "load_more")
        return self

    @property
    def control(self) -> str:
        """The selector of what is clicked for more results."""
        return self.next or self.load_more or ""


class BrowserForm(_Strict):
    """A form filled in a browser: its page, which form, its fields, the submit, the wait."""

    page: str  # an http(s) URL, or a path joined to the definition's base_url
    selector: str = "form"  # CSS selector of the <form>
    fields: dict[str, FormValue] = Field(default_factory=dict)  # control name -> value
    submit: str | None = None  # CSS selector of the button, in the form; default: its own submit
    wait: FormWait = Field(default_factory=FormWait)
    pagination: FormPagination | None = None

    @field_validator("selector")
    @classmethod
    def _form_selector(cls, value: str) -> str:
        return _css(value) or value

    @field_validator("submit")
    @classmethod
    def _submit(cls, value: str | None) -> str | None:
        return _css(value)

    @field_validator("fields")
    @classmethod
    def _names(cls, fields: dict[str, FormValue]) -> dict[str, FormValue]:
        for name in fields:
            if not _CONTROL_NAME.match(name):
                raise ValueError(f"form field name {name!r} must be 1-200 characters, no quotes")
        return fields

    @property
    def by_keyword(self) -> bool:
        """Whether a field takes the keyword (``{keyword}`` in a text value)."""
        return any(isinstance(v, str) and KEYWORD in v for v in self.fields.values())


class SiteDefinition(_Strict):
    """A whole site; see the module docstring. ``source`` is the file it was loaded from."""

    name: str
    description: str | None = None
    base_url: str | None = None  # what a relative form page is joined to (a setting may replace it)
    start_urls: list[str] = Field(default_factory=list)  # "{keyword}" is filled in per keyword
    search: SearchForm | None = None
    form: BrowserForm | None = None  # a form filled in a browser (needs fetch: browser)
    snapshot: list[SnapshotKind] = Field(default_factory=list)  # what a browser fetch keeps
    listing: ListingSpec
    detail: DetailSpec | None = None
    # posting field -> record field; ``job`` is the section's name before postings had theirs.
    posting: dict[PostingFieldName, str] = Field(
        default_factory=dict, validation_alias=AliasChoices("posting", "job")
    )
    # What of a detail page is no change when it is fetched again (a footer clock, an ad):
    # its visible text under these rules is kept as the listing's TextDigest.
    volatile: VolatileRules | None = None
    # How pages are fetched: "browser" renders them (scripts run) before the selectors apply,
    # waiting and scrolling as ``wait`` and ``scroll`` say (fetch/browser.py).
    fetch: Literal["http", "browser"] = "http"
    wait: WaitOptions | None = None
    scroll: ScrollOptions | None = None

    _source: str | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SITE_NAME.match(value):
            raise ValueError("a site name is 1-64 letters, digits, '_', '.' or '-'")
        return value

    @field_validator("start_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [_http_url(url) for url in value]

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @model_validator(mode="after")
    def _consistent(self) -> SiteDefinition:
        starts = [bool(self.start_urls), self.search is not None, self.form is not None]
        if sum(starts) != 1:
            raise ValueError(
                "give one of 'start_urls', 'search' (a search form) or 'form' (a form filled in"
                " a browser)"
            )
        if self.fetch != "browser" and (self.wait is not None or self.scroll is not None):
            raise ValueError("'wait' and 'scroll' apply to 'fetch: browser' only")
        if self.form is not None:
            self._check_form(self.form)
        known = set(self.listing.fields) | set(self.detail.fields if self.detail else ())
        for name, record_field in self.posting.items():
            if record_field not in known:
                raise ValueError(
                    f"posting.{name} names no listing or detail field: {record_field!r}"
                )
        return self

    def _check_form(self, form: BrowserForm) -> None:
        if self.fetch != "browser":
            raise ValueError("form: a form is filled in a browser: add 'fetch: browser'")
        if self.wait is not None or self.scroll is not None:
            raise ValueError(
                "a browser form waits as form.wait says and turns pages with form.pagination:"
                " remove the top-level 'wait' and 'scroll'"
            )
        if self.listing.next_page is not None:
            raise ValueError(
                "listing.next_page: a browser form turns its pages with form.pagination;"
                " remove listing.next_page"
            )
        if not form.page.lower().startswith(("http://", "https://")):
            if self.base_url is None:
                raise ValueError(
                    f"form.page: {form.page!r} is not an http(s) URL: give a full URL or a"
                    " 'base_url' to join it to"
                )
            if not form.page.startswith("/"):
                raise ValueError(f"form.page: a path must start with '/': {form.page!r}")

    def form_page(self, base_url: str | None = None) -> str:
        """The URL of the browser form's page, its path joined to ``base_url`` (else the
        definition's)."""
        if self.form is None:
            raise ValueError(f"site {self.name!r} has no browser form")
        page = self.form.page
        if page.lower().startswith(("http://", "https://")):
            return page
        base = base_url or self.base_url or ""
        return urljoin(base.rstrip("/") + "/", page.lstrip("/"))

    @property
    def source(self) -> str | None:
        """The file this definition was loaded from, if any."""
        return self._source

    def with_source(self, source: str) -> SiteDefinition:
        copy = self.model_copy()
        copy._source = source
        return copy

    @property
    def default_base(self) -> str:
        """What relative links resolve against when the caller gives no page URL."""
        if self.search is not None:
            return self.search.page
        if self.form is not None:
            return self.form_page()
        return self.start_urls[0]

    @property
    def by_keyword(self) -> bool:
        """Whether a run needs keywords to build its requests."""
        if self.form is not None:
            return self.form.by_keyword
        return self.search is not None or any(KEYWORD in url for url in self.start_urls)


def _http_url(value: str) -> str:
    value = value.strip()
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value
