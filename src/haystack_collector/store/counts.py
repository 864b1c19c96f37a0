"""Counts for the dashboard and the metrics: items in all, new items per day, a snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import items
from haystack_collector.store.events import event_counts
from haystack_collector.store.workers import current_hosts, recent_workers


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    count: int


def count_items(conn: Connection) -> int:
    """How many items there are."""
    return int(conn.execute(select(func.count()).select_from(items)).scalar() or 0)


def items_per_day(conn: Connection, *, days: int, today: date) -> list[DayCount]:
    """New items per calendar day (UTC) over the last ``days`` days, zero-filled, oldest first."""
    first = today - timedelta(days=days - 1)
    # date() exists on SQLite (as text), MariaDB and PostgreSQL (as a date).
    day = func.date(items.c.itemCreated)
    rows = conn.execute(
        select(day, func.count())
        .where(items.c.itemCreated >= datetime.combine(first, datetime.min.time()))
        .group_by(day)
    )
    counts = dict.fromkeys((first + timedelta(days=n) for n in range(days)), 0)
    for value, count in rows:
        if isinstance(value, datetime):
            parsed = value.date()
        elif isinstance(value, date):
            parsed = value
        else:
            parsed = date.fromisoformat(str(value))
        if parsed in counts:
            counts[parsed] = int(count)
    return [DayCount(key, count) for key, count in counts.items()]


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What ``/metrics`` reads from the database at each scrape, in one read transaction."""

    events: dict[str, int]  # by state
    items: int
    workers_running: int  # heartbeat in the last minute
    breakers: dict[str, str]  # host -> breaker state, from the workers' heartbeats


def metrics_snapshot(conn: Connection) -> MetricsSnapshot:
    return MetricsSnapshot(
        events=event_counts(conn),
        items=count_items(conn),
        workers_running=sum(1 for w in recent_workers(conn) if w.state == "running"),
        breakers={host: str(info.get("breaker")) for host, info in current_hosts(conn).items()},
    )
