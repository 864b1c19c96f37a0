"""A request's correlation id follows its work through every event it causes, in any worker.

Events remember the id they were queued under (``itemEventCorrelationId``); a worker runs each
task under its event's id, and the follow-up events that task queues inherit it in turn.
"""

from __future__ import annotations

import asyncio

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines import ActionContext, Engine, item_action, start_action
from haystack_collector.logs import correlation_scope, get_correlation_id
from haystack_collector.queue import SqlQueue, Task
from haystack_collector.store import ItemRecord
from haystack_collector.worker import Worker

SEEN = "SeenCorrelationId"


class Chain(Engine):
    """Each page records the correlation id it ran under and queues the next page, up to 3."""

    name = "correlation-chain-test"
    status_per_run = False

    @start_action("chain-seed")
    def seed(self, ctx: ActionContext) -> None:
        result = ctx.store_items([ItemRecord(uri="https://chain.test/0")])
        ctx.enqueue("chain-page", list(result.item_ids.values()))

    @item_action("chain-page")
    def page(self, ctx: ActionContext, task: Task) -> None:
        number = int(task.uri.rsplit("/", 1)[1])
        records = [ItemRecord(uri=task.uri, data={SEEN: get_correlation_id()})]
        if number < 2:
            next_page = f"https://chain.test/{number + 1}"
            records.append(ItemRecord(uri=next_page, events=[ctx.action_id("chain-page")]))
        ctx.store_items(records)


def _drain(db: Database) -> None:
    worker = Worker(
        db, SqlQueue(db), [Chain], concurrency=2, drain=True, idle_sleep=0.02, finish_flush=0.02
    )
    asyncio.run(asyncio.wait_for(worker.run(), 30))


def _seen(db: Database) -> dict[str, object]:
    found = {}
    for n in range(3):
        uri = f"https://chain.test/{n}"
        item_id = db.run_read(store.find_item_id, uri=uri)
        assert item_id is not None, uri
        found[uri] = db.run_read(store.get_item_value, item_id=item_id, key=SEEN)
    return found


def test_work_queued_under_a_request_id_runs_under_it_through_every_follow_up(
    db: Database,
) -> None:
    registered = Chain.register(db)
    with correlation_scope("request-4f2a"):
        result = db.run(
            store.store_items,
            engine_id=registered.engine_id,
            records=[
                ItemRecord(uri="https://chain.test/0", events=[registered.action_ids["chain-page"]])
            ],
        )
    assert result.item_ids

    _drain(db)

    assert _seen(db) == dict.fromkeys((f"https://chain.test/{n}" for n in range(3)), "request-4f2a")


def test_work_queued_outside_any_request_gets_one_fresh_id_per_chain(db: Database) -> None:
    registered = Chain.register(db)
    item = db.run(
        store.get_or_create_item, uri="https://chain.test/0", engine_id=registered.engine_id
    )
    db.run(
        store.enqueue_event,
        engine_id=registered.engine_id,
        action_id=registered.action_ids["chain-page"],
        item_id=item.item_id,
    )

    _drain(db)

    ids = set(_seen(db).values())
    assert len(ids) == 1
    assert None not in ids
