"""schemathesis against /openapi.json: every route, authenticated, never a 500, always the
documented response.

Cases are generated from the schema itself (valid and invalid), against the real app over a
private SQLite database seeded with an engine, items, links, events and a dead event.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.store import EventSpec, ItemRecord, LinkSpec
from haystack_collector.store.tokens import create_token
from tests.databases import migrated_database
from tests.factories import make_engine
from tests.integration.api.core_fixtures import core_app

TOKEN_NAME = "schemathesis"


def _seed(db: Database) -> None:
    engine = db.run(make_engine, name="contract-test")
    records = [
        ItemRecord(
            uri=f"https://contract.test/{n}",
            data={"Title": f"Page {n} <b>bold</b>", "Body": "needle in a haystack"},
            links=[LinkSpec(f"https://contract.test/{n + 1}")],
            events=[engine.action_id],
        )
        for n in range(5)
    ]
    result = db.run(store.store_items, engine_id=engine.engine_id, records=records)
    first = result.item_ids["https://contract.test/0"]
    db.run(store.add_status, engine_id=engine.engine_id, message="contract seeded")
    db.run(store.enqueue_events, events=[EventSpec(engine.engine_id, engine.action_id, first)])


@pytest.fixture
def contract(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    with migrated_database(f"sqlite:///{tmp_path / 'contract.db'}") as db:
        _seed(db)
        secret = db.run(create_token, name=TOKEN_NAME)
        app = core_app(db)
        yield schemathesis.openapi.from_asgi("/openapi.json", app), secret


@pytest.fixture
def api_schema(contract: tuple[Any, str]) -> Any:
    return contract[0]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.exclude(path="/api/stream").parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_route_answers_as_documented_and_never_500(
    case: Any, contract: tuple[Any, str]
) -> None:
    _, secret = contract
    case.call_and_validate(
        headers={"Authorization": f"Bearer {secret}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
