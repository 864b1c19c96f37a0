"""Small builders for test data, so tests state only what matters to them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from haystack_collector import store

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
