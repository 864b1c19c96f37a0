"""ItemEvents: "item X awaits action Y of engine Z", pending until its event date is set.

This module only queues, completes and counts events; claiming with leases and retries is the
work queue's (``haystack_collector.queue``), on the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, bindparam, case, func, or_, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from haystack_collector.db.schema import CLAIM_OWNER_MAX, actions, engines, item_events, items
from haystack_collector.errors import IntegrityViolation, NotFoundError
from haystack_collector.logs import get_correlation_id
from haystack_collector.origin import current_origin
from haystack_collector.store._sql import (
    check_length,
    chunks,
    from_db,
    insert_ignoring_duplicates,
    to_db,
    utcnow,
)
from haystack_collector.store.catalog import get_engine_id
from haystack_collector.store.item_state import FAILED, FETCHED, QUEUED, settle_queued


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event to queue."""

    engine_id: int
    action_id: int
    item_id: int
    run_after: datetime | None = None


def enqueue_events(conn: Connection, *, events: Sequence[EventSpec], reopen: bool = False) -> int:
    """Queue events; an event already queued or done is left alone unless ``reopen``.

    ``reopen`` makes a completed or dead event pending again (fresh attempts), for work that
    should run once more, e.g. re-extracting a posting. Returns how many rows were added.
    """
    now, correlation, origin = utcnow(), get_correlation_id(), current_origin()
    added = insert_ignoring_duplicates(
        conn,
        item_events,
        [
            {
                "engineId": e.engine_id,
                "actionId": e.action_id,
                "itemId": e.item_id,
                "itemEventAddedDate": now,
                "itemEventRunAfter": to_db(e.run_after),
                "itemEventCorrelationId": correlation,
                "itemEventOrigin": origin,
            }
            for e in events
        ],
        unique=("engineId", "actionId", "itemId"),
    )
    if reopen:
        for event in events:
            reopen_event(
                conn,
                event=event,
                added=now,
                correlation_id=correlation,
                origin=origin,
            )
    return added


def reopen_event(
    conn: Connection,
    *,
    event: EventSpec,
    added: datetime,
    correlation_id: str | None,
    origin: str | None,
) -> int:
    """Make ``event`` pending again (fresh attempts) if it is completed or dead; 1 if it was."""
    e = item_events.c
    reopened = conn.execute(
        update(item_events)
        .where(
            e.engineId == event.engine_id,
            e.actionId == event.action_id,
            e.itemId == event.item_id,
            or_(e.itemEventDate.is_not(None), e.itemEventDeadDate.is_not(None)),
        )
        .values(
            itemEventDate=None,
            itemEventDeadDate=None,
            itemEventAttempts=0,
            itemEventLastError=None,
            itemEventClaimedBy=None,
            itemEventLeaseUntil=None,
            itemEventRunAfter=to_db(event.run_after),
            itemEventAddedDate=added,
            itemEventCorrelationId=correlation_id,
            itemEventOrigin=origin,
        )
    )
    return int(reopened.rowcount)


def enqueue_event(
    conn: Connection,
    *,
    engine_id: int,
    action_id: int,
    item_id: int,
    run_after: datetime | None = None,
    reopen: bool = False,
) -> bool:
    """Queue one event; True when it was not queued before."""
    spec = EventSpec(engine_id, action_id, item_id, run_after)
    return enqueue_events(conn, events=[spec], reopen=reopen) > 0


def complete_event(
    conn: Connection, *, engine_id: int, action_id: int, item_id: int, at: datetime | None = None
) -> bool:
    """Mark an event done (sets itemEventDate, drops any lease); True if one was pending."""
    result = conn.execute(
        update(item_events)
        .where(
            item_events.c.engineId == engine_id,
            item_events.c.actionId == action_id,
            item_events.c.itemId == item_id,
            item_events.c.itemEventDate.is_(None),
        )
        .values(
            itemEventDate=to_db(at) or utcnow(),
            itemEventClaimedBy=None,
            itemEventLeaseUntil=None,
            itemEventDeadDate=None,
        )
    )
    if result.rowcount > 0:  # the action on it finished: an item still queued is fetched
        settle_queued(conn, [item_id], FETCHED)
    return result.rowcount > 0


def _pending(now: datetime) -> list[ColumnElement[bool]]:
    return [
        item_events.c.itemEventDate.is_(None),
        item_events.c.itemEventDeadDate.is_(None),
        or_(item_events.c.itemEventRunAfter.is_(None), item_events.c.itemEventRunAfter <= now),
    ]


def pending_items(
    conn: Connection, *, engine_id: int, action_id: int, limit: int | None = None
) -> list[tuple[int, str]]:
    """Due, pending ``(item_id, uri)`` pairs for an engine's action, oldest first."""
    query = (
        select(items.c.itemId, items.c.ItemURI)
        .join(item_events, item_events.c.itemId == items.c.itemId)
        .where(
            item_events.c.engineId == engine_id,
            item_events.c.actionId == action_id,
            *_pending(utcnow()),
        )
        .order_by(item_events.c.ItemEventId)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(item_id, uri) for item_id, uri in conn.execute(query)]


def event_counts(conn: Connection, *, engine_id: int | None = None) -> dict[str, int]:
    """How many events are pending, claimed (leased), done and dead."""
    now = utcnow()
    e = item_events.c
    state = case(
        (e.itemEventDate.is_not(None), "done"),
        (e.itemEventDeadDate.is_not(None), "dead"),
        (and_(e.itemEventLeaseUntil.is_not(None), e.itemEventLeaseUntil > now), "claimed"),
        else_="pending",
    ).label("state")
    query = select(state, func.count()).group_by(state)
    if engine_id is not None:
        query = query.where(e.engineId == engine_id)
    counts = {"pending": 0, "claimed": 0, "done": 0, "dead": 0}
    counts.update({name: int(n) for name, n in conn.execute(query).all()})
    return counts


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """An event a worker holds: what to do, to which item, and for how long it may."""

    event_id: int
    engine_id: int
    action_id: int
    item_id: int
    uri: str
    attempts: int  # including this one
    lease_until: datetime
    correlation_id: str | None = None  # of the work that queued it
    origin: str | None = None  # "api": the event or its item came through the API


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    e = item_events.c
    return [
        *_pending(now),
        or_(e.itemEventLeaseUntil.is_(None), e.itemEventLeaseUntil <= now),
    ]


def claim_events(
    conn: Connection,
    *,
    owner: str,
    lease_until: datetime,
    limit: int,
    engine_id: int | None = None,
    action_ids: Sequence[int] | None = None,
    skip_disabled: bool = False,
) -> list[ClaimedEvent]:
    """Lease up to ``limit`` due, pending, unleased events to ``owner``, oldest first.

    ``skip_disabled`` leaves the events of disabled (stopped) engines alone.

    Rows are picked with ``FOR UPDATE SKIP LOCKED`` on MariaDB and PostgreSQL, so concurrent
    workers never wait for or take each other's rows; SQLite's single writer (the caller's
    ``BEGIN IMMEDIATE``) gives the same guarantee. An expired lease counts as no lease.
    """
    check_length("claim owner", owner, CLAIM_OWNER_MAX)
    now = utcnow()
    e = item_events.c
    query = select(e.ItemEventId).where(*_claimable(now))
    if engine_id is not None:
        query = query.where(e.engineId == engine_id)
    if action_ids is not None:
        if not action_ids:
            return []
        query = query.where(e.actionId.in_(list(action_ids)))
    if skip_disabled:
        # Read apart from the locking select, so a claim never locks Engines rows.
        disabled = list(
            conn.execute(
                select(engines.c.EngineId).where(engines.c.EngineDisabled == true())
            ).scalars()
        )
        if disabled:
            query = query.where(e.engineId.not_in(disabled))
    query = query.order_by(e.ItemEventId).limit(limit).with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    conn.execute(
        update(item_events)
        .where(e.ItemEventId.in_(ids))
        .values(
            itemEventClaimedBy=owner,
            itemEventLeaseUntil=to_db(lease_until),
            itemEventAttempts=e.itemEventAttempts + 1,
        )
    )
    rows = conn.execute(
        select(
            e.ItemEventId,
            e.engineId,
            e.actionId,
            e.itemId,
            items.c.ItemURI,
            e.itemEventAttempts,
            e.itemEventCorrelationId,
            # An event is API work if it was queued by API work or its item was typed in
            # through the admin API (whoever queued the event).
            func.coalesce(e.itemEventOrigin, items.c.ItemOrigin),
        )
        .join(items, items.c.itemId == e.itemId)
        .where(e.ItemEventId.in_(ids))
        .order_by(e.ItemEventId)
    )
    lease = from_db(to_db(lease_until))
    assert lease is not None
    return [
        ClaimedEvent(event_id, engine, action, item, uri, attempts, lease, correlation, origin)
        for event_id, engine, action, item, uri, attempts, correlation, origin in rows
    ]


def finish_claimed(conn: Connection, *, event_ids: Sequence[int]) -> int:
    """Mark claimed events done; returns how many were still pending (not done, not dead).

    Their items that are still queued become fetched: the action ran on them to the end
    without stating an outcome (an outcome it stored has already set the state).
    """
    now, finished = utcnow(), 0
    for part in chunks(sorted(set(event_ids))):
        settle_queued(conn, _queued_items(conn, part), FETCHED)
        result = conn.execute(
            update(item_events)
            .where(
                item_events.c.ItemEventId.in_(part),
                item_events.c.itemEventDate.is_(None),
                item_events.c.itemEventDeadDate.is_(None),
            )
            .values(itemEventDate=now, itemEventClaimedBy=None, itemEventLeaseUntil=None)
        )
        finished += result.rowcount
    return finished


def _queued_items(conn: Connection, event_ids: Sequence[int]) -> list[int]:
    """The items of ``event_ids`` that are still queued (read first: an UPDATE with this as a
    subquery may scan every queued item on MariaDB)."""
    return list(
        conn.execute(
            select(items.c.itemId)
            .join(item_events, item_events.c.itemId == items.c.itemId)
            .where(item_events.c.ItemEventId.in_(list(event_ids)), items.c.ItemState == QUEUED)
        ).scalars()
    )


def fail_claimed(
    conn: Connection, *, event_id: int, error: str, run_after: datetime | None, dead: bool
) -> bool:
    """Record a failed attempt: due again at ``run_after``, or dead with its last error.

    Returns False when the event was no longer pending (done elsewhere meanwhile).
    """
    values: dict[str, object] = {
        "itemEventLastError": error,
        "itemEventClaimedBy": None,
        "itemEventLeaseUntil": None,
    }
    if dead:
        values["itemEventDeadDate"] = utcnow()
    else:
        values["itemEventRunAfter"] = to_db(run_after)
    result = conn.execute(
        update(item_events)
        .where(
            item_events.c.ItemEventId == event_id,
            item_events.c.itemEventDate.is_(None),
            item_events.c.itemEventDeadDate.is_(None),
        )
        .values(values)
    )
    if dead and result.rowcount > 0:  # nothing was collected, and nothing more will be
        settle_queued(conn, _queued_items(conn, [event_id]), FAILED)
    return result.rowcount > 0


def release_claimed(conn: Connection, *, event_id: int, owner: str) -> bool:
    """Give a claimed event back untouched (a worker shutting down), attempt uncounted."""
    e = item_events.c
    result = conn.execute(
        update(item_events)
        .where(e.ItemEventId == event_id, e.itemEventClaimedBy == owner, e.itemEventDate.is_(None))
        .values(
            itemEventClaimedBy=None,
            itemEventLeaseUntil=None,
            itemEventAttempts=case((e.itemEventAttempts > 0, e.itemEventAttempts - 1), else_=0),
        )
    )
    return result.rowcount > 0


# --- browsing and handling events by hand (the API's queue view) ---------------------------

EventState = Literal["pending", "claimed", "dead", "done"]
EVENT_STATES: tuple[EventState, ...] = ("pending", "claimed", "dead", "done")


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event as the queue view shows it, with its engine, action and item."""

    event_id: int
    state: str  # one of EVENT_STATES
    engine_id: int
    engine: str | None
    action_id: int
    action: str | None
    item_id: int
    uri: str | None
    added: datetime | None
    run_after: datetime | None
    claimed_by: str | None
    lease_until: datetime | None
    attempts: int
    last_error: str | None
    dead_since: datetime | None
    done: datetime | None


def _state_filter(state: str, now: datetime) -> list[ColumnElement[bool]]:
    e = item_events.c
    leased = and_(e.itemEventLeaseUntil.is_not(None), e.itemEventLeaseUntil > now)
    if state == "done":
        return [e.itemEventDate.is_not(None)]
    if state == "dead":
        return [e.itemEventDate.is_(None), e.itemEventDeadDate.is_not(None)]
    if state == "claimed":
        return [e.itemEventDate.is_(None), e.itemEventDeadDate.is_(None), leased]
    if state == "pending":  # as event_counts counts them: waiting out a backoff included
        return [
            e.itemEventDate.is_(None),
            e.itemEventDeadDate.is_(None),
            or_(e.itemEventLeaseUntil.is_(None), e.itemEventLeaseUntil <= now),
        ]
    raise ValueError(f"event state must be one of {EVENT_STATES}, not {state!r}")


def event_state(row: Any, now: datetime) -> EventState:
    """A row of ItemEvents' state at ``now``, as the queue counts it."""
    if row.itemEventDate is not None:
        return "done"
    if row.itemEventDeadDate is not None:
        return "dead"
    if row.itemEventLeaseUntil is not None and row.itemEventLeaseUntil > now:
        return "claimed"
    return "pending"


def list_events(
    conn: Connection,
    *,
    state: str,
    engine_id: int | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[EventRow]:
    """Events in ``state``, oldest id first, after ``after_id`` (keyset pagination)."""
    now = utcnow()
    e = item_events.c
    query = (
        select(item_events, engines.c.EngineName, actions.c.actionName, items.c.ItemURI)
        .outerjoin(engines, engines.c.EngineId == e.engineId)
        .outerjoin(actions, actions.c.actionId == e.actionId)
        .outerjoin(items, items.c.itemId == e.itemId)
        .where(*_state_filter(state, now))
        .order_by(e.ItemEventId)
        .limit(limit)
    )
    if engine_id is not None:
        query = query.where(e.engineId == engine_id)
    if after_id is not None:
        query = query.where(e.ItemEventId > after_id)
    return [_event_row(row, now) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of the queue view and the counts of the engine's (or every) events by state."""

    events: list[EventRow]
    counts: dict[str, int]
    more: bool  # another page follows: pass the last event's id as ``after_id``


def event_page(
    conn: Connection,
    *,
    state: str,
    engine: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> EventPage:
    """``list_events`` of the engine named ``engine`` (any, when None), with the counts, as
    one read; NotFoundError for an unknown engine name."""
    engine_id = None
    if engine is not None:
        engine_id = get_engine_id(conn, name=engine)
        if engine_id is None:
            raise NotFoundError(f"no engine named {engine!r}")
    rows = list_events(conn, state=state, engine_id=engine_id, after_id=after_id, limit=limit + 1)
    return EventPage(
        events=rows[:limit],
        counts=event_counts(conn, engine_id=engine_id),
        more=len(rows) > limit,
    )


def get_event(conn: Connection, *, event_id: int) -> EventRow:
    """One event; NotFoundError when there is none with that id."""
    e = item_events.c
    row = conn.execute(
        select(item_events, engines.c.EngineName, actions.c.actionName, items.c.ItemURI)
        .outerjoin(engines, engines.c.EngineId == e.engineId)
        .outerjoin(actions, actions.c.actionId == e.actionId)
        .outerjoin(items, items.c.itemId == e.itemId)
        .where(e.ItemEventId == event_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no event with id {event_id}")
    return _event_row(row, utcnow())


_EVENTS_OF_ITEM = (
    select(item_events, engines.c.EngineName, actions.c.actionName, items.c.ItemURI)
    .outerjoin(engines, engines.c.EngineId == item_events.c.engineId)
    .outerjoin(actions, actions.c.actionId == item_events.c.actionId)
    .outerjoin(items, items.c.itemId == item_events.c.itemId)
    .where(item_events.c.itemId == bindparam("item_id"))
    .order_by(item_events.c.ItemEventId)
)


def item_events_of(conn: Connection, *, item_id: int) -> list[EventRow]:
    """Every event of one item, whatever its state, oldest first."""
    now = utcnow()
    return [_event_row(row, now) for row in conn.execute(_EVENTS_OF_ITEM, {"item_id": item_id})]


def _event_row(row: Any, now: datetime) -> EventRow:
    return EventRow(
        event_id=row.ItemEventId,
        state=event_state(row, now),
        engine_id=row.engineId,
        engine=row.EngineName,
        action_id=row.actionId,
        action=row.actionName,
        item_id=row.itemId,
        uri=row.ItemURI,
        added=from_db(row.itemEventAddedDate),
        run_after=from_db(row.itemEventRunAfter),
        claimed_by=row.itemEventClaimedBy,
        lease_until=from_db(row.itemEventLeaseUntil),
        attempts=int(row.itemEventAttempts or 0),
        last_error=row.itemEventLastError,
        dead_since=from_db(row.itemEventDeadDate),
        done=from_db(row.itemEventDate),
    )


def _require_dead(conn: Connection, event_id: int, doing: str) -> None:
    event = get_event(conn, event_id=event_id)
    if event.state != "dead":
        raise IntegrityViolation(
            f"event {event_id} is {event.state}, not dead: only dead events can be {doing}"
        )


def retry_dead_event(conn: Connection, *, event_id: int) -> None:
    """Make a dead event pending again with fresh attempts (due at once).

    NotFoundError if there is no such event; IntegrityViolation if it is not dead.
    """
    _require_dead(conn, event_id, "retried")
    conn.execute(
        update(item_events)
        .where(item_events.c.ItemEventId == event_id, item_events.c.itemEventDeadDate.is_not(None))
        .values(
            itemEventDeadDate=None,
            itemEventAttempts=0,
            itemEventLastError=None,
            itemEventClaimedBy=None,
            itemEventLeaseUntil=None,
            itemEventRunAfter=None,
        )
    )


def discard_dead_event(conn: Connection, *, event_id: int) -> None:
    """Delete a dead event. NotFoundError if there is none; IntegrityViolation if not dead."""
    _require_dead(conn, event_id, "discarded")
    conn.execute(
        item_events.delete().where(
            item_events.c.ItemEventId == event_id, item_events.c.itemEventDeadDate.is_not(None)
        )
    )
