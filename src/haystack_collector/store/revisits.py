"""Re-visits: the policies that say which collected items are looked at again, and when, and
the transaction that queues the due ones.

A re-visit policy is a row of ``Schedules`` (its timing, claimed by the scheduler's
compare-and-set, so of several schedulers exactly one fires each due time) whose settings hold
``{"revisit": {...}}`` instead of engine settings, named ``revisit:ENGINE``,
``revisit:sites:SITE`` (one site definition's listings) or ``revisit:crawl:ROOT`` (the pages
of one crawl, a setting of that crawl: see engines/web_scraper.py).

An item is **due** when it was collected by the engine (its collecting action's event is done,
or, for engines that collect without events, it carries the engine's marker key), it is not
``gone``, no event of the engine's collecting or re-visiting action is pending on it (an item
already queued is never queued twice), and its last look is older than the policy's age: the
latest done date of those two events (for event-less items: their creation). Oldest first, at
most ``batch`` of them per tick, so a million items never flood the queue at once.

Queueing re-opens the item's re-visit event (done or dead) or adds it. The re-open is a
conditional UPDATE (``WHERE`` the event is done or dead), so two transactions racing on one
item queue it once: the second matches no row.

A visit (``ItemVisits``) is recorded by ``record_visit`` in the transaction that stores what
the re-visit found, with the outcome the store itself decided: ``gone`` when the item ends in
the gone state, ``changed`` when the write gave it a new version (``store.versions``), else
``unchanged``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import item_data, item_events, item_visits, items, schedules
from haystack_collector.logs import get_correlation_id
from haystack_collector.origin import current_origin
from haystack_collector.store._sql import (
    chunks,
    from_db,
    insert_ignoring_duplicates,
    to_db,
    utcnow,
)
from haystack_collector.store.crawl import PageWrite, Scopes, finish_events, store_pages
from haystack_collector.store.events import EventSpec, reopen_event
from haystack_collector.store.item_state import GONE
from haystack_collector.store.meaning import meaning_digest
from haystack_collector.store.values import ItemValue, encode
from haystack_collector.store.versions import current_rows_always, current_version, retention

if TYPE_CHECKING:
    from haystack_collector.store.schedules import ScheduleRow

__all__ = [
    "REVISIT_KEY",
    "REVISIT_PREFIX",
    "VISIT_OUTCOMES",
    "DueScope",
    "RevisitPolicy",
    "Visit",
    "VisitOutcome",
    "crawl_policy_name",
    "due_items",
    "is_revisit",
    "item_visits_of",
    "list_revisit_policies",
    "policy_of",
    "queue_revisits",
    "record_visit",
    "remove_revisit_policy",
    "revisit_page",
    "set_revisit_policy",
    "visits_since",
]

REVISIT_PREFIX = "revisit:"
REVISIT_KEY = "revisit"  # the key of the schedule's settings that makes it a policy


@dataclass(frozen=True, slots=True)
class RevisitPolicy:
    """One re-visit policy: every ``every`` seconds, items last looked at more than
    ``older_than`` seconds ago, at most ``batch`` per tick (None: the process's setting)."""

    name: str
    engine_id: int
    every: int
    older_than: int
    batch: int | None = None
    site: str | None = None  # only the listings of this site definition (``sites``)
    crawl: int | None = None  # only the pages of the crawl rooted at this item
    enabled: bool = True
    next_run: datetime | None = None
    last_run: datetime | None = None

    def settings(self) -> dict[str, Any]:
        chosen: dict[str, Any] = {"older_than": self.older_than, "batch": self.batch}
        chosen |= {"site": self.site, "crawl": self.crawl}
        return {REVISIT_KEY: {k: v for k, v in chosen.items() if v is not None}}


def crawl_policy_name(root_id: int) -> str:
    return f"{REVISIT_PREFIX}crawl:{root_id}"


def is_revisit(schedule: ScheduleRow) -> bool:
    """Whether a schedule is a re-visit policy (and not an engine's start actions)."""
    return schedule.name.startswith(REVISIT_PREFIX) and isinstance(
        schedule.settings.get(REVISIT_KEY), dict
    )


def policy_of(schedule: ScheduleRow) -> RevisitPolicy:
    """The policy a re-visit schedule stores."""
    raw = schedule.settings.get(REVISIT_KEY)
    if not isinstance(raw, dict) or schedule.interval is None:
        raise ValueError(f"schedule {schedule.name!r} is not a re-visit policy")
    batch, site, crawl = raw.get("batch"), raw.get("site"), raw.get("crawl")
    return RevisitPolicy(
        name=schedule.name,
        engine_id=schedule.engine_id,
        every=schedule.interval,
        older_than=int(raw.get("older_than", 0)),
        batch=None if batch is None else int(batch),
        site=None if site is None else str(site),
        crawl=None if crawl is None else int(crawl),
        enabled=schedule.enabled,
        next_run=schedule.next_run,
        last_run=schedule.last_run,
    )


def set_revisit_policy(
    conn: Connection, *, policy: RevisitPolicy, first_run: datetime | None = None
) -> int:
    """Store ``policy`` (replacing one of its name); returns the schedule id.

    A replaced policy keeps its next due time when its period is unchanged, so setting the
    same policy again (a crawl resumed with the same options) does not move its ticks.
    """
    # Here, not at the top: a crawl without re-visits never loads croniter (start-up time).
    from haystack_collector.store.schedules import add_schedule, next_fire_time  # noqa: PLC0415

    if policy.every < 1 or policy.older_than < 0 or (policy.batch is not None and policy.batch < 1):
        raise ValueError("a re-visit policy needs every ≥ 1 s, older than ≥ 0 s and batch ≥ 1")
    existing = conn.execute(
        select(
            schedules.c.scheduleId, schedules.c.scheduleInterval, schedules.c.scheduleNextRun
        ).where(schedules.c.scheduleName == policy.name)
    ).first()
    settings = json.dumps(policy.settings(), sort_keys=True)
    if existing is not None:
        values: dict[str, Any] = {
            "engineId": policy.engine_id,
            "scheduleSettings": settings,
            "scheduleEnabled": policy.enabled,
            "scheduleCron": None,
            "scheduleInterval": policy.every,
        }
        if existing.scheduleInterval != policy.every or first_run is not None:
            now = utcnow()
            values["scheduleNextRun"] = to_db(
                first_run or next_fire_time(interval=policy.every, cron=None, after=now)
            )
        conn.execute(
            update(schedules).where(schedules.c.scheduleId == existing.scheduleId).values(values)
        )
        return int(existing.scheduleId)
    return add_schedule(
        conn,
        name=policy.name,
        engine_id=policy.engine_id,
        interval=policy.every,
        settings=policy.settings(),
        enabled=policy.enabled,
        missed_policy="once",  # a re-visit missed while down runs once; the age decides what
        first_run=first_run,
    )


def remove_revisit_policy(conn: Connection, *, name: str) -> bool:
    """Remove a policy; False when there was none of that name."""
    result = conn.execute(
        schedules.delete().where(
            schedules.c.scheduleName == name, schedules.c.scheduleName.like(f"{REVISIT_PREFIX}%")
        )
    )
    return result.rowcount > 0


def list_revisit_policies(conn: Connection) -> list[RevisitPolicy]:
    from haystack_collector.store.schedules import list_schedules  # noqa: PLC0415

    return [policy_of(row) for row in list_schedules(conn) if is_revisit(row)]


# --- the due items and their queueing -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueScope:
    """Which items of an engine a policy looks at, and with which actions.

    ``collect_action``: the action whose done event marks an item collected (None: items the
    engine stored that carry ``marker``). ``revisit_action``: the action queued for them.
    ``match``: an ItemData key and value the items must carry (a crawl's root, a site's name).
    """

    engine_id: int
    revisit_action: int
    collect_action: int | None = None
    marker: str | None = None
    match: tuple[str, ItemValue] | None = None


def due_items(conn: Connection, *, scope: DueScope, older_than: int, limit: int) -> list[int]:
    """The items due for a re-visit (see the module docstring), oldest look first."""
    cutoff = to_db(utcnow() - timedelta(seconds=older_than))
    revisited = item_events.alias("revisited")
    pending = item_events.alias("pending")
    actions = [scope.revisit_action]
    query = select(items.c.itemId).select_from(items)
    if scope.collect_action is not None:
        collected = item_events.alias("collected")
        actions.append(scope.collect_action)
        query = query.join(
            collected,
            and_(
                collected.c.itemId == items.c.itemId,
                collected.c.engineId == scope.engine_id,
                collected.c.actionId == scope.collect_action,
                collected.c.itemEventDate.is_not(None),
            ),
        )
        before = collected.c.itemEventDate
    else:
        if scope.marker is None:
            raise ValueError("a due scope needs a collecting action or a marker key")
        marked = item_data.alias("marked")
        query = query.where(
            items.c.EngineId == scope.engine_id,
            exists().where(marked.c.itemId == items.c.itemId, marked.c.itemData == scope.marker),
        )
        before = items.c.itemCreated
    query = query.outerjoin(
        revisited,
        and_(
            revisited.c.itemId == items.c.itemId,
            revisited.c.engineId == scope.engine_id,
            revisited.c.actionId == scope.revisit_action,
        ),
    )
    last = case(
        (
            and_(revisited.c.itemEventDate.is_not(None), revisited.c.itemEventDate > before),
            revisited.c.itemEventDate,
        ),
        else_=before,
    )
    if scope.match is not None:
        key, value = scope.match
        matched = item_data.alias("matched")
        query = query.where(
            exists().where(
                matched.c.itemId == items.c.itemId,
                matched.c.itemData == key,
                matched.c.itemDataValue == encode(value)[0],
            )
        )
    busy = exists().where(
        pending.c.itemId == items.c.itemId,
        pending.c.engineId == scope.engine_id,
        pending.c.actionId.in_(actions),
        pending.c.itemEventDate.is_(None),
        pending.c.itemEventDeadDate.is_(None),
    )
    query = (
        query.where(items.c.ItemState != GONE, ~busy, or_(last.is_(None), last < cutoff))
        .order_by(func.coalesce(last, items.c.itemCreated), items.c.itemId)
        .limit(limit)
    )
    return [int(item_id) for (item_id,) in conn.execute(query)]


def queue_revisits(conn: Connection, *, scope: DueScope, older_than: int, limit: int) -> int:
    """Queue the re-visit event of up to ``limit`` due items; returns how many this call
    queued (an item another transaction queued first is not counted)."""
    due = due_items(conn, scope=scope, older_than=older_than, limit=limit)
    if not due:
        return 0
    now, correlation, origin = utcnow(), get_correlation_id(), current_origin()
    queued = 0
    for part in chunks(due):
        known = set(
            conn.execute(
                select(item_events.c.itemId).where(
                    item_events.c.engineId == scope.engine_id,
                    item_events.c.actionId == scope.revisit_action,
                    item_events.c.itemId.in_(part),
                )
            ).scalars()
        )
        fresh = [item for item in part if item not in known]
        fields = {"itemEventAddedDate": now, "itemEventCorrelationId": correlation}
        fields["itemEventOrigin"] = origin
        added = insert_ignoring_duplicates(
            conn,
            item_events,
            [
                {
                    "engineId": scope.engine_id,
                    "actionId": scope.revisit_action,
                    "itemId": item,
                    **fields,
                }
                for item in fresh
            ],
            unique=("engineId", "actionId", "itemId"),
        )
        queued += added  # a row a racing transaction added first is not counted
        for item in sorted(known):
            queued += reopen_event(
                conn,
                event=EventSpec(scope.engine_id, scope.revisit_action, item),
                added=now,
                correlation_id=correlation,
                origin=origin,
            )
    return queued


# --- recording a visit --------------------------------------------------------------------

VisitOutcome = Literal["unchanged", "changed", "gone"]
VISIT_OUTCOMES: tuple[VisitOutcome, ...] = ("unchanged", "changed", "gone")


@dataclass(frozen=True, slots=True)
class Visit:
    """One re-visit and what it found."""

    visit_id: int
    item_id: int
    engine_id: int | None
    date: datetime
    outcome: VisitOutcome
    status: int | None


def record_visit(
    conn: Connection,
    *,
    item_id: int,
    engine_id: int | None,
    status: int | None,
    write: Callable[[Connection], object] | None = None,
    not_modified: bool = False,
    date: datetime | None = None,
) -> VisitOutcome:
    """Run ``write`` (what the visit stores) and record the visit, in the caller's transaction.

    The outcome is the store's own judgement: ``gone`` when the item ends in the gone state,
    ``changed`` when the write gave it a new version (its meaning changed, ``store.versions``),
    else ``unchanged``. ``not_modified`` (the source answered 304) is unchanged by definition.
    """
    before = _meaning_mark(conn, item_id)
    if write is not None:
        write(conn)
    state = conn.execute(select(items.c.ItemState).where(items.c.itemId == item_id)).scalar()
    outcome: VisitOutcome
    if state == GONE:
        outcome = "gone"
    elif not_modified or _meaning_mark(conn, item_id) == before:
        outcome = "unchanged"
    else:
        outcome = "changed"
    conn.execute(
        item_visits.insert().values(
            itemId=item_id,
            engineId=engine_id,
            visitDate=to_db(date or utcnow()),
            visitOutcome=outcome,
            visitStatus=status,
        )
    )
    return outcome


def item_visits_of(conn: Connection, *, item_id: int, limit: int = 100) -> list[Visit]:
    """An item's visits, newest first."""
    v = item_visits.c
    rows = conn.execute(
        select(item_visits)
        .where(v.itemId == item_id)
        .order_by(v.visitDate.desc(), v.visitId.desc())
        .limit(limit)
    )
    return [_visit(row) for row in rows]


def visits_since(conn: Connection, *, after_id: int = 0, limit: int = 500) -> list[Visit]:
    """Visits recorded after ``after_id``, oldest first (a reader's cursor, e.g. watches)."""
    v = item_visits.c
    rows = conn.execute(
        select(item_visits).where(v.visitId > after_id).order_by(v.visitId).limit(limit)
    )
    return [_visit(row) for row in rows]


def _visit(row: Any) -> Visit:
    date = from_db(row.visitDate)
    assert date is not None  # NOT NULL column
    return Visit(
        visit_id=int(row.visitId),
        item_id=int(row.itemId),
        engine_id=row.engineId,
        date=date,
        outcome=cast(VisitOutcome, row.visitOutcome),
        status=row.visitStatus,
    )


def _meaning_mark(conn: Connection, item_id: int) -> object:
    """What tells whether a write changed the item's meaning: its version number (the store
    writes a version when, and only when, the meaning changed), or, with versions off, the
    digest of its meaning."""
    if retention().keep > 0:
        return current_version(conn, item_id=item_id)
    return meaning_digest(current_rows_always(conn, item_id))


def revisit_page(
    conn: Connection,
    *,
    engine_id: int,
    crawl_action_id: int,
    item_id: int,
    event_id: int,
    status: int | None,
    page: PageWrite | None,
    scopes: Scopes,
) -> VisitOutcome:
    """A crawl page's re-visit as one transaction: the page stored as a crawled page (its new
    links join its crawl) or, without ``page`` (a 304), nothing stored; the re-visit's event
    finished and the visit recorded."""

    def write(conn: Connection) -> None:
        if page is None:
            finish_events(conn, [event_id])
        else:
            store_pages(
                conn, engine_id=engine_id, action_id=crawl_action_id, pages=[page], scopes=scopes
            )

    return record_visit(
        conn,
        item_id=item_id,
        engine_id=engine_id,
        status=status,
        write=write,
        not_modified=page is None,
    )
