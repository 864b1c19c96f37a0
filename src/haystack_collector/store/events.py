"""ItemEvents: "item X awaits action Y of engine Z", pending until its event date is set.

This module only queues, completes and counts events; claiming with leases and retries is the
work queue's (``haystack_collector.queue``), on the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from haystack_collector.db.schema import item_events, items
from haystack_collector.store._sql import insert_ignoring_duplicates, to_db, utcnow


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
    now = utcnow()
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
            }
            for e in events
        ],
        unique=("engineId", "actionId", "itemId"),
    )
    if reopen:
        for event in events:
            conn.execute(
                update(item_events)
                .where(
                    item_events.c.engineId == event.engine_id,
                    item_events.c.actionId == event.action_id,
                    item_events.c.itemId == event.item_id,
                    or_(
                        item_events.c.itemEventDate.is_not(None),
                        item_events.c.itemEventDeadDate.is_not(None),
                    ),
                )
                .values(
                    itemEventDate=None,
                    itemEventDeadDate=None,
                    itemEventAttempts=0,
                    itemEventLastError=None,
                    itemEventClaimedBy=None,
                    itemEventLeaseUntil=None,
                    itemEventRunAfter=to_db(event.run_after),
                    itemEventAddedDate=now,
                )
            )
    return added


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
