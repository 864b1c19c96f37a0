"""schemathesis against /openapi.json: every route, authenticated, never a 500, always the
documented response; and the same cases from a hostile client (a rebound Host, forged
X-Forwarded-For, oversized bodies).

Cases are generated from the schema itself (valid and invalid), against the real app over a
private SQLite database seeded with an engine, items, links, events and a dead event.
schemathesis's ASGI client sends ``Host: testserver``, so the app is told that name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
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
BODY_CAP = 4096
HOSTILE = settings(
    max_examples=5,  # every route, a few cases each: bounded time
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


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
    # A second, changed store of the first item: it has versions 1 and 2 to list and diff.
    changed = ItemRecord(uri="https://contract.test/0", data={"Title": "Page 0, changed"})
    db.run(store.store_items, engine_id=engine.engine_id, records=[changed])
    db.run(store.add_status, engine_id=engine.engine_id, message="contract seeded")
    db.run(store.enqueue_events, events=[EventSpec(engine.engine_id, engine.action_id, first)])


@pytest.fixture
def contract(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    with migrated_database(f"sqlite:///{tmp_path / 'contract.db'}") as db:
        _seed(db)
        secret = db.run(create_token, name=TOKEN_NAME)
        app = core_app(db, allowed_hosts=["testserver"], api_max_body_bytes=BODY_CAP)
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


@schema.exclude(path="/api/stream").parametrize()
@schema.given(name=st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z]{2,6})?(:[0-9]{1,5})?", fullmatch=True))
@HOSTILE
def test_a_rebound_host_gets_400_from_every_route(
    case: Any, name: str, contract: tuple[Any, str]
) -> None:
    _, secret = contract
    if name.split(":", maxsplit=1)[0] in ("localhost", "testserver"):
        return
    response = case.call(headers={"Authorization": f"Bearer {secret}", "Host": name})
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "invalid Host header; see HAYSTACK_ALLOWED_HOSTS"}


@schema.exclude(path="/api/stream").parametrize()
@schema.given(
    forwarded=st.lists(
        st.ip_addresses().map(str)
        | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
        max_size=4,
    )
)
@HOSTILE
def test_a_forged_x_forwarded_for_changes_nothing(
    case: Any, forwarded: list[str], contract: tuple[Any, str]
) -> None:
    _, secret = contract
    header = ", ".join(forwarded).strip() or "unknown"  # a header value has no edge spaces
    case.call_and_validate(
        headers={"Authorization": f"Bearer {secret}", "X-Forwarded-For": header},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance],
    )


@schema.include(method=["POST", "PUT", "PATCH"]).parametrize()
@schema.given(padding=st.integers(min_value=BODY_CAP, max_value=4 * BODY_CAP))
@HOSTILE
def test_an_oversized_body_gets_413_from_every_route_that_takes_one(
    case: Any, padding: int, contract: tuple[Any, str]
) -> None:
    _, secret = contract
    response = case.call(
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        data=b'{"padding": "' + b"x" * padding + b'"}',
    )
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == f"request body too large: at most {BODY_CAP} bytes"
