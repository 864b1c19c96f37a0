"""The postings board: job postings from every source, deduplicated, with a status workflow.

A *posting* is one job, however many items carry it: every engine that finds job postings
stores ``PostingFields.as_item_data()`` on their items (``extract/postings.py``), and the items
with the same ``JobFingerprint`` are one posting, listed with every source and URI that found it.
The newest item of a posting speaks for its fields; the older ones add sources and URIs.

Its status is kept per fingerprint (``PostingStatus``, with every change in
``PostingHistory``), apart from the items, so re-running the engines (which re-stores the
items) never touches it. A posting without a status row is ``new``. The workflow::

    new → seen → applied → interviewing → offer / rejected

- ``new`` may go to ``seen`` or straight to ``applied``; ``seen`` back to ``new`` (unread);
- ``applied`` to ``interviewing``, ``offer`` or ``rejected``; ``interviewing`` to ``offer``
  or ``rejected``; ``offer`` and ``rejected`` end the workflow;
- any status may go to ``archived`` or ``ignored``; ``archived`` and ``ignored`` go back
  only to the status the posting had before (to undo), or to each other.

Any other move raises ``ConflictError``; setting the status a posting already has changes
nothing (a note given with it is still recorded in the history).

A posting is *gone* when every item that carries it is in the item state ``gone`` (its
source answered 404/410 or said it was removed); ``gone_at`` is when the last of them was
last written. It keeps its status.

Filtering happens here, in Python: a request reads the fingerprints, the statuses and only
the fields its filters test, then the page's postings in full (docs/postings.md#limits gives
the measured cost).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Final, Literal, get_args

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import (
    FINGERPRINT_MAX,
    TOKEN_NAME_MAX,
    item_data,
    items,
    posting_history,
    posting_status,
)
from haystack_collector.errors import ConflictError, NotFoundError
from haystack_collector.extract.postings import (
    POSTING_COMPANY,
    POSTING_COMPENSATION,
    POSTING_EMPLOYMENT_TYPE,
    POSTING_FINGERPRINT,
    POSTING_KEYS,
    POSTING_LOCATION,
    POSTING_POSTED,
    POSTING_SOURCE,
    POSTING_TITLE,
    compensation_amount,
)
from haystack_collector.store._sql import CHUNK, check_length, chunks, from_db, utcnow
from haystack_collector.store.item_state import GONE
from haystack_collector.store.values import ItemValue, decode

__all__ = [
    "DESCRIPTION_KEYS",
    "POSTING_STATUSES",
    "HistoryEntry",
    "Posting",
    "PostingDetail",
    "PostingFilter",
    "PostingPage",
    "PostingSource",
    "PostingStatus",
    "StatusChange",
    "allowed_statuses",
    "get_posting",
    "iter_postings",
    "list_postings",
    "set_posting_status",
]

PostingStatus = Literal[
    "new", "seen", "applied", "interviewing", "offer", "rejected", "archived", "ignored"
]
POSTING_STATUSES: Final[tuple[PostingStatus, ...]] = get_args(PostingStatus)
NEW: Final[PostingStatus] = "new"
_SET_ASIDE: Final[frozenset[str]] = frozenset({"archived", "ignored"})
_NEXT: Final[dict[str, frozenset[str]]] = {
    "new": frozenset({"seen", "applied"}),
    "seen": frozenset({"new", "applied"}),
    "applied": frozenset({"interviewing", "offer", "rejected"}),
    "interviewing": frozenset({"offer", "rejected"}),
    "offer": frozenset(),
    "rejected": frozenset(),
}
NOTE_MAX = 2_000

# Where the sources keep a posting's text, for the keyword filter: Craigslist's posting body,
# a feed entry's summary, a site definition's ``description`` field.
DESCRIPTION_KEYS: Final = ("Body", "Summary", "description")
URL_KEY = "Url"  # a Craigslist posting's web address (its item URI is craigslist:posting/<id>)
_READ_KEYS = (*POSTING_KEYS, *DESCRIPTION_KEYS, URL_KEY)
_WEB = ("http://", "https://")


@dataclass(frozen=True, slots=True)
class PostingSource:
    """One item that carries the posting: which source found it, where, and its state."""

    item_id: int
    uri: str
    url: str | None  # the web address to open (the URI itself when it is one)
    source: str | None
    state: str
    found: datetime | None  # when Haystack first stored the item


@dataclass(slots=True)
class Posting:
    """One job posting, however many items (sources, searches, boards) carry it."""

    fingerprint: str
    title: str | None
    company: str | None
    location: str | None
    compensation: str | None
    compensation_amount: float | None  # per year, see extract.postings.compensation_amount
    employment_type: str | None
    posted: datetime | date | None
    description: str | None
    status: PostingStatus
    status_changed: datetime | None
    found: datetime | None  # when Haystack first stored an item of it
    gone: bool
    gone_at: datetime | None
    sources: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    items: list[PostingSource] = field(default_factory=list)
    newest_item: int = 0


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    status: PostingStatus
    date: datetime
    note: str | None
    by: str | None


@dataclass(frozen=True, slots=True)
class PostingDetail:
    posting: Posting
    history: list[HistoryEntry]
    allowed: list[PostingStatus]  # where its status may go from here


@dataclass(frozen=True, slots=True)
class PostingFilter:
    """What the board lists; every filter given must hold (None: not filtered)."""

    q: str | None = None  # every word in the title, company or description
    source: str | None = None  # found by this source (engine or site definition name)
    location: str | None = None  # this text in the location
    compensation: bool | None = None  # True: states a compensation; False: states none
    min_compensation: float | None = None  # can pay at least this much per year
    posted_since: date | None = None  # posted on or after this day
    status: tuple[PostingStatus, ...] | None = None  # in one of these statuses
    gone: bool | None = None  # True: only gone postings; False: only those still listed

    def keys(self) -> tuple[str, ...]:
        """The ItemData keys these filters read (the source is always read: it is listed)."""
        keys = [POSTING_SOURCE]
        if self.location is not None:
            keys.append(POSTING_LOCATION)
        if self.compensation is not None or self.min_compensation is not None:
            keys.append(POSTING_COMPENSATION)
        if self.posted_since is not None:
            keys.append(POSTING_POSTED)
        if self.q is not None:
            keys += [POSTING_TITLE, POSTING_COMPANY, *DESCRIPTION_KEYS]
        return tuple(keys)

    def matches(self, posting: Posting) -> bool:  # noqa: PLR0911 - one test per filter
        if self.status is not None and posting.status not in self.status:
            return False
        if self.source is not None and self.source not in posting.sources:
            return False
        if self.gone is not None and posting.gone != self.gone:
            return False
        if self.location is not None and (
            posting.location is None or self.location.casefold() not in posting.location.casefold()
        ):
            return False
        if self.compensation is not None and bool(posting.compensation) != self.compensation:
            return False
        if self.min_compensation is not None and (
            posting.compensation_amount is None
            or posting.compensation_amount < self.min_compensation
        ):
            return False
        if self.posted_since is not None and (
            posting.posted is None or _day(posting.posted) < self.posted_since
        ):
            return False
        return self.q is None or _has_words(posting, self.q)


@dataclass(frozen=True, slots=True)
class PostingPage:
    postings: list[Posting]
    total: int  # postings matching the filter, on every page
    counts: dict[str, int]  # postings per status, matching every filter but the status


@dataclass(frozen=True, slots=True)
class StatusChange:
    fingerprint: str
    previous: PostingStatus
    status: PostingStatus
    changed: bool  # False: it already had this status
    date: datetime


# --- reading ------------------------------------------------------------------------------


def list_postings(
    conn: Connection,
    *,
    where: PostingFilter | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PostingPage:
    """A page of the postings ``where`` selects, newest first, and how many match in all.

    Newest first: the posting whose newest item Haystack stored last comes first (a posting
    found again by a new source moves up; one re-stored by the same source does not).
    """
    where = where or PostingFilter()
    any_status = replace(where, status=None)
    counts: dict[str, int] = dict.fromkeys(POSTING_STATUSES, 0)
    matching: list[str] = []
    holders = _all_holders(conn)
    if any_status == PostingFilter():  # by status only: no field needs reading
        statuses = _statuses(conn, set(holders.values()))
        for fingerprint in _newest_first(holders):
            status = statuses[fingerprint][0] if fingerprint in statuses else NEW
            counts[status] += 1
            if where.status is None or status in where.status:
                matching.append(fingerprint)
    else:  # the filters read only the fields they test
        for posting in _build(conn, holders, keys=where.keys(), states=where.gone is not None):
            if any_status.matches(posting):
                counts[posting.status] += 1
                if where.status is None or posting.status in where.status:
                    matching.append(posting.fingerprint)
    shown = set(matching[offset : offset + limit])
    page = _build(conn, {item: fp for item, fp in holders.items() if fp in shown})
    return PostingPage(page, len(matching), counts)


def iter_postings(conn: Connection, *, where: PostingFilter | None = None) -> Iterator[Posting]:
    """Every posting ``where`` selects, newest first, with every field but the description
    (for the export)."""
    where = where or PostingFilter()
    keys = (*POSTING_KEYS, URL_KEY, *(where.keys() if where.q else ()))
    postings = _build(conn, _all_holders(conn), keys=tuple(dict.fromkeys(keys)))
    return (posting for posting in postings if where.matches(posting))


def get_posting(conn: Connection, *, fingerprint: str) -> PostingDetail:
    """One posting with its sources, its status history and its allowed next statuses."""
    holders = _holders(conn, fingerprints=[fingerprint])
    if not holders:
        raise NotFoundError(f"no posting with fingerprint {fingerprint!r}")
    [posting] = _build(conn, holders)
    history = _history(conn, fingerprint)
    return PostingDetail(posting, history, allowed_statuses(posting.status, history))


def allowed_statuses(
    current: PostingStatus, history: Sequence[HistoryEntry]
) -> list[PostingStatus]:
    """The statuses a posting in ``current`` (with this history, oldest first) may move to."""
    if current in _SET_ASIDE:
        before = _before_set_aside(history)
        targets = {before} | (_SET_ASIDE - {current})
    else:
        targets = set(_NEXT[current]) | _SET_ASIDE
    return [status for status in POSTING_STATUSES if status in targets]


def _before_set_aside(history: Sequence[HistoryEntry]) -> PostingStatus:
    for entry in reversed(history):
        if entry.status not in _SET_ASIDE:
            return entry.status
    return NEW


def _newest_first(holders: dict[int, str]) -> list[str]:
    """The fingerprints of ``holders``, the one whose newest item is newest first."""
    return list(dict.fromkeys(holders[item] for item in sorted(holders, reverse=True)))


def _all_holders(conn: Connection) -> dict[int, str]:
    """Item id → fingerprint of every item that carries a posting."""
    d = item_data.c
    query = select(d.itemId, d.itemDataValue).where(
        d.itemData == POSTING_FINGERPRINT, d.itemDataValue.is_not(None)
    )
    return {int(item): str(value) for item, value in conn.execute(query)}


def _holders(conn: Connection, *, fingerprints: Iterable[str]) -> dict[int, str]:
    """Item id → fingerprint of the items carrying these fingerprints."""
    d = item_data.c
    holders: dict[int, str] = {}
    for part in chunks(list(dict.fromkeys(fingerprints)), CHUNK):
        query = select(d.itemId, d.itemDataValue).where(
            d.itemData == POSTING_FINGERPRINT, d.itemDataValue.in_(part)
        )
        holders.update((int(item), str(value)) for item, value in conn.execute(query))
    return holders


def _build(
    conn: Connection,
    holders: dict[int, str],
    *,
    keys: Sequence[str] = _READ_KEYS,
    states: bool = True,
) -> list[Posting]:
    """The postings the items in ``holders`` carry, newest first, with the fields of ``keys``
    (others None) and, with ``states``, their items' states and whether they are gone."""
    values = _values(conn, holders, keys)
    rows: dict[int, tuple[str, str, datetime | None]] = {}
    gone_items: list[int] = []
    i = items.c
    for batch in chunks(sorted(holders), CHUNK) if states else ():
        for item, uri, state, created in conn.execute(
            select(i.itemId, i.ItemURI, i.ItemState, i.itemCreated).where(i.itemId.in_(batch))
        ):
            rows[int(item)] = (str(uri), str(state), from_db(created))
            if state == GONE:
                gone_items.append(int(item))
    written = _last_written(conn, gone_items)
    statuses = _statuses(conn, set(holders.values()))
    postings: dict[str, Posting] = {}
    for item in sorted(holders, reverse=True):  # the newest item speaks for the posting
        if states and item not in rows:
            continue  # deleted between the two reads
        fingerprint, fields = holders[item], values.get(item, {})
        posting = postings.get(fingerprint)
        if posting is None:
            posting = postings[fingerprint] = _posting(
                fingerprint, fields, statuses.get(fingerprint), newest=item
            )
        source = _text(fields.get(POSTING_SOURCE))
        if source is not None and source not in posting.sources:
            posting.sources.append(source)
        if posting.description is None:
            posting.description = _description(fields)
        if not states:
            continue
        uri, state, created = rows[item]
        posting.uris.append(uri)
        url = _text(fields.get(URL_KEY)) or (uri if uri.startswith(_WEB) else None)
        posting.items.append(PostingSource(item, uri, url, source, state, created))
        if created is not None and (posting.found is None or created < posting.found):
            posting.found = created
    for posting in postings.values() if states else ():
        posting.gone = all(source.state == GONE for source in posting.items)
        if posting.gone:
            moments = [written[s.item_id] for s in posting.items if s.item_id in written]
            posting.gone_at = max(moments) if moments else None
    return list(postings.values())


def _values(
    conn: Connection, holders: dict[int, str], keys: Sequence[str]
) -> dict[int, dict[str, ItemValue]]:
    """The first value of each of ``keys`` on the items of ``holders``."""
    values: dict[int, dict[str, ItemValue]] = defaultdict(dict)
    if not keys or not holders:
        return values
    d = item_data.c
    query = select(d.itemId, d.itemData, d.itemDataValue, d.itemDataType).where(
        d.itemData.in_(keys)
    )
    if len(holders) <= CHUNK:
        queries = [query.where(d.itemId.in_(sorted(holders)))]
    else:  # the whole board: one query, not one per chunk of ids
        carrying = select(d.itemId).where(d.itemData == POSTING_FINGERPRINT).scalar_subquery()
        queries = [query.where(d.itemId.in_(carrying))]
    for each in queries:
        for item, key, text, tag in conn.execute(each.order_by(d.itemId, d.itemDataSeq)):
            if item in holders:
                values[int(item)].setdefault(str(key), decode(text, tag))
    return values


def _posting(
    fingerprint: str,
    fields: dict[str, ItemValue],
    status: tuple[PostingStatus, datetime | None] | None,
    *,
    newest: int,
) -> Posting:
    posted = fields.get(POSTING_POSTED)
    compensation = _text(fields.get(POSTING_COMPENSATION))
    return Posting(
        fingerprint=fingerprint,
        title=_text(fields.get(POSTING_TITLE)),
        company=_text(fields.get(POSTING_COMPANY)),
        location=_text(fields.get(POSTING_LOCATION)),
        compensation=compensation,
        compensation_amount=compensation_amount(compensation),
        employment_type=_text(fields.get(POSTING_EMPLOYMENT_TYPE)),
        posted=posted if isinstance(posted, datetime | date) else None,
        description=_description(fields),
        status=status[0] if status else NEW,
        status_changed=status[1] if status else None,
        found=None,
        gone=False,
        gone_at=None,
        newest_item=newest,
    )


def _statuses(
    conn: Connection, fingerprints: set[str]
) -> dict[str, tuple[PostingStatus, datetime | None]]:
    s = posting_status.c
    found: dict[str, tuple[PostingStatus, datetime | None]] = {}
    query = select(s.postingFingerprint, s.postingStatus, s.postingStatusChanged)
    # A few postings: read their rows; the whole board: read the table once.
    queries = (
        [query.where(s.postingFingerprint.in_(part)) for part in chunks(sorted(fingerprints))]
        if len(fingerprints) <= CHUNK
        else [query]
    )
    for each in queries:
        for fingerprint, status, changed in conn.execute(each):
            if fingerprint in fingerprints and status in POSTING_STATUSES:
                found[str(fingerprint)] = (status, from_db(changed))
    return found


def _last_written(conn: Connection, item_ids: list[int]) -> dict[int, datetime]:
    """When each item's data was last written (for a gone item: when it was found gone)."""
    d = item_data.c
    written: dict[int, datetime] = {}
    for part in chunks(item_ids, CHUNK):
        query = (
            select(d.itemId, func.max(d.itemDataAdded)).where(d.itemId.in_(part)).group_by(d.itemId)
        )
        for item, moment in conn.execute(query):
            if moment is not None:
                written[int(item)] = from_db(moment) or moment
    return written


def _history(conn: Connection, fingerprint: str) -> list[HistoryEntry]:
    h = posting_history.c
    rows = conn.execute(
        select(h.postingStatus, h.postingHistoryDate, h.postingHistoryNote, h.postingHistoryBy)
        .where(h.postingFingerprint == fingerprint)
        .order_by(h.postingHistoryId)
    )
    return [
        HistoryEntry(status, from_db(moment) or moment, note, by)
        for status, moment, note, by in rows
        if status in POSTING_STATUSES
    ]


def _description(fields: dict[str, ItemValue]) -> str | None:
    for key in DESCRIPTION_KEYS:
        text = _text(fields.get(key))
        if text:
            return text
    return None


def _has_words(posting: Posting, q: str) -> bool:
    haystack = " ".join(
        text for text in (posting.title, posting.company, posting.description) if text
    ).casefold()
    return all(word in haystack for word in q.casefold().split())


def _day(moment: datetime | date) -> date:
    if isinstance(moment, datetime):
        return (moment.astimezone(UTC) if moment.tzinfo else moment).date()
    return moment


def _text(value: ItemValue) -> str | None:
    return value if isinstance(value, str) and value else None


# --- writing ------------------------------------------------------------------------------


def set_posting_status(
    conn: Connection,
    *,
    fingerprint: str,
    status: str,
    note: str | None = None,
    by: str | None = None,
) -> StatusChange:
    """Move a posting to ``status``, recording the change (and ``note``) in its history.

    NotFoundError when no item carries ``fingerprint``; ValueError for a status that is not
    one; ConflictError for a move the workflow does not allow (the message names the allowed
    ones).
    """
    if status not in POSTING_STATUSES:
        raise ValueError(f"not a posting status: {status!r} (one of {', '.join(POSTING_STATUSES)})")
    check_length("posting fingerprint", fingerprint, FINGERPRINT_MAX)
    check_length("note", note, NOTE_MAX)
    check_length("by", by, TOKEN_NAME_MAX)
    note = (note.strip() or None) if note else None
    d, s = item_data.c, posting_status.c
    carried = conn.execute(
        select(d.itemId)
        .where(d.itemData == POSTING_FINGERPRINT, d.itemDataValue == fingerprint)
        .limit(1)
    ).first()
    if carried is None:
        raise NotFoundError(f"no posting with fingerprint {fingerprint!r}")
    row = conn.execute(
        select(s.postingStatus).where(s.postingFingerprint == fingerprint).with_for_update()
    ).first()
    current: PostingStatus = row[0] if row is not None and row[0] in POSTING_STATUSES else NEW
    now = utcnow()
    target: PostingStatus = status  # narrowed by the check above
    if target == current:
        if note is not None:
            _record(conn, fingerprint, status=target, now=now, note=note, by=by)
        return StatusChange(fingerprint, current, target, False, now.replace(tzinfo=UTC))
    allowed = allowed_statuses(current, _history(conn, fingerprint))
    if target not in allowed:
        raise ConflictError(
            f"a posting that is {current} cannot become {target}"
            f" (it may become: {', '.join(allowed) or 'nothing else'})",
            current=current,
            allowed=allowed,
        )
    if row is None:
        conn.execute(
            insert(posting_status).values(
                postingFingerprint=fingerprint, postingStatus=target, postingStatusChanged=now
            )
        )
    else:
        conn.execute(
            update(posting_status)
            .where(s.postingFingerprint == fingerprint)
            .values(postingStatus=target, postingStatusChanged=now)
        )
    _record(conn, fingerprint, status=target, now=now, note=note, by=by)
    return StatusChange(fingerprint, current, target, True, now.replace(tzinfo=UTC))


def _record(
    conn: Connection,
    fingerprint: str,
    *,
    status: PostingStatus,
    now: datetime,
    note: str | None,
    by: str | None,
) -> None:
    conn.execute(
        insert(posting_history).values(
            postingFingerprint=fingerprint,
            postingStatus=status,
            postingHistoryDate=now,
            postingHistoryNote=note,
            postingHistoryBy=by,
        )
    )
