"""Engines for worker tests, and a ``haystack`` entry point that knows them.

Run ``python -m tests.worker_engines worker ...`` (from the repository root) to start the CLI
with these engines registered: monkeypatching does not cross into a subprocess.
"""

from __future__ import annotations

import os
import time

from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.engines import ActionContext, Engine, item_action, start_action
from haystack_collector.queue import Task
from haystack_collector.store import ItemRecord

# Seconds each Pages run sleeps, so a test can kill a worker mid-way.
SLEEP_ENV = "HAYSTACK_TEST_PAGE_SLEEP"
RUN_KEY = "worker-test-run"


class Pages(Engine):
    """Stores its item idempotently (keyed by URI) and appends one ItemData row per run.

    The extra row is how tests count runs: a task run twice leaves two rows. Both writes are
    one transaction and a run writes no Status row (like a crawl's pages), so the scale-out
    test measures the queue, not three commits per task.
    """

    name = "pages-test"
    description = "Stores pages, counting runs"
    status_per_run = False

    @start_action("pages-seed")
    def seed(self, ctx: ActionContext) -> None:
        ctx.status("seeded")

    @item_action("pages-store")
    def store_page(self, ctx: ActionContext, task: Task) -> None:
        time.sleep(float(os.environ.get(SLEEP_ENV, "0")))
        ctx.db.run(_store_and_count, engine_id=ctx.engine_id, task=task)
        ctx.items_stored += 1


def _store_and_count(conn: Connection, *, engine_id: int, task: Task) -> None:
    store.store_items(
        conn, engine_id=engine_id, records=[ItemRecord(uri=task.uri, data={"stored": True})]
    )
    store.add_item_data(conn, item_id=task.item_id, key=RUN_KEY, value=task.owner)


def main() -> None:
    from haystack_collector.cli import main as cli_main  # noqa: PLC0415
    from haystack_collector.engines import registry  # noqa: PLC0415

    registry.BUILTIN_ENGINES.append(Pages)
    cli_main()


if __name__ == "__main__":
    # Run as a module the class is __main__.Pages; the same engine by name either way.
    main()
