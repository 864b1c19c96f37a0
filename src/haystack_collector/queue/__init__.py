"""The work queue: ItemEvents handed to workers with leases, retries and dead letters.

It exposes only enqueue / claim / finish / retry (and release, for a worker shutting down),
plus ``enqueue_within`` / ``finish_within``, which join the caller's transaction so that what an
action stores and its queue changes commit together. ``SqlQueue`` runs on the database,
``MemoryQueue`` is its in-memory double for unit tests (of workers, and of engines).
"""

from __future__ import annotations

from haystack_collector.queue.base import (
    ACTION_RETRY_POLICY,
    Outcome,
    QueuePolicy,
    Task,
    WorkQueue,
)
from haystack_collector.queue.memory import MemoryQueue
from haystack_collector.queue.sql import SqlQueue

__all__ = [
    "ACTION_RETRY_POLICY",
    "MemoryQueue",
    "Outcome",
    "QueuePolicy",
    "SqlQueue",
    "Task",
    "WorkQueue",
]
