"""Routes: watches (``/api/watches``) and their notifications (``/api/notifications``).

A watch's channels (Apprise URLs) are written through the API but never read back in full:
every answer shows them masked. Writes need a token; see docs/watching.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from haystack_collector.api.deps import DbDep, ReadAccess, WriteAccess
from haystack_collector.api.models import WRITE_ERRORS
from haystack_collector.db.schema import NOTIFY_STATES, WATCH_NAME_MAX
from haystack_collector.store import watches as store
from haystack_collector.store.item_state import ItemState
from haystack_collector.store.watches import NotificationRow
from haystack_collector.watch.manage import change_watch, create_watch, view

router = APIRouter(prefix="/api/watches", tags=["watches"], responses=WRITE_ERRORS)
notifications_router = APIRouter(
    prefix="/api/notifications", tags=["watches"], responses=WRITE_ERRORS
)

MAX_ID = 2**31 - 1
Event = Literal["new", "changed", "gone"]
NotifyStatus = Literal["pending", "sending", "sent", "failed", "uncertain"]


class WatchFilterIn(BaseModel):
    """The Items search's filters, plus a posting's fields; all optional, all combined."""

    model_config = ConfigDict(extra="forbid")

    engine: Annotated[str | None, Field(max_length=100)] = None
    key: Annotated[str | None, Field(max_length=100, description="has this data key")] = None
    value: Annotated[str | None, Field(max_length=2_000, description="...equal to this")] = None
    q: Annotated[str | None, Field(max_length=500, description="words in the item's data")] = None
    state: list[ItemState] = Field(default_factory=list, max_length=4)
    site: Annotated[str | None, Field(max_length=255, description="on this host")] = None
    url_prefix: Annotated[str | None, Field(max_length=2_000)] = None
    keyword: Annotated[
        str | None, Field(max_length=500, description="posting: words in title or company")
    ] = None
    location: Annotated[str | None, Field(max_length=500, description="posting: place")] = None
    source: Annotated[str | None, Field(max_length=500, description="posting: found by")] = None
    compensation: Annotated[bool, Field(description="posting: states its pay")] = False
    min_compensation: Annotated[
        float | None, Field(ge=0, description="posting: pays at least this (first figure)")
    ] = None


class VolatileIn(BaseModel):
    """What of an item does not count as a change (see docs/watching.md, Volatile rules)."""

    model_config = ConfigDict(extra="forbid")

    drop: Annotated[
        list[Annotated[str, Field(max_length=500)]],
        Field(max_length=50, description="CSS selectors left out of markup"),
    ] = Field(default_factory=list)
    keep: Annotated[
        list[Annotated[str, Field(max_length=500)]],
        Field(max_length=50, description="CSS selectors that alone count in markup"),
    ] = Field(default_factory=list)
    ignore: Annotated[
        list[Annotated[str, Field(max_length=500)]],
        Field(max_length=50, description="regular expressions a change is judged without"),
    ] = Field(default_factory=list)


def _only_new() -> list[Event]:
    return ["new"]


class WatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=WATCH_NAME_MAX)]
    filter: WatchFilterIn = Field(default_factory=WatchFilterIn)
    events: Annotated[list[Event], Field(min_length=1, max_length=3)] = Field(
        default_factory=_only_new
    )
    channels: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=2_000)]],
        Field(min_length=1, max_length=10, description="Apprise URLs (stored, shown masked)"),
    ]
    volatile: VolatileIn = Field(default_factory=VolatileIn)
    alerts: Annotated[bool, Field(description="send the system alerts here too")] = False
    enabled: bool = True


class WatchPatch(BaseModel):
    """The fields to change; the rest stay."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(min_length=1, max_length=WATCH_NAME_MAX)] = None
    filter: WatchFilterIn | None = None
    events: Annotated[list[Event] | None, Field(min_length=1, max_length=3)] = None
    channels: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=2_000)]] | None,
        Field(min_length=1, max_length=10),
    ] = None
    volatile: VolatileIn | None = None
    alerts: bool | None = None
    enabled: bool | None = None


class WatchOut(BaseModel):
    watch_id: int
    name: str
    filter: dict[str, Any]
    described: str
    events: list[Event]
    volatile: dict[str, Any]
    channels: list[str] = Field(description="masked")
    alerts: bool
    enabled: bool
    created: datetime | None
    notifications: dict[str, int] = Field(description="this watch's notifications by status")
    last_sent: datetime | None


class WatchList(BaseModel):
    watches: list[WatchOut]


class NotificationOut(BaseModel):
    notification_id: int
    watch_id: int
    watch: str | None
    item_id: int
    event: str = Field(description="new, changed, gone, or alert:... for a system alert")
    version: int
    status: NotifyStatus
    title: str | None
    uri: str | None
    created: datetime | None
    attempts: int
    next_attempt: datetime | None
    sent: datetime | None
    error: str | None = Field(description="the last failure, secrets masked")


class NotificationList(BaseModel):
    notifications: list[NotificationOut]
    counts: dict[str, int] = Field(description="every notification by status")


def _filter(given: WatchFilterIn) -> dict[str, Any]:
    return {key: value for key, value in given.model_dump().items() if value not in (None, [])}


def _out(db: Any, row: store.WatchRow, counts: dict[int, dict[str, int]] | None = None) -> WatchOut:
    """``row`` as answered; ``counts`` are every watch's (``store.status_counts``), read once
    by a caller answering many."""
    shown = view(row)
    if counts is None:
        counts = db.run_read(store.status_counts)
    return WatchOut(
        watch_id=row.watch_id,
        name=row.name,
        filter=row.filter,
        described=shown.described,
        events=list(row.events),
        volatile=row.volatile,
        channels=shown.channels,
        alerts=row.alerts,
        enabled=row.enabled,
        created=row.created,
        notifications=counts.get(row.watch_id, {}),
        last_sent=db.run_read(store.last_deliveries, watch_id=row.watch_id),
    )


@router.get("", response_model=WatchList, summary="Every watch, channels masked")
def list_watches(db: DbDep, _access: ReadAccess) -> WatchList:
    counts = db.run_read(store.status_counts)
    return WatchList(watches=[_out(db, row, counts) for row in db.run_read(store.list_watches)])


@router.post(
    "", response_model=WatchOut, status_code=status.HTTP_201_CREATED, summary="Add a watch"
)
def add_watch(body: WatchIn, db: DbDep, _principal: WriteAccess) -> WatchOut:
    """Store a watch; it tells of what happens from now on. 422 for a bad filter, event or
    channel (a channel Apprise cannot send to), or a name in use."""
    row = create_watch(
        db,
        name=body.name,
        filter=_filter(body.filter),
        events=body.events,
        channels_=body.channels,
        volatile=body.volatile.model_dump(),
        alerts=body.alerts,
        enabled=body.enabled,
    )
    return _out(db, row)


WatchId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/{watch_id}", response_model=WatchOut)
def get_watch(watch_id: WatchId, db: DbDep, _access: ReadAccess) -> WatchOut:
    return _out(db, db.run_read(store.get_watch, watch_id=watch_id))


@router.patch("/{watch_id}", response_model=WatchOut, summary="Change a watch")
def update_watch(
    watch_id: WatchId, body: WatchPatch, db: DbDep, _principal: WriteAccess
) -> WatchOut:
    row = change_watch(
        db,
        watch_id=watch_id,
        name=body.name,
        filter=None if body.filter is None else _filter(body.filter),
        events=body.events,
        channels_=body.channels,
        volatile=None if body.volatile is None else body.volatile.model_dump(),
        alerts=body.alerts,
        enabled=body.enabled,
    )
    return _out(db, row)


@router.delete("/{watch_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a watch")
def delete_watch(watch_id: WatchId, db: DbDep, _principal: WriteAccess) -> None:
    db.run(store.delete_watch, watch_id=watch_id)


def _notification(row: NotificationRow) -> NotificationOut:
    return NotificationOut(
        notification_id=row.notification_id,
        watch_id=row.watch_id,
        watch=row.watch,
        item_id=row.item_id,
        event=row.event,
        version=row.version,
        status=row.status,
        title=row.detail.get("title"),
        uri=row.detail.get("uri"),
        created=row.created,
        attempts=row.attempts,
        next_attempt=row.next_attempt,
        sent=row.sent,
        error=row.error,
    )


@notifications_router.get("", response_model=NotificationList, summary="Notifications")
def list_notifications(
    db: DbDep,
    _access: ReadAccess,
    status_: Annotated[
        list[NotifyStatus] | None,
        Query(
            alias="status",
            description="only these (repeat the parameter); `failed` and `uncertain` list"
            " what did not (surely) arrive",
        ),
    ] = None,
    watch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> NotificationList:
    """Newest first; ``counts`` sums every notification by status."""
    rows = db.run_read(store.list_notifications, status=status_, watch_id=watch_id, limit=limit)
    totals: dict[str, int] = dict.fromkeys(NOTIFY_STATES, 0)
    for per_watch in db.run_read(store.status_counts).values():
        for name, count in per_watch.items():
            totals[name] = totals.get(name, 0) + count
    return NotificationList(notifications=[_notification(row) for row in rows], counts=totals)


@notifications_router.post(
    "/{notification_id}/retry", response_model=NotificationOut, summary="Send one again"
)
def retry_notification(
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: DbDep, _principal: WriteAccess
) -> NotificationOut:
    """Queue a failed or uncertain notification to be sent again (422 for any other)."""
    return _notification(db.run(store.requeue_notification, notification_id=notification_id))
