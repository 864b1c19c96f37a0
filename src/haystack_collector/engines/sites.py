"""The ``sites`` engine: job boards and form searches described by site definitions.

``search`` (start action) opens the definition's start URLs, or submits its search form once
per keyword, walks the next-page links up to ``max_pages``, and stores each results page as
an item that ``contains`` one item per listing (URI: the listing's detail URL, or the page's
URI plus ``#listing-N``). A listing item carries its fields (ItemData keyed by field name),
the normalized posting fields and the site's name; listings with a detail URL get a ``detail``
event. ``detail`` (item action) fetches that page and merges its fields over the listing's.

A definition that says ``fetch: browser`` (or a run with ``render``) renders its results and
detail pages in the browser first (``ctx.browser()``), waiting and scrolling as the
definition says; the search form page itself is fetched (a form that only a script builds is
the ``webform`` engine's work).

``recheck`` (item action) is a listing's re-visit (queued by a re-visit policy, per engine or
per site definition: see revisits.py): its detail page is fetched again and stored like
``detail``, and the visit recorded as unchanged, changed or gone. Gone is a 404/410, or the
definition's ``detail.gone`` locator matching (the board's "this job has expired" notice); a
``detail`` fetch that finds that notice marks the listing gone too. A re-check without an
answer (the server down, a 5xx) fails its event, retried later; the listing keeps its data.

A page the definition matches nothing on is a warning (a Status row and a log warning): the
site has probably changed. Fetch failures are stored on the item as ``Error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import quote_plus, urlencode

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.engines.base import ActionContext, item_action, start_action
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.engines.rendering import render_page
from haystack_collector.engines.revisiting import (
    RevisitFailed,
    RevisitSpec,
    finish_revisit,
    revisit_failure,
)
from haystack_collector.errors import ConfigError, NetworkError, NotFoundError
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.postings import PostingFields
from haystack_collector.extract.sites import (
    DetailPage,
    FormRequest,
    ListingPage,
    SiteChangedError,
    SiteDefinition,
    SiteWarning,
    builtin_sites,
    detail_gone,
    find_form,
    load_site,
    load_sites,
    merge_fields,
    posting_values,
    read_detail,
    read_listing,
)
from haystack_collector.extract.sites.load import SUFFIXES
from haystack_collector.extract.volatile import VolatileRules, page_text, text_digest
from haystack_collector.fetch import Fetcher, FetchResult
from haystack_collector.paths import PathSetting, ServerPath
from haystack_collector.queue import Task, WorkQueue
from haystack_collector.store import FETCHED, ItemRecord, LinkSpec
from haystack_collector.store.meaning import TEXT_DIGEST
from haystack_collector.store.values import ItemValue

__all__ = [
    "DETAIL_ACTION",
    "SEARCH_ACTION",
    "Sites",
    "SitesSettings",
    "resolve_site",
]

SEARCH_ACTION = "search"
DETAIL_ACTION = "detail"
RECHECK_ACTION = "recheck"

# ItemData keys the engine writes besides the fields (lower-case) and the posting fields (Job*).
SITE = "Site"  # the definition's name
SITE_FILE = "SiteFile"  # the file a user definition came from (none for shipped ones)
SITE_RENDER = "SiteRender"  # the run rendered pages (``render``): so are the detail pages
KEYWORD = "SiteKeyword"  # the keyword a results page was searched with
LISTINGS = "SiteListings"  # how many listings a results page held
STATUS_CODE = "StatusCode"
FETCHED_AT = "FetchedAt"
ERROR = "Error"
GONE = "Gone"


def _is_definition_file(site: str) -> bool:
    return site.strip().lower().endswith(SUFFIXES)


class SitesSettings(BaseModel):
    """What ``search`` runs; the ``detail`` action reads its site back from the item."""

    model_config = ConfigDict(extra="forbid")

    site: Annotated[str, PathSetting(applies=_is_definition_file)] = Field(
        default="", description="a shipped definition's name or a .yaml/.toml path"
    )
    keywords: list[str] = Field(default_factory=list, description="searched one by one")
    folder: ServerPath | None = Field(default=None, description="a folder of your own definitions")
    max_pages: int = Field(default=5, ge=1, description="results pages per start or keyword")
    render: bool = Field(
        default=False,
        description="render pages in the browser, whatever the definition's 'fetch' says",
    )


def resolve_site(site: str, folder: str | None = None) -> SiteDefinition:
    """The definition ``site`` names: a file path, one in ``folder``, or a shipped one."""
    site = site.strip()
    if not site:
        raise ConfigError("no site given: name a shipped site or a definition file", setting="site")
    if site.lower().endswith(SUFFIXES):
        return load_site(Path(site).expanduser().resolve())
    if folder:
        own = load_sites(Path(folder).expanduser().resolve())
        if site in own:
            return own[site]
    shipped = builtin_sites()
    if site in shipped:
        return shipped[site]
    known = ", ".join(sorted(shipped))
    raise ConfigError(f"no site definition named {site!r}; shipped: {known}", setting="site")


@dataclass(frozen=True, slots=True)
class _Request:
    """One results page to fetch: GET ``url``, or POST ``form`` to it.

    ``search`` is what the POST searched for (keyword and fixed fields): it tells results
    pages of one action URL apart, without the session tokens that change every run.
    """

    url: str
    form: dict[str, str] | None = None
    search: tuple[tuple[str, str], ...] = ()

    @property
    def uri(self) -> str:
        """The page's item URI: the URL, plus what was searched for when it was a POST."""
        if self.form is None:
            return self.url
        return f"{self.url}#post:{urlencode(self.search)}"


@dataclass(slots=True)
class _Tally:
    pages: int = 0
    listings: int = 0
    queued: int = 0
    warnings: int = 0


class Sites(FetchingEngine):
    """Harvest a job board or form search described by a site definition."""

    name = "sites"
    version = "1.0"
    description = "Job boards and form searches described by YAML/TOML site definitions"
    Settings = SitesSettings
    status_per_run = False  # one row per detail page would double the writes; search writes its own
    revisit = RevisitSpec(RECHECK_ACTION, collect_action=DETAIL_ACTION)

    # User definitions by file, read once per process for the detail pages that name them.
    _definitions: ClassVar[dict[str, SiteDefinition]] = {}

    @classmethod
    async def close_resources(cls) -> None:
        cls._definitions.clear()
        await super().close_resources()

    # --- search ----------------------------------------------------------------------------

    @start_action(SEARCH_ACTION, description="Search a site and store its listings")
    async def search(self, ctx: ActionContext) -> None:
        settings = ctx.settings
        assert isinstance(settings, SitesSettings)
        defn = await asyncio.to_thread(resolve_site, settings.site, settings.folder)
        if defn.form is not None:
            raise ConfigError(
                f"site {defn.name!r} fills in a form in a browser: run it with the"
                " seleniumwebform engine",
                setting="site",
            )
        keywords = [k.strip() for k in settings.keywords if k.strip()]
        tally = _Tally()
        # A run of its own loop (the CLI, a schedule): its own client, closed when it ends.
        async with ctx.new_fetcher() as fetcher:
            render = settings.render or defn.fetch == "browser"
            for keyword, request in await self._starts(ctx, fetcher, defn, keywords, tally):
                await self._walk(
                    ctx,
                    fetcher,
                    defn,
                    (keyword, request),
                    settings.max_pages,
                    tally,
                    render=render,
                )
        searched = f" for {', '.join(map(repr, keywords))}" if keywords else ""
        summary = (
            f"site {defn.name!r}{searched}: {tally.pages} page(s), {tally.listings} listing(s),"
            f" {tally.queued} detail page(s) queued, {tally.warnings} warning(s)"
        )
        await asyncio.to_thread(ctx.status, summary)
        ctx.log.info(summary)

    async def _starts(
        self,
        ctx: ActionContext,
        fetcher: Fetcher,
        defn: SiteDefinition,
        keywords: list[str],
        tally: _Tally,
    ) -> list[tuple[str | None, _Request]]:
        """The first results page of each start URL or keyword."""
        if defn.search is None:
            return _start_urls(defn, keywords)
        page = defn.search.page
        result = await fetcher.fetch(page)
        error = _fetch_error(result)
        if error is not None:
            data = {SITE: defn.name, STATUS_CODE: result.status, FETCHED_AT: _now(), ERROR: error}
            await asyncio.to_thread(ctx.store_items, [ItemRecord(uri=page, data=data)])
            raise NetworkError(f"site {defn.name!r}: the search form page {page}: {error}")
        starts: list[tuple[str | None, _Request]] = []
        searches: list[str | None] = [*keywords] or [None]  # no keywords: the form's defaults
        for keyword in searches:
            try:
                form = find_form(defn, result.text or result.body, result.url, keyword=keyword)
            except SiteChangedError as changed:
                await self._warn(ctx, changed.warning, tally)
                break  # the same page serves every keyword
            except DocumentLimitError as refused:  # fetching it again would not help
                data = {SITE: defn.name, STATUS_CODE: result.status, FETCHED_AT: _now()}
                data[ERROR] = str(refused)
                await asyncio.to_thread(ctx.store_items, [ItemRecord(uri=page, data=data)])
                ctx.log.warning("site %s: the search form page %s: %s", defn.name, page, refused)
                break
            starts.append((keyword, _form_request(defn, form)))
        return starts

    async def _walk(  # noqa: PLR0917 - a private step of search
        self,
        ctx: ActionContext,
        fetcher: Fetcher,
        defn: SiteDefinition,
        start: tuple[str | None, _Request],
        max_pages: int,
        tally: _Tally,
        *,
        render: bool = False,
    ) -> None:
        """Fetch (or render) and store results pages from ``start`` on, following next-page
        links."""
        keyword, first = start
        request: _Request | None = first
        seen: set[str] = set()
        for _ in range(max_pages):
            if request is None or request.uri in seen:
                return
            seen.add(request.uri)
            if render and request.form is None:
                result = await render_page(
                    ctx,
                    fetcher,
                    request.url,
                    wait=defn.wait,
                    scroll=defn.scroll,
                    snapshot=defn.snapshot,
                    page_uri=request.uri,
                )
            else:
                result = await fetcher.fetch(request.url, form=request.form)
            tally.pages += 1
            error = _fetch_error(result)
            if error is not None:
                data = _page_data(defn, keyword, result, error)
                await asyncio.to_thread(ctx.store_items, [ItemRecord(uri=request.uri, data=data)])
                ctx.log.warning("site %s: %s: %s", defn.name, request.url, error)
                return
            try:
                page = await asyncio.to_thread(
                    read_listing, defn, result.text or result.body, base_url=result.url
                )
            except DocumentLimitError as refused:
                data = _page_data(defn, keyword, result, str(refused))
                await asyncio.to_thread(ctx.store_items, [ItemRecord(uri=request.uri, data=data)])
                ctx.log.warning("site %s: %s: %s", defn.name, request.url, refused)
                return
            queued = await asyncio.to_thread(
                self._store_listing, ctx, defn, keyword, request.uri, result, page, render
            )
            tally.listings += len(page.records)
            tally.queued += queued
            for warning in page.warnings:
                await self._warn(ctx, warning, tally)
            request = _Request(page.next_url) if page.next_url else None

    def _store_listing(  # noqa: PLR0917 - a private step of search
        self,
        ctx: ActionContext,
        defn: SiteDefinition,
        keyword: str | None,
        page_uri: str,
        result: FetchResult,
        page: ListingPage,
        render: bool,
    ) -> int:
        action_id = ctx.action_id(DETAIL_ACTION) if defn.detail is not None else None
        queued = ctx.db.run(
            store_listing,
            queue=ctx.queue,
            engine_id=ctx.engine_id,
            detail_action_id=action_id,
            defn=defn,
            page_uri=page_uri,
            page_data=_page_data(defn, keyword, result, None) | {LISTINGS: len(page.records)},
            page=page,
            render=render and defn.fetch != "browser",  # the definition says it otherwise
        )
        ctx.items_stored += 1 + len(page.records)
        ctx.events_enqueued += queued
        return queued

    # --- detail ----------------------------------------------------------------------------

    @item_action(DETAIL_ACTION, description="Fetch a listing's detail page and store its fields")
    async def detail(self, ctx: ActionContext, task: Task) -> None:
        stored = await asyncio.to_thread(ctx.db.run_read, _item_data, item_id=task.item_id)
        defn = await asyncio.to_thread(self._definition, stored)
        result = await _fetch_detail(ctx, defn, stored, task.uri)
        data = await self._detail_data(ctx, defn, stored, task, result)
        # The data and the finished event commit together (the worker does not finish it).
        await asyncio.to_thread(ctx.store_items, [ItemRecord(uri=task.uri, data=data)], finish=task)

    @item_action(RECHECK_ACTION, description="Re-check a listing's detail page: changed or gone")
    async def recheck(self, ctx: ActionContext, task: Task) -> None:
        stored = await asyncio.to_thread(ctx.db.run_read, _item_data, item_id=task.item_id)
        defn = await asyncio.to_thread(self._definition, stored)
        result = await _fetch_detail(ctx, defn, stored, task.uri)
        failure = revisit_failure(result)
        if failure is not None:  # no answer about the listing: retried later, data kept
            raise RevisitFailed(f"re-check of {task.uri}: {failure}")
        data = await self._detail_data(ctx, defn, stored, task, result)
        outcome = await asyncio.to_thread(
            finish_revisit,
            ctx,
            task,
            [ItemRecord(uri=task.uri, data=data)],
            status=result.status,
            not_modified=result.not_modified,
        )
        ctx.log.debug("site %s: re-check of %s: %s", defn.name, task.uri, outcome)

    async def _detail_data(
        self,
        ctx: ActionContext,
        defn: SiteDefinition,
        stored: Mapping[str, list[ItemValue]],
        task: Task,
        result: FetchResult,
    ) -> dict[str, Any]:
        """What a detail page's fetch stores: its fields, or that it is gone, or the error."""
        error = _fetch_error(result)
        data: dict[str, Any] = {STATUS_CODE: result.status, FETCHED_AT: _now(), ERROR: error}
        if result.not_modified:
            return {FETCHED_AT: data[FETCHED_AT]}  # the same page: nothing else to store
        page: DetailPage | None = None
        if error is None:
            body = result.text or result.body
            try:
                if detail_gone(defn, body):
                    return data | {GONE: True}
                page = await asyncio.to_thread(read_detail, defn, body, base_url=result.url)
            except DocumentLimitError as refused:  # stored as the item's error, like a 404
                error = data[ERROR] = str(refused)
        if page is not None:
            for warning in page.warnings:
                await self._warn(ctx, warning, _Tally())
            if page.record is not None:
                fields = merge_fields(_fields(defn, stored), page.record.fields)
                data |= _record_data(defn, fields) | {GONE: []}
            if defn.volatile is not None:  # the page's text, without what is no change
                data[TEXT_DIGEST] = await asyncio.to_thread(_text_digest, result, defn.volatile)
        else:
            ctx.log.warning("site %s: detail page %s: %s", defn.name, task.uri, error)
        return data

    def _definition(self, stored: Mapping[str, list[ItemValue]]) -> SiteDefinition:
        """The definition a listing item was found with (its file, else the shipped one)."""
        source = _first(stored.get(SITE_FILE))
        if isinstance(source, str):
            found = self._definitions.get(source)
            if found is None:
                found = self._definitions[source] = load_site(source)
            return found
        name = _first(stored.get(SITE))
        shipped = builtin_sites()
        if isinstance(name, str) and name in shipped:
            return shipped[name]
        raise NotFoundError(f"the item names no known site definition ({SITE}={name!r})")

    async def _warn(self, ctx: ActionContext, warning: SiteWarning, tally: _Tally) -> None:
        tally.warnings += 1
        ctx.log.warning("%s", warning)
        await asyncio.to_thread(ctx.status, str(warning))


# --- requests and what is stored ----------------------------------------------------------


def _start_urls(defn: SiteDefinition, keywords: list[str]) -> list[tuple[str | None, _Request]]:
    starts: list[tuple[str | None, _Request]] = []
    for url in defn.start_urls:
        if "{keyword}" not in url:
            starts.append((None, _Request(url)))
            continue
        if not keywords:
            raise ConfigError(
                f"site {defn.name!r} searches by keyword: give keywords", setting="keywords"
            )
        starts += [(k, _Request(url.replace("{keyword}", quote_plus(k)))) for k in keywords]
    return starts


def _form_request(defn: SiteDefinition, form: FormRequest) -> _Request:
    if form.method == "GET":
        return _Request(form.url)
    assert defn.search is not None  # a form came from it
    named = {*defn.search.keyword_fields, *defn.search.fields}
    search = tuple(sorted((k, v) for k, v in form.fields.items() if k in named))
    return _Request(form.action, form.fields, search)


async def _fetch_detail(
    ctx: ActionContext, defn: SiteDefinition, stored: Mapping[str, list[ItemValue]], url: str
) -> FetchResult:
    """A listing's detail page: rendered when its definition (or the run that found it, see
    ``SITE_RENDER``) renders, else fetched."""
    if defn.fetch == "browser" or _first(stored.get(SITE_RENDER)) is True:
        return await render_page(
            ctx,
            ctx.fetcher(),
            url,
            wait=defn.wait,
            scroll=defn.scroll,
            snapshot=defn.snapshot,
            page_uri=url,
        )
    return await ctx.fetcher().fetch(url)


def _text_digest(result: FetchResult, rules: VolatileRules) -> str:
    html = result.text or result.body.decode(result.encoding or "utf-8", errors="replace")
    return text_digest(None, page_text(html, rules), rules)


def _fetch_error(result: FetchResult) -> str | None:
    if result.error is not None:
        return result.error
    if result.status is None or result.status >= 400:
        return f"HTTP {result.status}"
    return None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _page_data(
    defn: SiteDefinition, keyword: str | None, result: FetchResult, error: str | None
) -> dict[str, Any]:
    return {
        SITE: defn.name,
        KEYWORD: keyword,
        STATUS_CODE: result.status,
        FETCHED_AT: _now(),
        ERROR: error,
    }


def _record_data(defn: SiteDefinition, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A listing's ItemData: its fields, the posting fields (when mapped) and where it came
    from."""
    data: dict[str, Any] = dict(fields)
    posting = posting_values(defn, fields)
    if posting:
        data |= PostingFields(**posting).as_item_data()
    data[SITE] = defn.name
    if defn.source is not None and not _shipped(defn):
        data[SITE_FILE] = defn.source
    return data


def _shipped(defn: SiteDefinition) -> bool:
    shipped = builtin_sites().get(defn.name)
    return shipped is not None and shipped.source == defn.source


def _list_fields(defn: SiteDefinition) -> set[str]:
    specs = {**defn.listing.fields, **(defn.detail.fields if defn.detail else {})}
    return {name for name, spec in specs.items() if spec.type == "list"}


def _field_names(defn: SiteDefinition) -> list[str]:
    return sorted(set(defn.listing.fields) | set(defn.detail.fields if defn.detail else ()))


def _fields(defn: SiteDefinition, stored: Mapping[str, list[ItemValue]]) -> dict[str, Any]:
    """The definition's fields as stored on an item (lists for list fields)."""
    lists = _list_fields(defn)
    return {
        name: list(stored[name]) if name in lists else _first(stored[name])
        for name in _field_names(defn)
        if name in stored
    }


def _first(values: Sequence[ItemValue] | None) -> ItemValue:
    return values[0] if values else None


# --- the transactions ---------------------------------------------------------------------


def _listing_uri(page_uri: str, index: int) -> str:
    return f"{page_uri}{'&' if '#' in page_uri else '#'}listing-{index}"


def store_listing(
    conn: Connection,
    *,
    queue: WorkQueue,
    engine_id: int,
    detail_action_id: int | None,
    defn: SiteDefinition,
    page_uri: str,
    page_data: Mapping[str, Any],
    page: ListingPage,
    render: bool = False,
) -> int:
    """Store a results page and its listings as one transaction; returns detail events queued.

    ``render``: the run rendered pages its definition does not ask to: the listings say so,
    and their detail pages are rendered too.

    A listing already stored (a rerun, or one seen on another page) keeps the fields this page
    does not show, such as those its detail page added.
    """
    uris = [record.url or _listing_uri(page_uri, n) for n, record in enumerate(page.records, 1)]
    known = store.values_by_uri(conn, uris=uris, keys=_field_names(defn))
    records = []
    detailed: list[str] = []
    for uri, record in zip(uris, page.records, strict=True):
        fields = merge_fields(_fields(defn, known.get(uri, {})), record.fields)
        if record.url is not None:
            detailed.append(uri)
        # A listing is content in itself; its detail page, when fetched, states the outcome.
        data = _record_data(defn, fields)
        if render:
            data[SITE_RENDER] = True
        records.append(ItemRecord(uri=uri, data=data, state=FETCHED))
    links = [LinkSpec(uri, "contains") for uri in dict.fromkeys(uris)]
    records.insert(0, ItemRecord(uri=page_uri, data=page_data, links=links))
    result = store.store_items(conn, engine_id=engine_id, records=records)
    if detail_action_id is None or not detailed:
        return 0
    return queue.enqueue_within(
        conn,
        engine_id=engine_id,
        action_id=detail_action_id,
        item_ids=[result.item_ids[uri] for uri in dict.fromkeys(detailed)],
    )


def _item_data(conn: Connection, *, item_id: int) -> dict[str, list[ItemValue]]:
    found: dict[str, list[ItemValue]] = {}
    for row in store.get_item_data_all(conn, item_id=item_id):
        found.setdefault(row.key, []).append(row.value)
    return found
