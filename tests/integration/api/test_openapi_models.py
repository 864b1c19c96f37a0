"""/openapi.json names each concept once: plain schema names, and one error model, ErrorOut,
for every error answer; the answers the API really gives for errors are that model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from haystack_collector.api.models import ErrorOut
from haystack_collector.db import Database
from tests.databases import migrated_database
from tests.integration.api.core_fixtures import client_for, core_app, mint

PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
ERROR_REF = "#/components/schemas/ErrorOut"
# /health answers 503 with its own report (the database part says what is down): a load
# balancer reads the same shape whatever the status, so that one is not an error model.
NOT_ERRORS = {("/health", "get", "503")}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with migrated_database(f"sqlite:///{tmp_path / 'openapi.db'}") as database:
        yield database


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with client_for(core_app(db)) as test_client:
        yield test_client


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def _error_answers(spec: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation.get("responses", {}).items():
                if code[0] in "45":
                    yield path, method, code, answer


def test_every_schema_has_a_plain_name(spec: dict[str, Any]) -> None:
    names = list(spec["components"]["schemas"])
    # Two models of one name would show as haystack_collector__api__routes__..._Name.
    assert [name for name in names if not PLAIN_NAME.fullmatch(name)] == []
    assert [name for name in names if "__" in name] == []


def test_every_error_answer_is_documented_as_the_one_error_model(spec: dict[str, Any]) -> None:
    answers = list(_error_answers(spec))
    assert len(answers) > 50  # every route documents its errors
    models = {
        (path, method, code): answer["content"]["application/json"]["schema"].get("$ref")
        for path, method, code, answer in answers
        if (path, method, code) not in NOT_ERRORS
    }
    assert set(models.values()) == {ERROR_REF}
    # FastAPI's own 422 models are not used anywhere: ErrorOut describes 422s too.
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    error = schemas["ErrorOut"]
    assert error["required"] == ["detail"]
    assert {"type": "string"} in error["properties"]["detail"]["anyOf"]


def test_every_route_with_input_documents_its_422(spec: dict[str, Any]) -> None:
    """A route with parameters documents its 422 (FastAPI would otherwise add its own model)."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in operation["responses"], (method, path)


def test_real_error_answers_are_error_out(db: Database, client: TestClient) -> None:
    _, auth = mint(db)
    answers = {
        "401": client.post("/api/engines/nope/stop"),
        "404": client.get("/api/engines/no-such-engine"),
        "404 run": client.get("/api/runs/999999"),
        "422 query": client.get("/api/items", params={"limit": "many"}),
        "422 body": client.post("/api/runs/scrape", json={"engine": ""}, headers=auth),
        "422 not json": client.post(
            "/api/runs/scrape",
            content=b"{not json",
            headers=auth | {"Content-Type": "application/json"},
        ),
    }
    for case, answer in answers.items():
        assert answer.status_code == int(case[:3]), (case, answer.text)
        body = ErrorOut.model_validate_json(answer.text, strict=True)
        if case.startswith("422"):
            assert isinstance(body.detail, list), case
            [first, *_] = body.detail
            assert first.loc[0] in {"query", "body"}, case
            assert first.msg, case
            assert first.type, case
        else:
            assert isinstance(body.detail, str), case
