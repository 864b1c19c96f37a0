"""``seleniumwebform``: fill in a site's search form in a browser and store every result.

The original suite declared this engine (``engines/seleniumwebform.py``, action ``search``)
and left it a stub; this one keeps its name and action. Its ``search`` start action reads a
site definition with ``fetch: browser`` and a ``form:`` block, opens the form's page in the
process's browser (``ctx.browser()``: every request under the fetch rules), fills the form
from the definition's fields, the run's ``fields`` and each keyword, submits it, waits for
the results, turns the pages (``form.pagination``) and reads each page with the definition's
listing selectors, the same pure functions the ``sites`` engine uses.

Results are stored as the ``sites`` engine stores them: a results page item (URI: the form's
page plus ``#form:`` and what was searched, and ``&page=N``) that ``contains`` one item per
listing, with its fields, the job fields the definition maps and the site's name; listings with
a detail URL get the ``detail`` action, which this engine inherits. With ``snapshot`` kinds,
each results page also gets its rendered HTML, a full-page PNG and/or a PDF, stored by SHA-256
under the downloads folder and linked with ``snapshot`` links (see ``snapshots.py``).

A form page that cannot be loaded (an HTTP error, a refused fetch), a form that is missing, a
field or a submit button that is not on the page, and results that do not show within
``form.wait.timeout`` are stored as the page item's ``Error`` with a warning
(Status row and log); the other keywords still run, the pages read before still count, and the
run then fails naming what went wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import Field, field_validator
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.engines.base import ActionContext, start_action
from haystack_collector.engines.defaults import engine_defaults
from haystack_collector.engines.sites import (
    DETAIL_ACTION,
    SEARCH_ACTION,
    Sites,
    SitesSettings,
    resolve_site,
    store_listing,
)
from haystack_collector.errors import ConfigError, ExtractionError
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.sites import (
    ListingPage,
    SiteChangedError,
    SiteDefinition,
    read_listing,
)
from haystack_collector.extract.sites.model import FormValue, SnapshotKind
from haystack_collector.fetch.form_fill import (
    FormPage,
    FormPageError,
    FormTimeout,
    form_values,
    search_form,
)
from haystack_collector.queue import WorkQueue
from haystack_collector.snapshots import (
    Snapshot,
    capture_page,
    link_snapshots,
    snapshot_folder,
    store_snapshot,
)
from haystack_collector.store import ItemRecord

__all__ = ["WebForm", "WebFormSettings", "search_uri"]

# ItemData keys, as the sites engine writes them.
SITE = "Site"
KEYWORD = "SiteKeyword"
LISTINGS = "SiteListings"
PAGE = "SitePage"
STATUS_CODE = "StatusCode"
FETCHED_AT = "FetchedAt"
ERROR = "Error"


class WebFormSettings(SitesSettings):
    """What ``search`` runs: the site, keywords, and what replaces the definition's values."""

    base_url: str = Field(
        default="", description="replaces the definition's base_url (where a form page path goes)"
    )
    fields: dict[str, FormValue] = Field(
        default_factory=dict, description="form fields over the definition's (control name: value)"
    )
    max_pages: Annotated[int | None, Field(ge=1)] = Field(  # type: ignore[assignment]
        default=None, description="results pages per keyword (default: form.pagination.max_pages)"
    )
    snapshot: list[SnapshotKind] | None = Field(
        default=None, description="html, png and/or pdf of each results page (default: the site's)"
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value


def search_uri(url: str, values: Mapping[str, FormValue], page: int) -> str:
    """A results page's item URI: the form page, what was searched for and the page number."""
    shown = sorted((name, _shown(value)) for name, value in values.items())
    return f"{url}#form:{urlencode([*shown, ('page', str(page))])}"


def _shown(value: FormValue) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@dataclass(slots=True)
class _Tally:
    pages: int = 0
    listings: int = 0
    queued: int = 0
    snapshots: int = 0
    warnings: int = 0
    failures: list[str] = field(default_factory=list)


class WebForm(Sites):
    """Fill in a search form in a browser and collect its results (see the module docstring)."""

    name = "seleniumwebform"
    version = "1.0"
    description = "Search forms filled in a browser: a site definition with fetch: browser + form"
    Settings = WebFormSettings

    @start_action(SEARCH_ACTION, description="Fill in a site's form in a browser, store results")
    async def search(self, ctx: ActionContext) -> None:
        settings = ctx.settings
        assert isinstance(settings, WebFormSettings)
        defn = await asyncio.to_thread(resolve_site, settings.site, settings.folder)
        if defn.form is None:
            raise ConfigError(
                f"site {defn.name!r} has no 'form:' block: run it with the sites engine",
                setting="site",
            )
        unknown = sorted(set(settings.fields) - set(defn.form.fields))
        if unknown:
            raise ConfigError(
                f"fields {unknown} are not fields of site {defn.name!r}'s form"
                f" ({', '.join(sorted(defn.form.fields)) or 'none'})",
                setting="fields",
            )
        keywords = [k.strip() for k in settings.keywords if k.strip()]
        if defn.by_keyword and not keywords:
            raise ConfigError(
                f"site {defn.name!r} searches by keyword: give keywords", setting="keywords"
            )
        url = defn.form_page(settings.base_url or None)
        kinds = settings.snapshot if settings.snapshot is not None else list(defn.snapshot)
        tally = _Tally()
        searches: list[str | None] = [*keywords] or [None]
        for keyword in searches:
            values = form_values(defn.form, settings.fields, keyword)
            await self._search_once(ctx, defn, url, (keyword, values), kinds, tally)
        searched = f" for {', '.join(map(repr, keywords))}" if keywords else ""
        summary = (
            f"site {defn.name!r}{searched}: {tally.pages} page(s), {tally.listings} listing(s),"
            f" {tally.queued} detail page(s) queued, {tally.snapshots} snapshot(s),"
            f" {tally.warnings} warning(s)"
        )
        await asyncio.to_thread(ctx.status, summary)
        ctx.log.info(summary)
        if tally.failures:
            raise ExtractionError(f"site {defn.name!r}: " + "; ".join(tally.failures))

    async def _search_once(  # noqa: PLR0917 - a private step of search
        self,
        ctx: ActionContext,
        defn: SiteDefinition,
        url: str,
        search: tuple[str | None, dict[str, FormValue]],
        kinds: list[SnapshotKind],
        tally: _Tally,
    ) -> None:
        """One filled-in search, every results page of it stored as it is read."""
        keyword, values = search
        settings = ctx.settings
        assert isinstance(settings, WebFormSettings)
        number = 0
        try:
            async with ctx.browser().page() as page:
                pages = search_form(page, defn, values, url=url, max_pages=settings.max_pages)
                async for found in pages:
                    number = found.number
                    shots = await capture_page(page, kinds, found.html)
                    stored = await asyncio.to_thread(_store_shots, shots)
                    uri = search_uri(url, values, number)
                    await self._store_page(ctx, defn, keyword, uri, found, stored, tally)
        except (FormTimeout, FormPageError, SiteChangedError) as problem:
            uri = search_uri(url, values, number + 1)
            message = str(problem)
            data = {SITE: defn.name, KEYWORD: keyword, ERROR: message, PAGE: number + 1}
            if isinstance(problem, FormPageError):
                data[STATUS_CODE] = problem.status
            await asyncio.to_thread(ctx.store_items, [ItemRecord(uri=uri, data=data)])
            tally.warnings += 1
            tally.failures.append(f"{uri}: {message}")
            ctx.log.warning("site %s: %s: %s", defn.name, uri, message)
            await asyncio.to_thread(ctx.status, f"site {defn.name!r}: {uri}: {message}"[:4000])

    async def _store_page(  # noqa: PLR0917 - a private step of search
        self,
        ctx: ActionContext,
        defn: SiteDefinition,
        keyword: str | None,
        uri: str,
        found: FormPage,
        shots: list[Snapshot],
        tally: _Tally,
    ) -> None:
        tally.pages += 1
        base: dict[str, Any] = {
            SITE: defn.name,
            KEYWORD: keyword,
            STATUS_CODE: found.status,
            PAGE: found.number,
            FETCHED_AT: _now(),
        }
        try:
            listing = await asyncio.to_thread(read_listing, defn, found.html, base_url=found.url)
        except DocumentLimitError as refused:
            data = base | {ERROR: str(refused)}
            await asyncio.to_thread(_store_error, ctx, uri, data, shots)
            ctx.log.warning("site %s: %s: %s", defn.name, uri, refused)
            return
        action_id = ctx.action_id(DETAIL_ACTION) if defn.detail is not None else None
        queued = await asyncio.to_thread(
            ctx.db.run,
            _store_results,
            queue=ctx.queue,
            engine_id=ctx.engine_id,
            detail_action_id=action_id,
            defn=defn,
            page_uri=uri,
            page_data=base | {ERROR: None, LISTINGS: len(listing.records)},
            page=listing,
            shots=shots,
        )
        ctx.items_stored += 1 + len(listing.records) + len(shots)
        ctx.events_enqueued += queued
        tally.listings += len(listing.records)
        tally.queued += queued
        tally.snapshots += len(shots)
        for warning in listing.warnings:
            tally.warnings += 1
            ctx.log.warning("%s", warning)
            await asyncio.to_thread(ctx.status, str(warning))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _store_shots(shots: Mapping[SnapshotKind, bytes]) -> list[Snapshot]:
    if not shots:
        return []
    folder = snapshot_folder(engine_defaults().downloads)
    return [store_snapshot(folder, kind, data) for kind, data in shots.items()]


def _store_results(
    conn: Connection,
    *,
    queue: WorkQueue,
    engine_id: int,
    detail_action_id: int | None,
    defn: SiteDefinition,
    page_uri: str,
    page_data: dict[str, Any],
    page: ListingPage,
    shots: list[Snapshot],
) -> int:
    """The results page, its listings and its snapshots, in one transaction."""
    queued = store_listing(
        conn,
        queue=queue,
        engine_id=engine_id,
        detail_action_id=detail_action_id,
        defn=defn,
        page_uri=page_uri,
        page_data=page_data,
        page=page,
    )
    _link_shots(conn, engine_id, page_uri, shots)
    return queued


def _store_error(ctx: ActionContext, uri: str, data: dict[str, Any], shots: list[Snapshot]) -> None:
    def work(conn: Connection) -> None:
        store.store_items(conn, engine_id=ctx.engine_id, records=[ItemRecord(uri=uri, data=data)])
        _link_shots(conn, ctx.engine_id, uri, shots)

    ctx.db.run(work)


def _link_shots(conn: Connection, engine_id: int, page_uri: str, shots: list[Snapshot]) -> None:
    link_snapshots(conn, engine_id=engine_id, page_uri=page_uri, shots=shots)
