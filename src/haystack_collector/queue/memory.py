"""An in-memory work queue with the SQL queue's behaviour, for unit tests of workers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from haystack_collector.errors import IntegrityViolation
from haystack_collector.origin import current_origin
from haystack_collector.queue.base import Job, Outcome, QueuePolicy


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
    """The work queue in a dict: same contract as SqlQueue, no database.

    Items must be known (``items[item_id] = uri``), as the SQL queue's foreign keys demand.
    """

    def __init__(
        self,
        policy: QueuePolicy | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy or QueuePolicy()
        self.items: dict[int, str] = {}
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

    def claim(
        self,
        *,
        owner: str,
        limit: int = 10,
        engine_id: int | None = None,
        action_ids: Sequence[int] | None = None,
    ) -> list[Job]:
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
            jobs = []
            for event in due:
                event.owner, event.lease_until = owner, now + self.policy.lease
                event.attempts += 1
                jobs.append(self._job(event))
            return jobs

    def finish(self, *jobs: Job) -> int:
        now = self._clock()
        finished = 0
        with self._lock:
            for job in jobs:
                event = self._find(job)
                if not (event.done or event.dead):
                    event.done, event.owner, event.lease_until = now, None, None
                    finished += 1
        return finished

    def retry(self, job: Job, *, error: str) -> Outcome:
        now = self._clock()
        with self._lock:
            event = self._find(job)
            if event.done or event.dead:
                return Outcome.GONE
            event.last_error, event.owner, event.lease_until = error, None, None
            if job.attempts >= self.policy.max_attempts:
                event.dead = now
                return Outcome.DEAD
            event.run_after = self.policy.next_run(now, job.attempts)
            return Outcome.RETRYING

    def release(self, job: Job) -> bool:
        with self._lock:
            event = self._find(job)
            if event.owner != job.owner or event.done:
                return False
            event.owner, event.lease_until = None, None
            event.attempts = max(event.attempts - 1, 0)
            return True

    def last_error(self, job: Job) -> str | None:
        """The error a failed job left behind (the SQL queue keeps it in itemEventLastError)."""
        return self._find(job).last_error

    @staticmethod
    def _claimable(event: _Event, now: datetime) -> bool:
        return (
            event.done is None
            and event.dead is None
            and (event.run_after is None or event.run_after <= now)
            and (event.lease_until is None or event.lease_until <= now)
        )

    def _find(self, job: Job) -> _Event:
        return self._events[(job.engine_id, job.action_id, job.item_id)]

    def _job(self, event: _Event) -> Job:
        assert event.owner is not None
        assert event.lease_until is not None
        return Job(
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
