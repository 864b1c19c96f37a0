"""What an engine says about re-visiting what it collected, and what its re-visits share.

An engine that can look at its items again declares ``revisit = RevisitSpec(...)``: the item
action that re-visits one item, and which items are its own (those whose collecting action's
event is done, or that carry a marker key). The policies and the queueing are the store's
(``store.revisits``) and the runtime's (``revisits.Revisiter``).

A re-visit that could not ask the source (no answer, a 5xx or 429, the host's breaker open)
raises ``RevisitFailed``: the queue retries it later with backoff, and the item keeps its data
and its state. Only an answer is a visit: unchanged, changed or gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.fetch import FetchResult
from haystack_collector.queue import Task, WorkQueue
from haystack_collector.store.item_state import GONE_STATUSES
from haystack_collector.store.revisits import VisitOutcome, record_visit

if TYPE_CHECKING:  # engines.base imports this module (RevisitSpec)
    from haystack_collector.engines.base import ActionContext

__all__ = [
    "RevisitFailed",
    "RevisitSpec",
    "finish_revisit",
    "revisit_failure",
    "says_gone",
    "store_revisit",
]


@dataclass(frozen=True, slots=True)
class RevisitSpec:
    """An engine's re-visits: ``action`` re-visits one item; the items are those whose
    ``collect_action`` event is done, or (for engines collecting without events) the
    engine's items carrying ``marker``."""

    action: str
    collect_action: str | None = None
    marker: str | None = None


class RevisitFailed(Exception):
    """The source did not answer; the queue retries the re-visit (the item is untouched)."""


def revisit_failure(result: FetchResult) -> str | None:
    """Why ``result`` is no answer to judge the item by, or None when it is one."""
    if result.status is None:
        return result.error or "no response"
    if result.status >= 500 or result.status == 429:
        return f"HTTP {result.status}"
    return None


def says_gone(result: FetchResult) -> bool:
    return result.error is None and result.status in GONE_STATUSES


def store_revisit(
    conn: Connection,
    *,
    engine_id: int,
    queue: WorkQueue,
    task: Task,
    records: Sequence[store.ItemRecord],
    status: int | None,
    not_modified: bool = False,
) -> VisitOutcome:
    """A re-visit as one transaction: its records stored, its event finished, the visit
    recorded with the outcome the store decided (``store.revisits.record_visit``)."""

    def write(conn: Connection) -> None:
        store.store_items(conn, engine_id=engine_id, records=records)
        queue.finish_within(conn, task)

    return record_visit(
        conn,
        item_id=task.item_id,
        engine_id=engine_id,
        status=status,
        write=write,
        not_modified=not_modified,
    )


def finish_revisit(
    ctx: ActionContext,
    task: Task,
    records: Sequence[store.ItemRecord],
    *,
    status: int | None,
    not_modified: bool = False,
) -> VisitOutcome:
    """``store_revisit`` for the action running in ``ctx``, which then counts as finished."""
    outcome = ctx.db.run(
        store_revisit,
        engine_id=ctx.engine_id,
        queue=ctx.queue,
        task=task,
        records=records,
        status=status,
        not_modified=not_modified,
    )
    ctx.event_done = True
    ctx.items_stored += len(records)
    return outcome
