"""The work queue's interface: enqueue, claim, finish, retry (and release on shutdown).

``enqueue_within`` and ``finish_within`` take part in the caller's own transaction: an action
that stores its results and finishes its event (or queues follow-up events) on one connection
commits both together or neither, so a kill between the two can neither lose the follow-ups
nor finish an event whose results were never stored.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.engine import Connection

from haystack_collector.resilience import RetryPolicy, backoff_delay

# A failed action waits 30 s, then 1, 2, 4 ... minutes (with jitter), at most an hour.
ACTION_RETRY_POLICY = RetryPolicy(attempts=5, initial=30.0, maximum=3600.0)


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """How long a claim lasts and how failed actions are retried."""

    lease: timedelta = timedelta(minutes=5)
    retry: RetryPolicy = field(default=ACTION_RETRY_POLICY)

    @property
    def max_attempts(self) -> int:
        return self.retry.attempts

    def next_run(self, now: datetime, attempts: int) -> datetime:
        """When an event that failed its ``attempts``-th try becomes due again."""
        return now + timedelta(seconds=backoff_delay(self.retry, max(attempts, 1)))


@dataclass(frozen=True, slots=True)
class Task:
    """A claimed event: run ``action_id`` of ``engine_id`` on the item, then finish or retry."""

    event_id: int
    engine_id: int
    action_id: int
    item_id: int
    uri: str
    attempts: int  # this claim included
    owner: str
    lease_until: datetime
    correlation_id: str | None = None  # of the work that queued it; the task runs under it
    origin: str | None = None  # "api": API work, run with the SSRF guard on (see ``origin``)


class Outcome(enum.StrEnum):
    """What ``retry`` did with a failed task."""

    RETRYING = "retrying"  # due again later
    DEAD = "dead"  # out of attempts; kept with its last error, revived by enqueue(reopen=True)
    GONE = "gone"  # no longer pending (finished elsewhere after its lease ran out)


class WorkQueue(Protocol):
    """At-least-once delivery of ItemEvents to workers; handlers must be idempotent."""

    def enqueue(
        self,
        *,
        engine_id: int,
        action_id: int,
        item_ids: Sequence[int],
        run_after: datetime | None = None,
        reopen: bool = False,
    ) -> int:
        """Queue the action for each item; returns how many events are new."""
        ...

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
        """``enqueue`` inside the caller's transaction on ``conn``: the events exist only if it
        commits. The items may be ones stored earlier in that same transaction."""
        ...

    def claim(
        self,
        *,
        owner: str,
        limit: int = 10,
        engine_id: int | None = None,
        action_ids: Sequence[int] | None = None,
    ) -> list[Task]:
        """Lease up to ``limit`` due events to ``owner``; none while the queue is paused."""
        ...

    def finish(self, *tasks: Task) -> int:
        """The tasks' actions succeeded; returns how many were still pending.

        Several at once share one commit: a worker finishing what completed since its last
        round spends one round trip, not one per task.
        """
        ...

    def finish_within(self, conn: Connection, *tasks: Task) -> int:
        """``finish`` inside the caller's transaction on ``conn``: what the action stored there
        and its finished event commit together (or roll back together)."""
        ...

    def retry(self, task: Task, *, error: str) -> Outcome:
        """The task's action failed: due again after a backoff, or dead when out of attempts."""
        ...

    def release(self, task: Task) -> bool:
        """Hand an unstarted or interrupted task back without counting the attempt."""
        ...
