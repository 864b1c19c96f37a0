"""Watches and their outbox: saved filters, and each notification recorded before it is sent.

A notification is a row of ``Notifications``, unique on (watch, item, event, item version), so
recording the same one twice adds nothing. Its life: ``pending`` -> ``sending`` (claimed by one
deliverer with a compare-and-set UPDATE) -> ``sent``; a failed attempt puts it back to
``pending`` with a later ``notifyNextAttempt`` until the attempts run out (``failed``). A row
found ``sending`` past the claim lease belonged to a deliverer that died mid-send: whether the
channel got it is unknown, so it becomes ``uncertain`` and is never sent again on its own
(``requeue_notification`` sends it again when a person asks).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import (
    CLAIM_OWNER_MAX,
    NOTIFY_STATES,
    WATCH_NAME_MAX,
    actions,
    engines,
    item_data,
    item_events,
    item_versions,
    item_visits,
    items,
    notifications,
    runs,
    watches,
)
from haystack_collector.errors import ConfigError, NotFoundError
from haystack_collector.store._sql import (
    CHUNK,
    check_length,
    chunks,
    from_db,
    insert_ignoring_duplicates,
    to_db,
    utcnow,
)
from haystack_collector.store.query import (
    MAX_LIMIT,
    ItemFilter,
    encode_cursor,
    list_page,
    matching_item_ids,
)
from haystack_collector.store.values import decode

__all__ = [
    "AlertSource",
    "NewNotification",
    "NotificationRow",
    "SettledMarks",
    "WatchRow",
    "add_watch",
    "advance_watch",
    "claim_notifications",
    "current_marks",
    "dead_events_since",
    "delete_watch",
    "failed_runs_since",
    "finish_notifications",
    "first_holders",
    "get_watch",
    "gone_visits_since",
    "item_messages",
    "last_deliveries",
    "list_notifications",
    "list_watches",
    "mark_uncertain",
    "max_item_id",
    "new_item_ids",
    "newest_version_id",
    "newest_visit_id",
    "oldest_queued_since",
    "record_notifications",
    "requeue_notification",
    "settled_marks",
    "span_end",
    "status_counts",
    "update_watch",
    "watches_with_due",
]


@dataclass(frozen=True, slots=True)
class WatchRow:
    watch_id: int
    name: str
    filter: dict[str, Any]
    events: tuple[str, ...]
    volatile: dict[str, Any]
    channels: list[str]  # secret: never log or show them unmasked
    alerts: bool
    enabled: bool
    created: datetime | None
    updated: datetime | None
    last_item_id: int
    last_version_id: int
    last_visit_id: int
    last_digest: datetime | None


@dataclass(frozen=True, slots=True)
class NewNotification:
    """A notification to record: what happened to which item at which version."""

    watch_id: int
    item_id: int
    event: str
    version: int
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NotificationRow:
    notification_id: int
    watch_id: int
    watch: str | None
    item_id: int
    event: str
    version: int
    status: str
    detail: dict[str, Any]
    created: datetime | None
    attempts: int
    next_attempt: datetime | None
    claimed_by: str | None
    claimed_at: datetime | None
    sent: datetime | None
    channels_done: list[int]
    error: str | None


_W = watches.c
_N = notifications.c


def _watch(row: Any) -> WatchRow:
    return WatchRow(
        watch_id=row.watchId,
        name=row.watchName,
        filter=json.loads(row.watchFilter or "{}"),
        events=tuple(each for each in (row.watchEvents or "").split(",") if each),
        volatile=json.loads(row.watchVolatile or "{}"),
        channels=list(json.loads(row.watchChannels or "[]")),
        alerts=bool(row.watchAlerts),
        enabled=bool(row.watchEnabled),
        created=from_db(row.watchCreated),
        updated=from_db(row.watchUpdated),
        last_item_id=int(row.watchLastItemId),
        last_version_id=int(row.watchLastVersionId),
        last_visit_id=int(row.watchLastVisitId),
        last_digest=from_db(row.watchLastDigest),
    )


def _values(
    *,
    name: str | None,
    filter: dict[str, Any] | None,
    events: Sequence[str] | None,
    volatile: dict[str, Any] | None,
    channels: Sequence[str] | None,
    alerts: bool | None,
    enabled: bool | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise ConfigError("name: must not be empty", setting="name")
        check_length("name", name, WATCH_NAME_MAX)
        values["watchName"] = name
    if filter is not None:
        values["watchFilter"] = json.dumps(filter, sort_keys=True)
    if events is not None:
        values["watchEvents"] = ",".join(events)
    if volatile is not None:
        values["watchVolatile"] = json.dumps(volatile, sort_keys=True)
    if channels is not None:
        values["watchChannels"] = json.dumps(list(channels))
    if alerts is not None:
        values["watchAlerts"] = alerts
    if enabled is not None:
        values["watchEnabled"] = enabled
    return values


def max_item_id(conn: Connection) -> int:
    """The newest item's id (0 with none): where a new watch starts looking for new items."""
    return int(conn.execute(select(func.max(items.c.itemId))).scalar() or 0)


def add_watch(
    conn: Connection,
    *,
    name: str,
    filter: dict[str, Any],
    events: Sequence[str],
    channels: Sequence[str],
    volatile: dict[str, Any] | None = None,
    alerts: bool = False,
    enabled: bool = True,
    last_version_id: int = 0,
    last_visit_id: int = 0,
) -> int:
    """Store a watch; it reports what happens from now on (items, versions, visits after the
    newest ones now). ConfigError if the name is taken."""
    if conn.execute(select(_W.watchId).where(_W.watchName == name)).first() is not None:
        raise ConfigError(f"name: a watch named {name!r} exists already", setting="name")
    values = _values(
        name=name,
        filter=filter,
        events=events,
        volatile=volatile or {},
        channels=channels,
        alerts=alerts,
        enabled=enabled,
    )
    now = utcnow()
    result = conn.execute(
        watches.insert().values(
            **values,
            watchCreated=now,
            watchUpdated=now,
            watchLastItemId=max_item_id(conn),
            watchLastVersionId=last_version_id,
            watchLastVisitId=last_visit_id,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def update_watch(
    conn: Connection,
    *,
    watch_id: int,
    name: str | None = None,
    filter: dict[str, Any] | None = None,
    events: Sequence[str] | None = None,
    volatile: dict[str, Any] | None = None,
    channels: Sequence[str] | None = None,
    alerts: bool | None = None,
    enabled: bool | None = None,
) -> WatchRow:
    """Change the given fields of a watch; NotFoundError if there is none."""
    current = get_watch(conn, watch_id=watch_id)
    if name is not None and name != current.name:
        taken = conn.execute(select(_W.watchId).where(_W.watchName == name)).first()
        if taken is not None:
            raise ConfigError(f"name: a watch named {name!r} exists already", setting="name")
    values = _values(
        name=name,
        filter=filter,
        events=events,
        volatile=volatile,
        channels=channels,
        alerts=alerts,
        enabled=enabled,
    )
    if values:
        conn.execute(
            update(watches).where(_W.watchId == watch_id).values(**values, watchUpdated=utcnow())
        )
    return get_watch(conn, watch_id=watch_id)


def delete_watch(conn: Connection, *, watch_id: int) -> None:
    """Remove a watch and its notifications; NotFoundError if there is none."""
    get_watch(conn, watch_id=watch_id)
    conn.execute(delete(notifications).where(_N.watchId == watch_id))
    conn.execute(delete(watches).where(_W.watchId == watch_id))


def get_watch(
    conn: Connection, *, watch_id: int | None = None, name: str | None = None
) -> WatchRow:
    """One watch, by id or name; NotFoundError if there is none."""
    query = select(watches)
    if watch_id is not None:
        query = query.where(_W.watchId == watch_id)
    elif name is not None:
        query = query.where(_W.watchName == name)
    else:
        raise ValueError("give watch_id or name")
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no watch {watch_id if watch_id is not None else repr(name)}")
    return _watch(row)


def list_watches(
    conn: Connection, *, enabled: bool | None = None, alerts: bool | None = None
) -> list[WatchRow]:
    query = select(watches).order_by(_W.watchId)
    if enabled is not None:
        query = query.where(_W.watchEnabled == enabled)
    if alerts is not None:
        query = query.where(_W.watchAlerts == alerts)
    return [_watch(row) for row in conn.execute(query)]


def advance_watch(
    conn: Connection,
    *,
    watch: WatchRow,
    last_item_id: int,
    last_version_id: int,
    last_visit_id: int,
    found: Sequence[NewNotification],
) -> bool:
    """Record what an evaluation found and move the watch's marks on, in one transaction.

    The marks move with a compare-and-set on their old values: when two evaluators read the
    same watch, the second one's UPDATE matches nothing and it records nothing (False).
    """
    moved = conn.execute(
        update(watches)
        .where(
            _W.watchId == watch.watch_id,
            _W.watchLastItemId == watch.last_item_id,
            _W.watchLastVersionId == watch.last_version_id,
            _W.watchLastVisitId == watch.last_visit_id,
        )
        .values(
            watchLastItemId=last_item_id,
            watchLastVersionId=last_version_id,
            watchLastVisitId=last_visit_id,
        )
    ).rowcount
    if moved != 1:
        return False
    record_notifications(conn, found)
    return True


def record_notifications(conn: Connection, found: Iterable[NewNotification]) -> int:
    """Add notifications to the outbox; one already recorded is skipped. Returns rows added."""
    now = utcnow()
    rows = [
        {
            "watchId": each.watch_id,
            "itemId": each.item_id,
            "notifyEvent": each.event,
            "itemVersion": each.version,
            "notifyStatus": "pending",
            "notifyDetail": json.dumps(each.detail, default=str),
            "notifyCreated": now,
            "notifyAttempts": 0,
        }
        for each in found
    ]
    return insert_ignoring_duplicates(
        conn, notifications, rows, unique=("watchId", "itemId", "notifyEvent", "itemVersion")
    )


def _due(now: datetime) -> Any:
    return and_(
        _N.notifyStatus == "pending",
        or_(_N.notifyNextAttempt.is_(None), _N.notifyNextAttempt <= to_db(now)),
    )


def watches_with_due(conn: Connection, *, now: datetime) -> list[int]:
    """The watches with notifications due to be sent at ``now``."""
    query = select(_N.watchId).where(_due(now)).distinct().order_by(_N.watchId)
    return [int(each) for each in conn.execute(query).scalars()]


def claim_notifications(
    conn: Connection, *, watch_id: int, owner: str, now: datetime, limit: int
) -> list[NotificationRow]:
    """Claim up to ``limit`` due notifications of a watch for ``owner``; commit before sending.

    A row is claimed by the UPDATE that moves it from pending to sending: of several
    deliverers, exactly one's UPDATE changes it, and only the rows it changed come back.
    """
    check_length("owner", owner, CLAIM_OWNER_MAX)
    ids = list(
        conn.execute(
            select(_N.notificationId)
            .where(_N.watchId == watch_id, _due(now))
            .order_by(_N.notificationId)
            .limit(limit)
        ).scalars()
    )
    if not ids:
        return []
    conn.execute(
        update(notifications)
        .where(_N.notificationId.in_(ids), _due(now))
        .values(notifyStatus="sending", notifyClaimedBy=owner, notifyClaimedAt=to_db(now))
    )
    return _rows(
        conn,
        and_(
            _N.notificationId.in_(ids),
            _N.notifyStatus == "sending",
            _N.notifyClaimedBy == owner,
            _N.notifyClaimedAt == to_db(now),
        ),
    )


def finish_notifications(
    conn: Connection,
    *,
    owner: str,
    sent: Sequence[int],
    retry: Sequence[tuple[int, datetime]],
    failed: Sequence[int],
    channels_done: dict[int, list[int]],
    error: str | None,
    now: datetime,
    watch_id: int,
) -> None:
    """Settle the rows a delivery claimed: sent, back to pending for a retry at a time, or
    failed for good; only rows still claimed by ``owner`` change."""
    mine = and_(_N.notifyClaimedBy == owner, _N.notifyStatus == "sending")
    for notification_id, done in channels_done.items():
        conn.execute(
            update(notifications)
            .where(_N.notificationId == notification_id, mine)
            .values(notifyChannelsDone=json.dumps(sorted(done)))
        )
    for part in chunks(list(sent), CHUNK):
        conn.execute(
            update(notifications)
            .where(_N.notificationId.in_(part), mine)
            .values(notifyStatus="sent", notifySent=to_db(now), notifyError=None)
        )
    for notification_id, when in retry:
        conn.execute(
            update(notifications)
            .where(_N.notificationId == notification_id, mine)
            .values(
                notifyStatus="pending",
                notifyAttempts=_N.notifyAttempts + 1,
                notifyNextAttempt=to_db(when),
                notifyError=error,
            )
        )
    for part in chunks(list(failed), CHUNK):
        conn.execute(
            update(notifications)
            .where(_N.notificationId.in_(part), mine)
            .values(notifyStatus="failed", notifyAttempts=_N.notifyAttempts + 1, notifyError=error)
        )
    if sent:
        conn.execute(
            update(watches).where(_W.watchId == watch_id).values(watchLastDigest=to_db(now))
        )


def mark_uncertain(conn: Connection, *, older_than: datetime) -> int:
    """Rows claimed before ``older_than`` and still sending: their deliverer died mid-send.

    Whether the channel got the message is unknown, so they are not sent again on their own.
    """
    result = conn.execute(
        update(notifications)
        .where(_N.notifyStatus == "sending", _N.notifyClaimedAt < to_db(older_than))
        .values(
            notifyStatus="uncertain",
            notifyError="the deliverer stopped while sending: it may or may not have arrived",
        )
    )
    return max(result.rowcount, 0)


def requeue_notification(conn: Connection, *, notification_id: int) -> NotificationRow:
    """Send a failed or uncertain notification again (a person's decision)."""
    found = _rows(conn, _N.notificationId == notification_id)
    if not found:
        raise NotFoundError(f"no notification {notification_id}")
    if found[0].status not in ("failed", "uncertain"):
        raise ConfigError(
            f"notification {notification_id} is {found[0].status}: only failed or uncertain"
            " ones can be sent again",
            setting="status",
        )
    conn.execute(
        update(notifications)
        .where(_N.notificationId == notification_id)
        .values(
            notifyStatus="pending",
            notifyAttempts=0,
            notifyNextAttempt=None,
            notifyClaimedBy=None,
            notifyChannelsDone=None,
        )
    )
    return _rows(conn, _N.notificationId == notification_id)[0]


def list_notifications(
    conn: Connection,
    *,
    status: Sequence[str] | None = None,
    watch_id: int | None = None,
    limit: int = 100,
) -> list[NotificationRow]:
    """Notifications, newest first, of some statuses and one watch when given."""
    for each in status or ():
        if each not in NOTIFY_STATES:
            raise ConfigError(
                f"status: {each!r} is not one of {', '.join(NOTIFY_STATES)}", setting="status"
            )
    conditions: list[Any] = []
    if status:
        conditions.append(_N.notifyStatus.in_(list(status)))
    if watch_id is not None:
        conditions.append(_N.watchId == watch_id)
    return _rows(conn, and_(*conditions) if conditions else None, limit=limit, newest=True)


def _rows(
    conn: Connection, where: Any, *, limit: int | None = None, newest: bool = False
) -> list[NotificationRow]:
    query = select(notifications, _W.watchName).join(watches, _W.watchId == _N.watchId)
    if where is not None:
        query = query.where(where)
    order = _N.notificationId.desc() if newest else _N.notificationId
    query = query.order_by(order)
    if limit is not None:
        query = query.limit(limit)
    return [
        NotificationRow(
            notification_id=row.notificationId,
            watch_id=row.watchId,
            watch=row.watchName,
            item_id=row.itemId,
            event=row.notifyEvent,
            version=row.itemVersion,
            status=row.notifyStatus,
            detail=json.loads(row.notifyDetail or "{}"),
            created=from_db(row.notifyCreated),
            attempts=int(row.notifyAttempts),
            next_attempt=from_db(row.notifyNextAttempt),
            claimed_by=row.notifyClaimedBy,
            claimed_at=from_db(row.notifyClaimedAt),
            sent=from_db(row.notifySent),
            channels_done=list(json.loads(row.notifyChannelsDone or "[]")),
            error=row.notifyError,
        )
        for row in conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class ItemMessage:
    """What a message says of an item: its link, state and first value of each data key."""

    item_id: int
    uri: str
    state: str
    fields: dict[str, Any]


_FIELD_CHARS = 2_000  # a value longer than this is cut in a message


def item_messages(
    conn: Connection, *, item_ids: Sequence[int], keys: Sequence[str] | None = None
) -> dict[int, ItemMessage]:
    """The items' links and (the given keys of) their data, first value per key."""
    found: dict[int, ItemMessage] = {}
    for part in chunks(list(item_ids), CHUNK):
        for item_id, uri, state in conn.execute(
            select(items.c.itemId, items.c.ItemURI, items.c.ItemState).where(
                items.c.itemId.in_(part)
            )
        ):
            found[int(item_id)] = ItemMessage(int(item_id), str(uri), str(state), {})
        query = select(
            item_data.c.itemId,
            item_data.c.itemData,
            item_data.c.itemDataValue,
            item_data.c.itemDataType,
        ).where(item_data.c.itemId.in_(part))
        if keys is not None:
            query = query.where(item_data.c.itemData.in_(list(keys)))
        for item_id, key, text, tag in conn.execute(
            query.order_by(item_data.c.itemId, item_data.c.itemDataSeq)
        ):
            held = found.get(int(item_id))
            if held is not None and key not in held.fields:
                value = decode(text, tag)
                if isinstance(value, str) and len(value) > _FIELD_CHARS:
                    value = value[:_FIELD_CHARS] + "…"
                held.fields[str(key)] = value
    return found


def matching(conn: Connection, *, where: ItemFilter, item_ids: Sequence[int]) -> set[int]:
    """Which of ``item_ids`` the filter matches."""
    return matching_item_ids(conn, where=where, item_ids=item_ids)


def stale_before(now: datetime, lease: float) -> datetime:
    return now - timedelta(seconds=lease)


def new_item_ids(
    conn: Connection, *, where: ItemFilter, after: int, upto: int, limit: int
) -> list[int]:
    """Up to ``limit`` ids of items in (``after``, ``upto``] the filter matches, oldest first."""
    found: list[int] = []
    cursor: str | None = encode_cursor(upto + 1)
    while cursor is not None and len(found) < limit:
        page = list_page(conn, where=where, limit=MAX_LIMIT, cursor=cursor, with_total=False)
        for summary in page.items:
            if summary.item_id <= after:
                return sorted(found)[-limit:]
            found.append(summary.item_id)
        cursor = page.next
    return sorted(found)[-limit:]


def span_end(conn: Connection, *, after: int, count: int) -> int | None:
    """The id of the ``count``-th item after ``after`` (None when fewer follow): the end of a
    span holding at most ``count`` items, whatever gaps the ids have."""
    found = conn.execute(
        select(items.c.itemId)
        .where(items.c.itemId > after)
        .order_by(items.c.itemId)
        .offset(count - 1)
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


def oldest_queued_since(conn: Connection, *, after: int, upto: int, since: datetime) -> int | None:
    """The oldest item in (``after``, ``upto``] still only queued and created after ``since``:
    a new item whose data has not come yet, which a watch's mark must not pass."""
    found = conn.execute(
        select(func.min(items.c.itemId)).where(
            items.c.ItemState == "queued",
            items.c.itemId > after,
            items.c.itemId <= upto,
            items.c.itemCreated >= to_db(since),
        )
    ).scalar()
    return None if found is None else int(found)


def first_holders(conn: Connection, *, key: str, values: Sequence[str]) -> dict[str, int]:
    """For each value, the oldest item holding it under ``key`` (a posting's first source)."""
    found: dict[str, int] = {}
    for part in chunks(list(values), CHUNK):
        query = (
            select(item_data.c.itemDataValue, func.min(item_data.c.itemId))
            .where(item_data.c.itemData == key, item_data.c.itemDataValue.in_(part))
            .group_by(item_data.c.itemDataValue)
        )
        found.update((str(value), int(item)) for value, item in conn.execute(query))
    return found


@dataclass(frozen=True, slots=True)
class AlertSource:
    """Something that went wrong, as a system alert tells it."""

    key: int  # its id (a run's, an event's): the alert's version in the outbox
    title: str
    text: str


def failed_runs_since(conn: Connection, *, since: datetime, limit: int = 200) -> list[AlertSource]:
    """Engine runs (requested through the API) that failed after ``since``."""
    query = (
        select(runs.c.runId, engines.c.EngineName, runs.c.runAction, runs.c.runError)
        .join(engines, engines.c.EngineId == runs.c.engineId)
        .where(runs.c.runState == "failed", runs.c.runFinished >= to_db(since))
        .order_by(runs.c.runId)
        .limit(limit)
    )
    return [
        AlertSource(
            int(run_id),
            f"engine run {run_id} of {engine} failed",
            f"{engine}{'/' + action if action else ''}: {error or 'no error recorded'}",
        )
        for run_id, engine, action, error in conn.execute(query)
    ]


def dead_events_since(conn: Connection, *, since: datetime, limit: int = 200) -> list[AlertSource]:
    """Events that went dead (their attempts ran out) after ``since``."""
    e = item_events.c
    query = (
        select(
            e.ItemEventId,
            engines.c.EngineName,
            actions.c.actionName,
            items.c.ItemURI,
            e.itemEventLastError,
        )
        .join(engines, engines.c.EngineId == e.engineId)
        .join(actions, actions.c.actionId == e.actionId)
        .join(items, items.c.itemId == e.itemId)
        .where(e.itemEventDeadDate >= to_db(since))
        .order_by(e.ItemEventId)
        .limit(limit)
    )
    return [
        AlertSource(
            int(event_id),
            f"{engine}/{action} went dead",
            f"{uri}: {error or 'no error recorded'}",
        )
        for event_id, engine, action, uri, error in conn.execute(query)
    ]


def current_marks(conn: Connection) -> tuple[int, int]:
    """The newest version id and visit id: where a new watch starts."""
    return newest_version_id(conn), newest_visit_id(conn)


def gone_visits_since(
    conn: Connection, *, after_visit_id: int, limit: int
) -> list[tuple[int, int]]:
    """(visit id, item id) of the re-visits after the cursor that found their item gone."""
    v = item_visits.c
    query = (
        select(v.visitId, v.itemId)
        .where(v.visitId > after_visit_id, v.visitOutcome == "gone")
        .order_by(v.visitId)
        .limit(limit)
    )
    return [(int(visit), int(item)) for visit, item in conn.execute(query)]


def newest_visit_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(item_visits.c.visitId))).scalar() or 0)


@dataclass(frozen=True, slots=True)
class SettledMarks:
    """The newest item, version and visit ids written before a moment (0 with none)."""

    item_id: int
    version_id: int
    visit_id: int


def settled_marks(conn: Connection, *, before: datetime) -> SettledMarks:
    """The newest ids of rows written before ``before``, newest first by id.

    Ids are handed out when a row is inserted, not when its transaction commits, so a row with
    a lower id can become visible after one with a higher id. A reader whose marks stop at
    rows this old never moves past a row still being committed (a group commit takes well
    under the settle time). A legacy item with no creation date counts as settled.
    """
    moment = to_db(before)

    def newest(table: Any, key: Any, when: Any, *, null_settled: bool = False) -> int:
        settled = when < moment
        if null_settled:
            settled = or_(settled, when.is_(None))
        found = conn.execute(select(key).where(settled).order_by(key.desc()).limit(1)).scalar()
        return int(found or 0)

    return SettledMarks(
        item_id=newest(items, items.c.itemId, items.c.itemCreated, null_settled=True),
        version_id=newest(item_versions, item_versions.c.versionId, item_versions.c.validTo),
        visit_id=newest(item_visits, item_visits.c.visitId, item_visits.c.visitDate),
    )


def newest_version_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(item_versions.c.versionId))).scalar() or 0)


def status_counts(conn: Connection) -> dict[int, dict[str, int]]:
    """Each watch's notifications counted by status."""
    query = select(_N.watchId, _N.notifyStatus, func.count()).group_by(_N.watchId, _N.notifyStatus)
    found: dict[int, dict[str, int]] = {}
    for watch_id, status, count in conn.execute(query):
        found.setdefault(int(watch_id), {})[str(status)] = int(count)
    return found


def last_deliveries(conn: Connection, *, watch_id: int) -> datetime | None:
    """When the watch's last notification went out."""
    return from_db(
        conn.execute(
            select(func.max(_N.notifySent)).where(_N.watchId == watch_id, _N.notifyStatus == "sent")
        ).scalar()
    )
