"""Worker heartbeats: each worker's row in Workers, for crash recovery, /health, /api/hosts
and the dashboard.

A worker registers when it starts, refreshes ``workerSeen`` and its counters every few
seconds, and marks itself stopped on a clean exit. A worker that died leaves a row whose
``workerSeen`` simply stops moving; readers judge liveness by that, not by the state.

Crash recovery (``release_dead_workers``): a running worker not seen for a stall timeout is
dead. Any other worker, on any host, marks its row ``dead`` and releases the events it still
held, so they run again at once instead of after their lease. ``workerSeen`` is written and
compared in the database's clock (``database_now``), so hosts whose clocks disagree still agree
on who is dead. Claims of an owner without a row (a worker that never registered) are left to
their lease. A dead worker that comes back turns its row ``running`` again with its next
heartbeat; what it then finishes is already done or done twice idempotently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Row

from haystack_collector.db.schema import CLAIM_OWNER_MAX, item_events, workers
from haystack_collector.store._sql import check_length, from_db, to_db, utcnow

# "dead": judged dead by another worker (see release_dead_workers), its claims released.
WORKER_STATES = ("running", "stopped", "dead")
# Rows of workers not seen for this long are deleted by the running workers' heartbeats; a
# row is only history by then (readers treat a worker unseen for a minute as gone).
WORKER_RETENTION = timedelta(days=7)
# Workers hold TEXT columns (64 KiB on MariaDB): keep the busiest hosts when there are many.
MAX_STATS_HOSTS = 200


@dataclass(frozen=True, slots=True)
class WorkerRow:
    worker_id: int
    owner: str
    host: str | None
    pid: int | None
    engines: list[str] | None  # None: every engine
    state: str
    started: datetime  # aware UTC
    seen: datetime  # aware UTC
    finished: int
    failed: int
    stats: dict[str, Any]


def _stats_json(stats: Mapping[str, Any]) -> str:
    data = dict(stats)
    hosts = data.get("hosts")
    if isinstance(hosts, Mapping) and len(hosts) > MAX_STATS_HOSTS:
        busiest = sorted(hosts.items(), key=lambda kv: -int(kv[1].get("requests") or 0))
        data["hosts"] = dict(busiest[:MAX_STATS_HOSTS])
    return json.dumps(data, default=str, sort_keys=True)


def register_worker(
    conn: Connection,
    *,
    owner: str,
    host: str | None = None,
    pid: int | None = None,
    engines: Sequence[str] | None = None,
) -> int:
    """Record a starting worker (or restart the row of the same owner); returns its id."""
    check_length("worker owner", owner, CLAIM_OWNER_MAX)
    now = database_now(conn)
    values: dict[str, Any] = {
        "workerHost": host[:255] if host else host,
        "workerPid": pid,
        "workerEngines": None if engines is None else json.dumps(list(engines)),
        "workerState": "running",
        "workerStarted": now,
        "workerSeen": now,
        "workerFinished": 0,
        "workerFailed": 0,
        "workerStats": None,
    }
    existing = conn.execute(
        select(workers.c.workerId).where(workers.c.workerOwner == owner)
    ).scalar_one_or_none()
    if existing is not None:
        conn.execute(update(workers).where(workers.c.workerId == existing).values(**values))
        return int(existing)
    result = conn.execute(workers.insert().values(workerOwner=owner, **values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def heartbeat_worker(
    conn: Connection,
    *,
    owner: str,
    finished: int,
    failed: int,
    stats: Mapping[str, Any],
    state: str = "running",
) -> bool:
    """Refresh a worker's row; False if it has none (it was pruned: register again)."""
    if state not in WORKER_STATES:
        raise ValueError(f"worker state must be one of {WORKER_STATES}, not {state!r}")
    result = conn.execute(
        update(workers)
        .where(workers.c.workerOwner == owner)
        .values(
            workerSeen=database_now(conn),
            workerFinished=finished,
            workerFailed=failed,
            workerStats=_stats_json(stats),
            workerState=state,
        )
    )
    return bool(result.rowcount)


def database_now(conn: Connection) -> datetime:
    """Now in the database's clock, as a naive UTC column value.

    Heartbeats are written and judged in this one clock, so a worker on a host whose clock is
    off is neither declared dead early nor kept alive late. SQLite has no server: its file is
    shared by processes of one host, whose clock this is. Sessions run in UTC (db.database).
    """
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        moment = conn.execute(select(func.utc_timestamp(6))).scalar_one()
    elif dialect == "postgresql":
        moment = conn.execute(select(func.timezone("UTC", func.clock_timestamp()))).scalar_one()
    else:
        return utcnow()
    assert isinstance(moment, datetime)
    return to_db(moment) or moment


@dataclass(frozen=True, slots=True)
class ReleasedWorkers:
    """What ``release_dead_workers`` did: the owners judged dead, the events released."""

    owners: list[str]
    events: int


def running_workers(conn: Connection) -> list[WorkerRow]:
    """The rows of workers that say they are running (alive, or dead and not yet judged)."""
    query = select(workers).where(workers.c.workerState == "running")
    return [_row(row) for row in conn.execute(query.order_by(workers.c.workerId))]


def release_dead_workers(
    conn: Connection,
    *,
    stall_timeout: timedelta,
    alive: str | None = None,
    gone: Sequence[str] = (),
) -> ReleasedWorkers:
    """Mark running workers unseen for ``stall_timeout`` dead and release their claims.

    ``alive`` is the caller's own owner id, never judged. ``gone`` are owners the caller
    knows dead whatever their last heartbeat (their process is gone from its machine). Each
    row turns ``dead`` only if it is still stale (or gone) when updated, so a heartbeat that
    lands meanwhile keeps its worker; the pending events it claimed lose owner and lease
    (their attempt stays counted: a page that kills its worker must not be tried forever).
    Cheap when nobody died: one indexed read.
    """
    cutoff = database_now(conn) - stall_timeout
    w = workers.c
    stale = select(w.workerOwner).where(w.workerState == "running", w.workerSeen < cutoff)
    if alive is not None:
        stale = stale.where(w.workerOwner != alive)
    candidates = dict.fromkeys([*conn.execute(stale).scalars(), *gone])
    dead: list[str] = []
    for owner in candidates:
        if owner == alive:
            continue
        judged = update(workers).where(w.workerOwner == owner, w.workerState == "running")
        if owner not in gone:
            judged = judged.where(w.workerSeen < cutoff)
        if conn.execute(judged.values(workerState="dead")).rowcount:
            dead.append(owner)
    if not dead:
        return ReleasedWorkers([], 0)
    e = item_events.c
    released = conn.execute(
        update(item_events)
        .where(
            e.itemEventClaimedBy.in_(dead),
            e.itemEventDate.is_(None),
            e.itemEventDeadDate.is_(None),
        )
        .values(itemEventClaimedBy=None, itemEventLeaseUntil=None)
    )
    return ReleasedWorkers(dead, int(released.rowcount))


def claims_of_running_workers(
    conn: Connection, *, other_than: str | None = None, engine_ids: Sequence[int] | None = None
) -> int:
    """Pending events (of ``engine_ids``, or all) leased to workers whose rows say running,
    ``other_than`` excepted.

    A drain waits for these: their worker either finishes them (and may queue more) or dies
    and has them released after the stall timeout. Leases of owners without a row, and
    expired leases, are not counted (the former are left to their lease, the latter are
    claimable).
    """
    e, w = item_events.c, workers.c
    query = (
        select(func.count())
        .select_from(item_events)
        .join(workers, w.workerOwner == e.itemEventClaimedBy)
        .where(
            e.itemEventDate.is_(None),
            e.itemEventDeadDate.is_(None),
            e.itemEventLeaseUntil > utcnow(),
            w.workerState == "running",
        )
    )
    if other_than is not None:
        query = query.where(w.workerOwner != other_than)
    if engine_ids is not None:
        query = query.where(e.engineId.in_(list(engine_ids)))
    return int(conn.execute(query).scalar_one())


def _row(row: Row[Any]) -> WorkerRow:
    engines = json.loads(row.workerEngines) if row.workerEngines else None
    try:
        stats = json.loads(row.workerStats) if row.workerStats else {}
    except ValueError:  # a row written by something else: show the worker, not an error
        stats = {}
    started, seen = from_db(row.workerStarted), from_db(row.workerSeen)
    assert started is not None
    assert seen is not None
    return WorkerRow(
        worker_id=row.workerId,
        owner=row.workerOwner,
        host=row.workerHost,
        pid=row.workerPid,
        engines=engines,
        state=row.workerState,
        started=started,
        seen=seen,
        finished=int(row.workerFinished),
        failed=int(row.workerFailed),
        stats=stats if isinstance(stats, dict) else {},
    )


def list_workers(
    conn: Connection, *, seen_since: datetime | None = None, limit: int = 100
) -> list[WorkerRow]:
    """Workers, most recently seen first; only those seen since ``seen_since`` when given."""
    query = select(workers).order_by(workers.c.workerSeen.desc(), workers.c.workerId.desc())
    if seen_since is not None:
        query = query.where(workers.c.workerSeen >= to_db(seen_since))
    return [_row(row) for row in conn.execute(query.limit(limit))]


def prune_workers(conn: Connection, *, seen_before: datetime | None = None) -> int:
    """Delete the rows of workers not seen since ``seen_before`` (default: ``WORKER_RETENTION``
    ago); returns how many."""
    cutoff = database_now(conn) - WORKER_RETENTION if seen_before is None else to_db(seen_before)
    result = conn.execute(workers.delete().where(workers.c.workerSeen < cutoff))
    return int(result.rowcount)


_BREAKER_RANK = {"closed": 0, "half_open": 1, "open": 2}


def merge_hosts(*snapshots: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-host fetch state from several fetchers (or workers) as one view per host.

    Counters add up; the delay and the breaker state are the strictest seen; latencies are
    weighted by each source's requests.
    """
    merged: dict[str, dict[str, Any]] = {}
    for snapshot in snapshots:
        for host, info in snapshot.items():
            if not isinstance(info, Mapping):  # a heartbeat from another version: skip it
                continue
            into = merged.setdefault(
                host,
                {
                    "requests": 0,
                    "errors": 0,
                    "in_flight": 0,
                    "delay": None,
                    "last_latency": None,
                    "avg_latency": None,
                    "breaker": "closed",
                },
            )
            _merge_host(into, info)
    return dict(sorted(merged.items()))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _merge_host(into: dict[str, Any], info: Mapping[str, Any]) -> None:
    before = int(into["requests"])
    requests = int(_number(info.get("requests")) or 0)
    into["requests"] = before + requests
    into["errors"] = int(into["errors"]) + int(_number(info.get("errors")) or 0)
    into["in_flight"] = int(into["in_flight"]) + int(_number(info.get("in_flight")) or 0)
    delay = _number(info.get("delay"))
    if delay is not None:
        into["delay"] = delay if into["delay"] is None else max(into["delay"], delay)
    latency = _number(info.get("last_latency"))
    if latency is not None:
        into["last_latency"] = latency
    average = _number(info.get("avg_latency"))
    if average is not None:
        if into["avg_latency"] is None or into["requests"] == 0:
            into["avg_latency"] = average
        else:
            into["avg_latency"] = (into["avg_latency"] * before + average * requests) / max(
                into["requests"], 1
            )
    breaker = str(info.get("breaker") or "closed")
    if _BREAKER_RANK.get(breaker, 0) > _BREAKER_RANK.get(into["breaker"], 0):
        into["breaker"] = breaker


# A worker beats every few seconds; one not seen for this long is gone (or badly stuck).
RECENTLY = timedelta(seconds=60)


def recent_workers(conn: Connection, *, within: timedelta = RECENTLY) -> list[WorkerRow]:
    """Workers seen within ``within`` (running or just stopped)."""
    return list_workers(conn, seen_since=from_db(database_now(conn) - within))


def current_hosts(conn: Connection, *, within: timedelta = RECENTLY) -> dict[str, dict[str, Any]]:
    """Per-host fetch state merged over the latest heartbeats of recently seen workers."""
    snapshots = []
    for worker in recent_workers(conn, within=within):
        hosts = worker.stats.get("hosts")
        if isinstance(hosts, dict):
            snapshots.append(hosts)
    return merge_hosts(*snapshots)
