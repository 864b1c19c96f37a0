"""An in-memory work queue with the SQL queue's behaviour, for unit tests of workers and engines."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.errors import IntegrityViolation
from haystack_collector.origin import current_origin
from haystack_collector.queue.base import Outcome, QueuePolicy, Task


@dataclass
class _Event:
    event_id: int
    engine_id: int
    action_id: int
    item_id: int
    run_after: datetime | None = None
    done: datetime | None = None
    dead: datetime | None = None
    owner: str | None = None
    lease_until: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    origin: str | None = None


class MemoryQueue:
    """The work queue in a dict: same contract as SqlQueue, events kept in memory.

    Items must be known, as the SQL queue's foreign keys demand: set ``items[item_id] = uri``,
    or give the ``db`` an engine under test stores its items in (they are looked up there).
    The ``*_within`` operations take effect when the caller's transaction commits, as the SQL
    queue's do (just before the database's own commit: a commit that then fails is not undone).
    """

    def __init__(
        self,
        policy: QueuePolicy | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        db: Database | None = None,
    ) -> None:
        self.policy = policy or QueuePolicy()
        self.items: dict[int, str] = {}
        self.db = db
        self.paused = False
        self._clock = clock
        self._events: dict[tuple[int, int, int], _Event] = {}
        self._lock = threading.Lock()

    def enqueue(
        self,
        *,
        engine_id: int,
        action_id: int,
        item_ids: Sequence[int],
        run_after: datetime | None = None,
        reopen: bool = False,
    ) -> int:
        self._learn(item_ids)
        with self._lock:
            missing = [item_id for item_id in item_ids if item_id not in self.items]
            if missing:
                raise IntegrityViolation(f"no item {missing[0]}")
            added, origin = 0, current_origin()
            for item_id in item_ids:
                key = (engine_id, action_id, item_id)
                event = self._events.get(key)
                if event is None:
                    self._events[key] = _Event(
                        len(self._events) + 1,
                        engine_id,
                        action_id,
                        item_id,
                        run_after,
                        origin=origin,
                    )
                    added += 1
                elif reopen and (event.done or event.dead):
                    self._events[key] = _Event(
                        event.event_id,
                        engine_id,
                        action_id,
                        item_id,
                        run_after,
                        origin=origin,
                    )
            return added

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
        # Items stored earlier in the caller's transaction are visible on its connection only.
        self._learn(item_ids, conn)
        with self._lock:
            missing = [item_id for item_id in item_ids if item_id not in self.items]
            if missing:
                raise IntegrityViolation(f"no item {missing[0]}")
            new = {i for i in item_ids if (engine_id, action_id, i) not in self._events}

        def on_commit(_conn: Connection) -> None:
            self.enqueue(
                engine_id=engine_id,
                action_id=action_id,
                item_ids=item_ids,
                run_after=run_after,
                reopen=reopen,
            )

        sa_event.listen(conn, "commit", on_commit, once=True)
        return len(new)

    def claim(
        self,
        *,
        owner: str,
        limit: int = 10,
        engine_id: int | None = None,
        action_ids: Sequence[int] | None = None,
    ) -> list[Task]:
        now = self._clock()
        with self._lock:
            if self.paused:
                return []
            due = sorted(
                (
                    e
                    for e in self._events.values()
                    if self._claimable(e, now)
                    and (engine_id is None or e.engine_id == engine_id)
                    and (action_ids is None or e.action_id in action_ids)
                ),
                key=lambda e: e.event_id,
            )[:limit]
            tasks = []
            for event in due:
                event.owner, event.lease_until = owner, now + self.policy.lease
                event.attempts += 1
                tasks.append(self._task(event))
            return tasks

    def finish(self, *tasks: Task) -> int:
        now = self._clock()
        finished = 0
        with self._lock:
            for task in tasks:
                event = self._find(task)
                if not (event.done or event.dead):
                    event.done, event.owner, event.lease_until = now, None, None
                    finished += 1
        return finished

    def finish_within(self, conn: Connection, *tasks: Task) -> int:
        with self._lock:
            pending = sum(1 for task in tasks if not self._settled(self._find(task)))

        def on_commit(_conn: Connection) -> None:
            self.finish(*tasks)

        sa_event.listen(conn, "commit", on_commit, once=True)
        return pending

    def retry(self, task: Task, *, error: str) -> Outcome:
        now = self._clock()
        with self._lock:
            event = self._find(task)
            if event.done or event.dead:
                return Outcome.GONE
            event.last_error, event.owner, event.lease_until = error, None, None
            if task.attempts >= self.policy.max_attempts:
                event.dead = now
                return Outcome.DEAD
            event.run_after = self.policy.next_run(now, task.attempts)
            return Outcome.RETRYING

    def release(self, task: Task) -> bool:
        with self._lock:
            event = self._find(task)
            if event.owner != task.owner or event.done:
                return False
            event.owner, event.lease_until = None, None
            event.attempts = max(event.attempts - 1, 0)
            return True

    def last_error(self, task: Task) -> str | None:
        """The error a failed task left behind (the SQL queue keeps it in itemEventLastError)."""
        return self._find(task).last_error

    def _learn(self, item_ids: Sequence[int], conn: Connection | None = None) -> None:
        """Look up in the database the items not known yet (when there is one to ask)."""
        unknown = [item_id for item_id in item_ids if item_id not in self.items]
        if not unknown or (conn is None and self.db is None):
            return
        for item_id in unknown:
            if conn is not None:
                item = store.get_item(conn, item_id=item_id)
            else:
                assert self.db is not None
                item = self.db.run_read(store.get_item, item_id=item_id)
            if item is not None:
                with self._lock:
                    self.items[item_id] = item.uri

    @staticmethod
    def _settled(event: _Event) -> bool:
        return event.done is not None or event.dead is not None

    @staticmethod
    def _claimable(event: _Event, now: datetime) -> bool:
        return (
            event.done is None
            and event.dead is None
            and (event.run_after is None or event.run_after <= now)
            and (event.lease_until is None or event.lease_until <= now)
        )

    def _find(self, task: Task) -> _Event:
        return self._events[(task.engine_id, task.action_id, task.item_id)]

    def _task(self, event: _Event) -> Task:
        assert event.owner is not None
        assert event.lease_until is not None
        return Task(
            event_id=event.event_id,
            engine_id=event.engine_id,
            action_id=event.action_id,
            item_id=event.item_id,
            uri=self.items[event.item_id],
            attempts=event.attempts,
            owner=event.owner,
            lease_until=event.lease_until,
            origin=event.origin,
        )
