"""``rss``: poll RSS, Atom and JSON feeds with conditional GETs; store each entry once.

The start action ``poll`` stores every configured feed URL as an item (with the follow-up
action, ItemData ``FollowAction``, because item actions get no settings) and (re)queues its
``fetchFeed`` event, so any number of workers share the feeds through the work queue.

``fetchFeed`` sends the feed's stored ``ETag``/``LastModified`` validators; a 304 stores only
``CheckedAt`` (``StatusCode`` stays the last full fetch's: the content held is that one). A
fresh feed is parsed outside the transaction, then ONE transaction stores the feed's data, an
item per entry (URI = the entry's link, or its id when it has none) linked ``contains`` from
the feed, and the follow-up events of the entries that are new to this feed: neither their URI
nor their ``EntryId`` was among the feed's entries.
Entries repeated within one document (same id or same link) are stored once.

Every poll of a feed polled before is a re-visit of it: an ItemVisits row records it as
unchanged (a 304, or the same meaning), changed or gone (404/410), in the transaction that
stores it. A poll without an answer (the server down, a 5xx) records no visit. A re-visit
policy for ``rss`` (revisits.py) re-queues the ``fetchFeed`` of feeds last polled long enough
ago, besides (or instead of) a schedule of ``poll``.

Failures are facts about the feed, stored and not retried by the queue (the fetcher already
retried network errors): ``Error`` on the feed item says what went wrong (a fetch error, an
HTTP error status, a document that is no feed), and a later fetch that works clears it.

``postings`` makes the feeds posting feeds (feeds of job postings): their entries also get the
normalized posting fields (``extract/postings.py``), so they are on the postings board,
deduplicated with the same postings from Craigslist and the job boards. It says where an entry
keeps them (``FeedPostingMap``, ``extract/feed_postings.py``) and is stored with each feed as
ItemData ``PostingFeed``.

``follow_action`` names an action of another engine as ``"engine:action"`` (for example
``"webScraper:WebCrawler"``); it is resolved through the catalog, so that engine must have
been registered. The helpers for it are shared with the ``haystack`` folder engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db.schema import URI_MAX
from haystack_collector.engines.base import ActionContext, item_action, start_action
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.engines.revisiting import RevisitSpec, revisit_failure
from haystack_collector.errors import ConfigError, NotFoundError
from haystack_collector.extract.feed import FeedEntry, FeedError, FeedInfo, parse_feed
from haystack_collector.extract.feed_postings import FeedPostingMap, check_pattern
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.fetch import FetchResult
from haystack_collector.queue import Task, WorkQueue
from haystack_collector.store import FETCHED, ItemRecord, ItemValue, LinkSpec
from haystack_collector.store.revisits import record_visit

__all__ = [
    "FETCH_ACTION",
    "POLL_ACTION",
    "FeedUpdate",
    "Rss",
    "RssSettings",
    "contained",
    "enqueue_follow_ups",
    "parse_follow_action",
    "poll_feed",
    "queue_feeds",
    "resolve_follow_action",
    "store_feed",
]

POLL_ACTION = "poll"
FETCH_ACTION = "fetchFeed"

# ItemData keys of a feed item.
FOLLOW_ACTION = "FollowAction"
ETAG = "ETag"
LAST_MODIFIED = "LastModified"
ENTRY_ID = "EntryId"
POSTING_FEED = "PostingFeed"  # the feed's FeedPostingMap, when its entries are job postings
CONTAINS = "contains"

_WEB = ("http://", "https://")

Data = dict[str, ItemValue | Sequence[ItemValue]]


class FeedPostings(BaseModel):
    """Posting feeds: where their entries keep the posting fields (``extract/feed_postings.py``)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=100, description="the board's name for them")
    title_pattern: str | None = Field(
        default=None,
        description="a regular expression searched in the entry title; its named groups"
        " (title, company, location, compensation, employment_type) are posting fields",
    )
    summary_pattern: str | None = Field(
        default=None, description="the same, searched in the entry summary"
    )
    company_from_author: bool = Field(
        default=True, description="the entry author is the company when no pattern gave one"
    )

    @field_validator("title_pattern", "summary_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        check_pattern(pattern)  # ValueError: pydantic reports it as a bad setting
        return pattern

    def posting_map(self) -> FeedPostingMap:
        return FeedPostingMap(
            self.source, self.title_pattern, self.summary_pattern, self.company_from_author
        )


class RssSettings(BaseModel):
    """The feeds ``poll`` queues, what to run on each new entry's link, and posting feeds."""

    model_config = ConfigDict(extra="forbid")

    feeds: list[str] = Field(default_factory=list)
    follow_action: str | None = None
    postings: FeedPostings | None = Field(
        default=None, description="the feeds' entries are job postings, with these fields"
    )


class Rss(FetchingEngine):
    """Poll feeds; store every entry once and queue a follow-up action for new ones."""

    name = "rss"
    version = "1.0"
    description = "RSS, Atom and JSON feeds: entries stored once, conditional GETs"
    Settings = RssSettings

    # Feeds keep their validators in ItemData and send them from there: the fetcher's own
    # cache would turn the retry of a fetch whose entries were never stored into a 304.
    conditional_get = False
    # A feed's re-visit is its poll: the policy re-queues fetchFeed.
    revisit = RevisitSpec(FETCH_ACTION, collect_action=FETCH_ACTION)

    @start_action(POLL_ACTION, description="Store the configured feeds and queue their fetch")
    def poll(self, ctx: ActionContext) -> None:
        assert isinstance(ctx.settings, RssSettings)
        feeds = _feed_urls(ctx.settings.feeds)
        follow = ctx.settings.follow_action
        if follow is not None:
            ctx.db.run_read(resolve_follow_action, spec=follow)  # fail now, not per fetch
        queued = ctx.db.run(
            queue_feeds,
            queue=ctx.queue,
            engine_id=ctx.engine_id,
            action_id=ctx.action_id(FETCH_ACTION),
            feeds=feeds,
            follow_action=follow,
            postings=ctx.settings.postings.posting_map() if ctx.settings.postings else None,
        )
        ctx.items_stored += len(feeds)
        ctx.events_enqueued += queued
        ctx.log.info("queued %d feed(s) for fetching", len(feeds))

    @item_action(FETCH_ACTION, description="Fetch a feed and store its new entries")
    async def fetch_feed(self, ctx: ActionContext, task: Task) -> None:
        known = await asyncio.to_thread(ctx.db.run_read, _validators, item_id=task.item_id)
        result = await ctx.fetcher().fetch(task.uri, etag=known[0], last_modified=known[1])
        checked = datetime.now(UTC).replace(microsecond=0)
        await asyncio.to_thread(self._store, ctx, task, result, checked)

    def _store(
        self, ctx: ActionContext, task: Task, result: FetchResult, checked: datetime
    ) -> None:
        update = _update(result, checked)  # parsing is CPU work: off the loop, outside the txn
        new = ctx.db.run(
            poll_feed,
            queue=ctx.queue,
            engine_id=ctx.engine_id,
            task=task,
            update=update,
            result=result,
        )
        ctx.items_stored += 1 + len(update.entries)
        ctx.events_enqueued += new


def _feed_urls(feeds: Iterable[str]) -> list[str]:
    urls = list(dict.fromkeys(feed.strip() for feed in feeds if feed.strip()))
    if not urls:
        raise ConfigError("no feeds to poll", setting="feeds")
    for url in urls:
        if not url.lower().startswith(_WEB):
            raise ConfigError(f"not an http(s) feed URL: {url!r}", setting="feeds")
    return urls


# --- follow-up actions (shared with the haystack folder engine) ----------------------------


def parse_follow_action(spec: str) -> tuple[str, str]:
    """``"engine:action"`` as ``(engine, action)``; ConfigError when it is not that."""
    engine, sep, action = spec.partition(":")
    if not sep or not engine.strip() or not action.strip():
        raise ConfigError(
            f"follow_action must be 'engine:action', e.g. 'webScraper:WebCrawler'; got {spec!r}",
            setting="follow_action",
        )
    return engine.strip(), action.strip()


def resolve_follow_action(conn: Connection, *, spec: str) -> tuple[int, int]:
    """``(engine id, action id)`` of a registered engine's action named by ``spec``."""
    engine_name, action_name = parse_follow_action(spec)
    engine_id = store.get_engine_id(conn, name=engine_name)
    if engine_id is None:
        raise NotFoundError(
            f"follow_action {spec!r}: no engine named {engine_name!r} is registered"
        )
    for row in store.list_engine_actions(conn, engine_id=engine_id):
        if row.action_name == action_name:
            return engine_id, row.action_id
    raise NotFoundError(f"follow_action {spec!r}: engine {engine_name!r} has no such action")


def contained(conn: Connection, *, item_id: int, key: str | None = None) -> dict[str, ItemValue]:
    """The URIs ``item_id`` links ``contains``, each with its first value of ``key``."""
    return store.linked_values(conn, item_id=item_id, link_type=CONTAINS, key=key)


def enqueue_follow_ups(
    conn: Connection, queue: WorkQueue, *, follow_action: ItemValue, item_ids: Sequence[int]
) -> int:
    """Queue the follow-up action for ``item_ids`` in the caller's transaction (none when no
    follow action is set); returns how many events are new."""
    if not item_ids or not isinstance(follow_action, str) or not follow_action:
        return 0
    engine_id, action_id = resolve_follow_action(conn, spec=follow_action)
    return queue.enqueue_within(conn, engine_id=engine_id, action_id=action_id, item_ids=item_ids)


# --- the transactions ---------------------------------------------------------------------


def queue_feeds(
    conn: Connection,
    *,
    queue: WorkQueue,
    engine_id: int,
    action_id: int,
    feeds: Sequence[str],
    follow_action: str | None,
    postings: FeedPostingMap | None = None,
) -> int:
    """Store the feeds and (re)open their fetch events; returns how many events were added."""
    follow: ItemValue | list[ItemValue] = follow_action if follow_action else []
    posting_feed: ItemValue = postings.as_data() if postings else None
    stored = store.values_by_uri(conn, uris=feeds, keys=[POSTING_FEED, ETAG, LAST_MODIFIED])
    records = []
    for url in feeds:
        data: Data = {FOLLOW_ACTION: follow, POSTING_FEED: _or_empty(posting_feed)}
        known = stored.get(url, {})
        validated = bool(known.get(ETAG) or known.get(LAST_MODIFIED))
        if validated and (known.get(POSTING_FEED) or [None])[0] != posting_feed:
            # Its entries must be read again with the new posting fields: a 304 would skip them.
            data |= {ETAG: [], LAST_MODIFIED: []}
        records.append(ItemRecord(uri=url, data=data))
    result = store.store_items(conn, engine_id=engine_id, records=records)
    # reopen: a feed fetched before is due again; one being fetched right now is left alone.
    return queue.enqueue_within(
        conn,
        engine_id=engine_id,
        action_id=action_id,
        item_ids=[result.item_ids[url] for url in feeds],
        reopen=True,
    )


def _validators(conn: Connection, *, item_id: int) -> tuple[str | None, str | None]:
    etag = store.get_item_value(conn, item_id=item_id, key=ETAG)
    modified = store.get_item_value(conn, item_id=item_id, key=LAST_MODIFIED)
    return (
        etag if isinstance(etag, str) else None,
        modified if isinstance(modified, str) else None,
    )


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """What one fetch of a feed stores: the feed's data and its entries (none on failure)."""

    data: Data
    entries: list[FeedEntry]


def _update(result: FetchResult, checked: datetime) -> FeedUpdate:
    """A fetch result turned into what is stored (parsing happens here, outside any
    transaction)."""
    data: Data = {"StatusCode": result.status, "CheckedAt": checked}
    if result.not_modified:
        # The content held is still the last 200's: its status stays, only the check is new
        # (the poll's visit records the 304). A StatusCode flip would count as a change.
        return FeedUpdate({"CheckedAt": checked, "Error": []}, [])
    if result.error is not None:
        return FeedUpdate(data | {"Error": result.error}, [])
    if result.status != 200:
        return FeedUpdate(data | {"Error": f"HTTP {result.status}"}, [])
    try:
        info, entries = parse_feed(result.body, base_url=result.url)
    except (FeedError, DocumentLimitError) as error:
        return FeedUpdate(data | {"Error": str(error), ETAG: [], LAST_MODIFIED: []}, [])
    return FeedUpdate(
        data
        | _info_data(info)
        | {
            "FetchedAt": checked,
            "EntryCount": len(entries),
            "Error": [],
            # Kept only from a feed that parsed: a broken one must be fetched in full again.
            ETAG: result.headers.get("etag") or [],
            LAST_MODIFIED: result.headers.get("last-modified") or [],
        },
        entries,
    )


def _info_data(info: FeedInfo) -> Data:
    return {
        "Title": _or_empty(info.title),
        "FeedFormat": info.format,
        "FeedLink": _or_empty(info.link),
        "Description": _or_empty(info.description),
    }


def poll_feed(
    conn: Connection,
    *,
    queue: WorkQueue,
    engine_id: int,
    task: Task,
    update: FeedUpdate,
    result: FetchResult,
) -> int:
    """``store_feed``, recording the visit when the feed was polled before and answered."""
    answered = revisit_failure(result) is None
    if not answered or store.get_item_value(conn, item_id=task.item_id, key="CheckedAt") is None:
        return store_feed(conn, queue=queue, engine_id=engine_id, task=task, update=update)
    added: list[int] = []

    def write(conn: Connection) -> None:
        added.append(store_feed(conn, queue=queue, engine_id=engine_id, task=task, update=update))

    record_visit(
        conn,
        item_id=task.item_id,
        engine_id=engine_id,
        status=result.status,
        write=write,
        not_modified=result.not_modified,
    )
    return added[0]


def store_feed(
    conn: Connection, *, queue: WorkQueue, engine_id: int, task: Task, update: FeedUpdate
) -> int:
    """Store one fetch of a feed as one transaction; returns the follow-up events added."""
    feed_id = task.item_id
    # An entry pointing back at the feed would overwrite the feed's own data in the batch.
    entries = {uri: e for uri, e in _distinct(update.entries).items() if uri != task.uri}
    known = contained(conn, item_id=feed_id, key=ENTRY_ID) if entries else {}
    known_ids = {value for value in known.values() if value is not None}
    postings = (
        FeedPostingMap.from_data(store.get_item_value(conn, item_id=feed_id, key=POSTING_FEED))
        if entries
        else None
    )
    new = [
        uri
        for uri, entry in entries.items()
        if uri not in known and (entry.id is None or entry.id not in known_ids)
    ]
    records = [
        ItemRecord(
            uri=task.uri,
            data=update.data,
            links=[LinkSpec(uri, CONTAINS) for uri in entries],
        ),
        *(
            ItemRecord(
                uri=uri,
                data=_entry_data(entry, postings),
                date=entry.published or entry.updated,
                state=FETCHED,  # an entry is content in itself, whatever follows it
            )
            for uri, entry in entries.items()
        ),
    ]
    result = store.store_items(conn, engine_id=engine_id, records=records)
    if not new:
        return 0
    follow = store.get_item_value(conn, item_id=feed_id, key=FOLLOW_ACTION)
    followed = [result.item_ids[uri] for uri in new if uri.lower().startswith(_WEB)]
    return enqueue_follow_ups(conn, queue, follow_action=follow, item_ids=followed)


def _distinct(entries: Iterable[FeedEntry]) -> dict[str, FeedEntry]:
    """Entries by URI, the first of those sharing an id or a link kept."""
    by_uri: dict[str, FeedEntry] = {}
    ids: set[str] = set()
    for entry in entries:
        uri = entry.link or entry.id
        if not uri or len(uri) > URI_MAX or uri in by_uri or (entry.id and entry.id in ids):
            continue
        by_uri[uri] = entry
        if entry.id:
            ids.add(entry.id)
    return by_uri


def _entry_data(entry: FeedEntry, postings: FeedPostingMap | None = None) -> Data:
    """An entry's ItemData; a field the feed no longer gives is cleared (an empty list).

    A posting feed's entry also gets the posting fields (None values stored, as every source
    does, so a re-read clears a field the entry no longer gives).
    """
    fields: Data = dict(postings.fields(entry).as_item_data()) if postings is not None else {}
    return fields | {
        ENTRY_ID: _or_empty(entry.id),
        "Title": _or_empty(entry.title),
        "Link": _or_empty(entry.link),
        "Published": _or_empty(entry.published),
        "Updated": _or_empty(entry.updated),
        "Author": _or_empty(entry.author),
        "Summary": _or_empty(entry.summary),
        "Category": list(entry.categories),
    }


def _or_empty(value: ItemValue) -> ItemValue | list[ItemValue]:
    """None as no rows at all (``[]``), so a stored key is removed rather than set to NULL."""
    return [] if value is None else value
