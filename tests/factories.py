"""Small builders for test data, so tests state only what matters to them."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import workers

_counter = itertools.count(1)


@dataclass(frozen=True)
class EngineFixture:
    engine_id: int
    action_id: int


def make_engine(
    conn: Connection, *, name: str | None = None, action: str = "extractor"
) -> EngineFixture:
    """An engine with one action registered."""
    engine_id = store.register_engine(conn, name=name or f"engine{next(_counter)}", version="1.0")
    action_id = store.register_action(conn, name=action)
    store.register_engine_action(conn, engine_id=engine_id, action_id=action_id, function=action)
    return EngineFixture(engine_id, action_id)


def make_uri(prefix: str = "https://example.test/item") -> str:
    return f"{prefix}/{next(_counter)}"


def as_if_on_another_machine(db: Database, owner_prefix: str) -> None:
    """Make a killed worker's row say it ran elsewhere: its pid then proves nothing here, and
    only the stall timeout can tell it is dead (what a worker on another host sees)."""
    process = {"boot": "another-machine", "pid_namespace": "pid:[1]"}
    db.run(
        lambda conn: conn.execute(
            update(workers)
            .where(workers.c.workerOwner.startswith(owner_prefix))
            .values(workerStats=json.dumps({"process": process}))
        )
    )
