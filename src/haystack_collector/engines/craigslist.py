"""``craigslist``: search Craigslist, store each listing once, extract every new posting.

Keywords live where the original Peregrin engine kept them: as ``keyword`` ItemData on the
engine's root item (``haystack:engine/craigslist``), in the original format
``city|lang|country|path|query|category`` (``Keyword.parse``). The settings may name one more
search (``city``, ``category``, ``query``, ``filters``).

The start action ``search`` walks each keyword's result pages (next-page links, up to
``max_pages``) and stores, one transaction per page: the search item (URI = the search URL),
each listing as an item linked ``contains`` from it, with the listing's data, and an
``extractor`` event for each posting that has none yet. A posting's item URI is keyed by its
post id (``craigslist:posting/<id>``), because Craigslist post ids are unique across all its
sites while the same posting is linked under several URL shapes and hosts (``/sfc/apa/<id>.html``,
``/sfc/apa/d/<slug>/<id>.html``, ``www.craigslist.org/view/d/...``); the URL is kept as ``Url``.

The item action ``extractor`` fetches the posting, stores every field of ``extract_posting``
and, for job categories, the normalized posting fields (``extract/postings.py``). A posting that was
deleted, flagged or has expired (or answers 404/410) keeps its item and data and gets its
``Status`` and ``Gone``; fetch failures are stored as ``Error`` like ``webScraper`` does.

The item action ``recheck`` is the posting's re-visit (queued by a re-visit policy, see
revisits.py): the posting is fetched again and stored the same way, and the visit recorded as
unchanged, changed or gone (deleted, flagged, expired, 404/410). A re-check that gets no answer
(the server down, a 5xx) fails its event, so the queue retries it later; the posting keeps its
data and state.

``base_url`` points the engine at another server (a mirror, or a test server): searches are
built on it, and every Craigslist URL is fetched from its scheme and host instead (``FetchUrl``),
while item URIs and ``Url`` stay what Craigslist links to.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import ActionContext, item_action, start_action
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.engines.revisiting import (
    RevisitFailed,
    RevisitSpec,
    finish_revisit,
    revisit_failure,
)
from haystack_collector.errors import ConfigError
from haystack_collector.extract.craigslist import (
    Posting,
    SearchResult,
    extract_posting,
    extract_search,
    post_id_from_url,
    search_next_url,
)
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.postings import PostingFields
from haystack_collector.fetch import Fetcher, FetchResult
from haystack_collector.queue import Task, WorkQueue
from haystack_collector.store import FETCHED, ItemRecord, LinkSpec
from haystack_collector.store.values import ItemValue
from haystack_collector.urls import canonicalize

__all__ = [
    "ENGINE_URI",
    "EXTRACT_ACTION",
    "SEARCH_ACTION",
    "Craigslist",
    "CraigslistSettings",
    "Keyword",
    "posting_uri",
]

ENGINE_URI = "haystack:engine/craigslist"
SEARCH_ACTION = "search"
EXTRACT_ACTION = "extractor"
RECHECK_ACTION = "recheck"
KEYWORD = "keyword"  # the original engine's ItemData key on its root item
POSTING_URI_PREFIX = "craigslist:posting/"

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # a city subdomain or a category code
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_LANG = re.compile(r"^[a-z]{2}(?:[_-][A-Za-z]{2})?$")
# Craigslist's job and gig categories: their postings also get the normalized posting fields.
JOB_CATEGORIES = frozenset(
    {
        "jjj", "acc", "ofc", "egr", "med", "sci", "bus", "csr", "edu", "fbh", "lab", "gov",
        "hum", "eng", "lgl", "mnu", "mar", "hea", "npo", "rej", "ret", "sls", "spa", "sec",
        "trd", "sof", "sad", "tch", "trp", "tfr", "web", "wri", "etc", "ggg", "cpg", "crg",
        "cwg", "dmg", "evg", "lbg", "tlg", "wrg",
    }
)  # fmt: skip
_GONE_STATUSES = (404, 410)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class Keyword:
    """One search: ``city|lang|country|path|query|category`` in the original format."""

    city: str
    query: str = ""
    category: str = "jjj"
    lang: str = ""
    country: str = ""
    path: str = "search"

    @classmethod
    def parse(cls, text: str) -> Keyword:
        """Read the original format; the query may itself contain ``|`` (Craigslist's OR)."""
        parts = [part.strip() for part in text.split("|")]
        if len(parts) < 6:
            raise ConfigError(
                f"a Craigslist keyword has six fields city|lang|country|path|query|category,"
                f" not {len(parts)}: {text!r}",
                setting=KEYWORD,
            )
        city, lang, country, path = parts[:4]
        query, category = "|".join(parts[4:-1]), parts[-1]
        return cls.of(
            city=city,
            query=query,
            category=category or "jjj",
            lang=lang,
            country=country,
            path=path or "search",
        )

    @classmethod
    def of(
        cls,
        *,
        city: str,
        query: str = "",
        category: str = "jjj",
        lang: str = "",
        country: str = "",
        path: str = "search",
    ) -> Keyword:
        """A keyword with each field checked: they become a host name and URL path segments."""
        city, category = city.strip().lower(), category.strip().lower()
        if not _NAME.match(city):
            raise ConfigError(f"not a Craigslist site name: {city!r}", setting="city")
        if not _NAME.match(category):
            raise ConfigError(f"not a Craigslist category code: {category!r}", setting="category")
        segments = [segment for segment in path.strip().split("/") if segment]
        if not segments or not all(_PATH_SEGMENT.match(segment) for segment in segments):
            raise ConfigError(f"not a search path: {path!r}", setting="path")
        if lang and not _LANG.match(lang):
            raise ConfigError(f"not a language code: {lang!r}", setting="lang")
        if country and not (len(country) == 2 and country.isalpha()):
            raise ConfigError(f"not a country code: {country!r}", setting="country")
        return cls(city, query.strip(), category, lang, country.lower(), "/".join(segments))

    def as_text(self) -> str:
        """The original format (what ``parse`` reads)."""
        return "|".join((self.city, self.lang, self.country, self.path, self.query, self.category))

    def url(self, base_url: str | None = None, filters: Mapping[str, Any] | None = None) -> str:
        """The search URL: ``https://{city}.craigslist.org/{path}/{category}?query=...``."""
        base = (base_url or f"https://{self.city}.craigslist.org/").rstrip("/")
        params: list[tuple[str, str]] = []
        if self.query:
            params.append(("query", self.query))
        for key, value in sorted((filters or {}).items()):
            for one in value if isinstance(value, list) else [value]:
                params.append((key, _param(one)))
        if self.lang:
            params.append(("lang", self.lang))
        if self.country:
            params.append(("cc", self.country))
        query = f"?{urlencode(params)}" if params else ""
        return f"{base}/{self.path}/{self.category}{query}"


def _param(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class CraigslistSettings(BaseModel):
    """One search of its own (optional) and how every search runs."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    city: str = Field(default="", validation_alias=AliasChoices("city", "site"))
    category: str = "jjj"
    query: str = ""
    filters: dict[str, str | int | float | bool | list[str | int | float | bool]] = Field(
        default_factory=dict
    )
    max_pages: int = Field(default=3, ge=1, le=100)
    base_url: str = ""

    def keyword(self) -> Keyword | None:
        """The settings' own search, checked; None without a city."""
        if not self.city.strip():
            return None
        return Keyword.of(city=self.city, query=self.query, category=self.category)

    def checked_base_url(self) -> str | None:
        """``base_url`` in canonical form; None when not set, ConfigError when not a URL."""
        if not self.base_url.strip():
            return None
        url = canonicalize(self.base_url.strip())
        if url is None:
            raise ConfigError(f"not an http(s) URL: {self.base_url!r}", setting="base_url")
        return url


def posting_uri(url: str | None, post_id: str | None) -> str | None:
    """The item URI of a posting: keyed by post id, else its canonical URL."""
    post_id = post_id or post_id_from_url(url)
    if post_id:
        return POSTING_URI_PREFIX + post_id
    return canonicalize(url) if url else None


def fetch_url(url: str, base_url: str | None) -> str:
    """``url`` on ``base_url`` instead of a Craigslist host (its path appended to base's)."""
    if base_url is None:
        return url
    parts, base = urlsplit(url), urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host != "craigslist.org" and not host.endswith(".craigslist.org"):
        return url
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def category_of(url: str | None) -> str | None:
    """The category code in a posting URL: ``/nby/ctd/1.html`` or ``/sfc/sof/d/slug/1.html``."""
    if not url:
        return None
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    index = segments.index("d") if "d" in segments else len(segments) - 1
    candidate = segments[index - 1] if index >= 1 else ""
    return candidate if len(candidate) == 3 and candidate.isalpha() else None


@dataclass(frozen=True, slots=True)
class _Listing:
    """A search result with its item URI and where it is fetched from."""

    uri: str
    row: SearchResult
    fetch_url: str | None
    category: str | None


class Craigslist(FetchingEngine):
    """Craigslist searches → listing items → posting data and normalized posting fields."""

    name = "craigslist"
    version = "2.0"
    description = "Craigslist searches and postings (every markup era), with posting fields"
    Settings = CraigslistSettings
    status_per_run = False  # one posting per job: a Status row each would double the writes
    revisit = RevisitSpec(RECHECK_ACTION, collect_action=EXTRACT_ACTION)

    @classmethod
    def add_keywords(cls, db: Database, keywords: Sequence[str | Keyword]) -> list[str]:
        """Add searches to the root item (checked first; existing ones kept); returns all."""
        parsed = [k if isinstance(k, Keyword) else Keyword.parse(k) for k in keywords]
        engine_id = cls.register(db).engine_id
        return db.run(_add_keywords, engine_id=engine_id, keywords=[k.as_text() for k in parsed])

    # --- the search ------------------------------------------------------------------------

    @start_action(SEARCH_ACTION, description="Search Craigslist for every keyword")
    async def search(self, ctx: ActionContext) -> None:
        """Run every keyword's search; queue the postings not seen before."""
        assert isinstance(ctx.settings, CraigslistSettings)
        settings = ctx.settings
        base_url = settings.checked_base_url()
        keywords = await asyncio.to_thread(self._keywords, ctx, settings)
        if not keywords:
            raise ConfigError(
                f"nothing to search: no city in the settings and no {KEYWORD!r} on {ENGINE_URI}",
                setting="city",
            )
        async with ctx.new_fetcher() as fetcher:
            for keyword in keywords:
                await self._search_one(ctx, fetcher, keyword, settings, base_url)
        # Runs write no Status row of their own (status_per_run); a search is worth one.
        await asyncio.to_thread(
            ctx.status,
            f"craigslist:search searched {len(keywords)} keyword(s);"
            f" items stored {ctx.items_stored}, postings queued {ctx.events_enqueued}",
        )

    def _keywords(self, ctx: ActionContext, settings: CraigslistSettings) -> list[Keyword]:
        """The root item's keywords (a bad one is reported and skipped), then the settings'."""
        found: dict[str, Keyword] = {}
        for raw in ctx.db.run_read(_stored_keywords):
            try:
                keyword = Keyword.parse(raw)
            except ConfigError as error:
                ctx.log.warning("skipping a keyword: %s", error)
                ctx.status(f"craigslist: skipped keyword {raw!r}: {error}")
                continue
            found.setdefault(keyword.as_text(), keyword)
        own = settings.keyword()
        if own is not None:
            found.setdefault(own.as_text(), own)
        return list(found.values())

    async def _search_one(
        self,
        ctx: ActionContext,
        fetcher: Fetcher,
        keyword: Keyword,
        settings: CraigslistSettings,
        base_url: str | None,
    ) -> None:
        search_url = keyword.url(base_url, settings.filters)
        action_id = ctx.action_id(EXTRACT_ACTION)
        seen: set[str] = set()
        page_url: str | None = search_url
        pages, summary = 0, _SearchSummary(keyword.as_text())
        while page_url is not None and pages < settings.max_pages:
            result = await fetcher.fetch(fetch_url(page_url, base_url))
            pages += 1
            summary.record(result)
            if not result.ok or not result.body:
                break
            try:
                rows = extract_search(result.body, base_url=page_url)
            except DocumentLimitError as refused:  # the search item says why; others go on
                summary.error = str(refused)
                break
            listings: list[_Listing] = []
            for listing in _listings(rows, keyword, base_url):
                if listing.uri not in seen:
                    seen.add(listing.uri)
                    listings.append(listing)
            if listings:
                added = await asyncio.to_thread(
                    ctx.db.run,
                    store_listings,
                    queue=ctx.queue,
                    engine_id=ctx.engine_id,
                    action_id=action_id,
                    search_uri=search_url,
                    listings=listings,
                )
                ctx.items_stored += len(listings)
                ctx.events_enqueued += added
            next_url = search_next_url(result.body, base_url=page_url)
            # A page with nothing new ends the walk: a site ignoring the offset loops otherwise.
            page_url = next_url if listings and next_url != page_url else None
        summary.results, summary.pages = len(seen), pages
        await asyncio.to_thread(
            ctx.db.run,
            store.store_items,
            engine_id=ctx.engine_id,
            records=[ItemRecord(uri=search_url, data=summary.data())],
        )
        ctx.items_stored += 1
        ctx.log.info("searched %s: %d listings on %d page(s)", search_url, len(seen), pages)

    # --- the postings ----------------------------------------------------------------------

    @item_action(RECHECK_ACTION, description="Re-check a posting: unchanged, changed or gone")
    async def recheck(self, ctx: ActionContext, task: Task) -> None:
        """Fetch a posting again and record the visit (see the module docstring)."""
        known = await asyncio.to_thread(ctx.db.run_read, _item_values, item_id=task.item_id)
        url = _text(known.get("FetchUrl")) or _text(known.get("Url")) or _http(task.uri)
        if url is None:
            raise RevisitFailed(f"no URL to re-check for {task.uri!r}")
        result = await ctx.fetcher().fetch(url)
        failure = revisit_failure(result)
        if failure is not None:
            raise RevisitFailed(f"re-check of {url}: {failure}")
        data = posting_data(result, known, datetime.now(UTC).replace(microsecond=0))
        outcome = await asyncio.to_thread(
            finish_revisit,
            ctx,
            task,
            [ItemRecord(uri=task.uri, data=data)],
            status=result.status,
            not_modified=result.not_modified,
        )
        ctx.log.debug("re-check of %s: %s", task.uri, outcome)

    @item_action(EXTRACT_ACTION, description="Fetch a posting and store its fields")
    async def extractor(self, ctx: ActionContext, task: Task) -> None:
        """Fetch one posting and store its fields (or that it is gone, or the fetch error)."""
        known = await asyncio.to_thread(ctx.db.run_read, _item_values, item_id=task.item_id)
        url = _text(known.get("FetchUrl")) or _text(known.get("Url")) or _http(task.uri)
        fetched_at = datetime.now(UTC).replace(microsecond=0)
        if url is None:
            data: dict[str, ItemValue | Sequence[ItemValue]] = {
                "Error": f"no URL to fetch for {task.uri!r}",
                "FetchedAt": fetched_at,
            }
        else:
            result = await ctx.fetcher().fetch(url)
            data = posting_data(result, known, fetched_at)
        # The posting and its finished event commit together (the worker does not finish it).
        await asyncio.to_thread(ctx.store_items, [ItemRecord(uri=task.uri, data=data)], finish=task)


@dataclass(slots=True)
class _SearchSummary:
    """What the search item records about its last run."""

    keyword: str
    status: int | None = None
    error: str | None = None
    results: int = 0
    pages: int = 0

    def record(self, result: FetchResult) -> None:
        self.status = result.status
        if result.error is not None:
            self.error = result.error
        elif result.status is not None and not result.ok:
            self.error = f"HTTP {result.status}"

    def data(self) -> dict[str, ItemValue | Sequence[ItemValue]]:
        return {
            "Keyword": self.keyword,
            "StatusCode": self.status,
            "Error": self.error,
            "Results": self.results,
            "Pages": self.pages,
            "FetchedAt": datetime.now(UTC).replace(microsecond=0),
        }


def _listings(
    rows: Sequence[SearchResult], keyword: Keyword, base_url: str | None
) -> list[_Listing]:
    found: list[_Listing] = []
    for row in rows:
        uri = posting_uri(row.url, row.post_id)
        if uri is None:
            continue
        absolute = row.url if row.url and row.url.startswith(("http://", "https://")) else None
        target = None if absolute is None else fetch_url(absolute, base_url)
        category = category_of(absolute) or keyword.category
        found.append(_Listing(uri, row, target if target != absolute else None, category))
    return found


# --- from a posting response to what is stored ----------------------------------------------


def posting_data(  # noqa: PLR0911 - one outcome per kind of answer
    result: FetchResult, known: Mapping[str, ItemValue], fetched_at: datetime
) -> dict[str, ItemValue | Sequence[ItemValue]]:
    """The ItemData a posting fetch leaves; never clears what an earlier extraction stored
    unless the posting was extracted again."""
    data: dict[str, ItemValue | Sequence[ItemValue]] = {
        "FetchedAt": fetched_at,
        "StatusCode": result.status,
        "Error": result.error,
    }
    if result.redirects:
        data["FinalUrl"] = result.url
    if result.error is not None or result.status is None or result.not_modified:
        return data
    try:
        posting = _parse_posting(result)
    except DocumentLimitError as refused:
        return data | {"Error": str(refused)}
    if result.status in _GONE_STATUSES:
        # Craigslist answers a removed posting with 404 and, often, the notice.
        status = posting.status if posting and posting.status != "active" else "expired"
        return data | {"Status": status, "Gone": True}
    if not result.ok:
        return data | {"Error": f"HTTP {result.status}"}
    if posting is None:
        return data | {"Error": f"not an HTML page ({result.content_type})"}
    if posting.status != "active":
        return data | {"Status": posting.status, "Gone": True}
    if posting.title is None and posting.body is None and posting.post_id is None:
        return data | {"Error": "no Craigslist posting found in the page"}
    return data | _posting_fields(posting, known)


def _parse_posting(result: FetchResult) -> Posting | None:
    content_type = (result.content_type or "text/html").split(";")[0].strip().lower()
    if content_type not in _HTML_TYPES or not result.body:
        return None
    [posting] = extract_posting(result.body, base_url=result.url)
    return posting


def _posting_fields(
    posting: Posting, known: Mapping[str, ItemValue]
) -> dict[str, ItemValue | Sequence[ItemValue]]:
    data: dict[str, ItemValue | Sequence[ItemValue]] = {
        "Title": posting.title,
        "Body": posting.body,
        "Posted": posting.posted,
        "Updated": posting.updated,
        "Price": posting.price,
        "Compensation": posting.compensation,
        "EmploymentType": posting.employment_type,
        "Attribute": list(posting.attributes),
        "Latitude": posting.latitude,
        "Longitude": posting.longitude,
        "Image": list(posting.images),
        "Status": posting.status,
        "Gone": False,
    }
    # The listing's post id names the item; the page's only fills in a missing one.
    if posting.post_id and not known.get("PostId"):
        data["PostId"] = posting.post_id
    if _is_job_posting(known.get("Category"), posting):
        job = PostingFields(
            title=posting.title,
            location=_text(known.get("Hood")),
            compensation=posting.compensation,
            employment_type=posting.employment_type,
            posted=posting.posted,
            source="craigslist",
        )
        data |= job.as_item_data()
    return data


def _is_job_posting(category: ItemValue, posting: Posting) -> bool:
    return category in JOB_CATEGORIES or bool(posting.compensation or posting.employment_type)


def _text(value: ItemValue) -> str | None:
    return value if isinstance(value, str) and value else None


def _http(uri: str) -> str | None:
    return uri if uri.startswith(("http://", "https://")) else None


def _listing_posted(value: datetime | date | None) -> datetime | date | None:
    # A result page's time has no zone (it is the site's local time): stored as UTC it would
    # be hours off, so only the day is kept until the posting gives the exact moment.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.date()
    return value


# --- the transactions -----------------------------------------------------------------------


def store_listings(
    conn: Connection,
    *,
    queue: WorkQueue,
    engine_id: int,
    action_id: int,
    search_uri: str,
    listings: Sequence[_Listing],
) -> int:
    """Store one result page's listings, linked from the search; returns events added.

    Title, Price and Posted are written for new items only: once the posting is extracted its
    own values are better than a result row's (which has no year before 2016, no zone ever).
    An extractor event is added for each posting that has none yet, in any state.
    """
    search = ItemRecord(
        uri=search_uri, links=[LinkSpec(listing.uri, "contains") for listing in listings]
    )
    records = [
        ItemRecord(
            uri=listing.uri,
            data={
                "PostId": listing.row.post_id or post_id_from_url(listing.row.url),
                "Hood": listing.row.hood,
                "Nearby": listing.row.nearby,
                "Url": listing.row.url,
                "FetchUrl": listing.fetch_url,
                "Category": listing.category,
            },
            state=FETCHED,  # a listing's row is content; extracting the posting adds to it
        )
        for listing in listings
    ]
    result = store.store_items(conn, engine_id=engine_id, records=[search, *records])
    fresh = [
        ItemRecord(
            uri=listing.uri,
            data={
                "Title": listing.row.title,
                "Price": listing.row.price,
                "Posted": _listing_posted(listing.row.posted),
            },
        )
        for listing in listings
        if listing.uri in result.created
    ]
    if fresh:
        store.store_items(conn, engine_id=engine_id, records=fresh)
    return queue.enqueue_within(
        conn,
        engine_id=engine_id,
        action_id=action_id,
        item_ids=[result.item_ids[listing.uri] for listing in listings],
    )


def _item_values(conn: Connection, *, item_id: int) -> dict[str, ItemValue]:
    """The first value of each key an item has."""
    values: dict[str, ItemValue] = {}
    for row in store.get_item_data_all(conn, item_id=item_id):
        values.setdefault(row.key, row.value)
    return values


def _stored_keywords(conn: Connection) -> list[str]:
    root = store.find_item_id(conn, uri=ENGINE_URI)
    if root is None:
        return []
    # Anything but text is kept as its text, so parsing it reports it rather than losing it.
    values = store.get_item_data(conn, item_id=root, key=KEYWORD)
    return [value if isinstance(value, str) else str(value) for value in values if value]


def _add_keywords(conn: Connection, *, engine_id: int, keywords: Sequence[str]) -> list[str]:
    existing = _stored_keywords(conn)
    merged = list(dict.fromkeys([*existing, *keywords]))
    store.store_items(
        conn,
        engine_id=engine_id,
        records=[ItemRecord(uri=ENGINE_URI, data={KEYWORD: merged}, state=FETCHED)],
    )
    return merged
