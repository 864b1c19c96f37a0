"""Worker heartbeats: each worker's row in Workers, for /health, /api/hosts and the dashboard.

A worker registers when it starts, refreshes ``workerSeen`` and its counters every few
seconds, and marks itself stopped on a clean exit. A worker that died leaves a row whose
``workerSeen`` simply stops moving; readers judge liveness by that, not by the state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row

from haystack_collector.db.schema import CLAIM_OWNER_MAX, workers
from haystack_collector.store._sql import check_length, from_db, to_db, utcnow

WORKER_STATES = ("running", "stopped")
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
    now = utcnow()
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
            workerSeen=utcnow(),
            workerFinished=finished,
            workerFailed=failed,
            workerStats=_stats_json(stats),
            workerState=state,
        )
    )
    return bool(result.rowcount)


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
    cutoff = utcnow() - WORKER_RETENTION if seen_before is None else to_db(seen_before)
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
    return list_workers(conn, seen_since=from_db(utcnow() - within))


def current_hosts(conn: Connection, *, within: timedelta = RECENTLY) -> dict[str, dict[str, Any]]:
    """Per-host fetch state merged over the latest heartbeats of recently seen workers."""
    snapshots = []
    for worker in recent_workers(conn, within=within):
        hosts = worker.stats.get("hosts")
        if isinstance(hosts, dict):
            snapshots.append(hosts)
    return merge_hosts(*snapshots)
