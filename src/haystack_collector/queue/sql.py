"""The work queue on the ItemEvents table, for SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.queue.base import Outcome, QueuePolicy, Task
from haystack_collector.store import ClaimedEvent, EventSpec

RUN_QUEUE = "RunQueue"


class SqlQueue:
    """ItemEvents as a queue: leases with expiry, backoff retries, dead letters."""

    def __init__(self, db: Database, policy: QueuePolicy | None = None) -> None:
        self.db = db
        self.policy = policy or QueuePolicy()

    def enqueue(
        self,
        *,
        engine_id: int,
        action_id: int,
        item_ids: Sequence[int],
        run_after: datetime | None = None,
        reopen: bool = False,
    ) -> int:
        return self.db.run(
            self.enqueue_within,
            engine_id=engine_id,
            action_id=action_id,
            item_ids=item_ids,
            run_after=run_after,
            reopen=reopen,
        )

    def enqueue_within(
        self,
        conn: Connection,
        *,
        engine_id: int,
        action_id: int,
        item_ids: Sequence[int],
        run_after: datetime | None = None,
        reopen: bool = False,
    ) -> int:
        events = [EventSpec(engine_id, action_id, item_id, run_after) for item_id in item_ids]
        return store.enqueue_events(conn, events=events, reopen=reopen)

    def claim(
        self,
        *,
        owner: str,
        limit: int = 10,
        engine_id: int | None = None,
        action_ids: Sequence[int] | None = None,
    ) -> list[Task]:
        claimed = self.db.run(
            _claim_unless_paused,
            owner=owner,
            lease_until=datetime.now(UTC) + self.policy.lease,
            limit=limit,
            engine_id=engine_id,
            action_ids=action_ids,
        )
        return [_task(event, owner) for event in claimed]

    def finish(self, *tasks: Task) -> int:
        if not tasks:
            return 0
        return self.db.run(self.finish_within, *tasks)

    def finish_within(self, conn: Connection, *tasks: Task) -> int:
        if not tasks:
            return 0
        return store.finish_claimed(conn, event_ids=[task.event_id for task in tasks])

    def retry(self, task: Task, *, error: str) -> Outcome:
        dead = task.attempts >= self.policy.max_attempts
        run_after = None if dead else self.policy.next_run(datetime.now(UTC), task.attempts)
        changed = self.db.run(
            store.fail_claimed, event_id=task.event_id, error=error, run_after=run_after, dead=dead
        )
        if not changed:
            return Outcome.GONE
        return Outcome.DEAD if dead else Outcome.RETRYING

    def release(self, task: Task) -> bool:
        return self.db.run(store.release_claimed, event_id=task.event_id, owner=task.owner)


def _claim_unless_paused(
    conn: Connection,
    *,
    owner: str,
    lease_until: datetime,
    limit: int,
    engine_id: int | None,
    action_ids: Sequence[int] | None,
) -> list[ClaimedEvent]:
    if store.get_config(conn, name=RUN_QUEUE, default="1") == "0":
        return []
    return store.claim_events(
        conn,
        owner=owner,
        lease_until=lease_until,
        limit=limit,
        engine_id=engine_id,
        action_ids=action_ids,
        skip_disabled=True,  # a stopped engine's events wait, whichever worker claims
    )


def _task(event: ClaimedEvent, owner: str) -> Task:
    return Task(
        event_id=event.event_id,
        engine_id=event.engine_id,
        action_id=event.action_id,
        item_id=event.item_id,
        uri=event.uri,
        attempts=event.attempts,
        owner=owner,
        lease_until=event.lease_until,
        correlation_id=event.correlation_id,
        origin=event.origin,
    )
