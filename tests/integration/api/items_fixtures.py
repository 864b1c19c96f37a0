"""Builders for the items and admin API tests: many items fast, and a client with a token."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from haystack_collector import store
from haystack_collector.api.app import create_app
from haystack_collector.db import Database
from haystack_collector.settings import Settings
from haystack_collector.store.batch import ItemRecord
from haystack_collector.store.tokens import create_token
from haystack_collector.store.values import ItemValue
from tests.integration.api.core_fixtures import LOCAL_URL

_runs = itertools.count(1)
BATCH = 1_000


def make_items(
    db: Database,
    count: int,
    *,
    engine_id: int | None = None,
    data: Callable[[int], Mapping[str, ItemValue]] | None = None,
    prefix: str | None = None,
) -> list[int]:
    """Store ``count`` items in batches (``store.store_items``); their ids, in creation order.

    Item ``n`` (from 0) gets ``data(n)``, by default a Title "Item n".
    """
    base = prefix or f"https://items.test/run{next(_runs)}"
    shape = data or (lambda n: {"Title": f"Item {n}"})
    ids: list[int] = []
    for start in range(0, count, BATCH):
        records = [
            ItemRecord(uri=f"{base}/{n}", data=dict(shape(n)))
            for n in range(start, min(start + BATCH, count))
        ]
        result = db.run(store.store_items, engine_id=engine_id, records=records)
        ids.extend(result.item_ids[record.uri] for record in records)
    return ids


def api_settings(**overrides: Any) -> Settings:
    """Settings whose rate limit no test reaches; the database is passed to the app apart."""
    values: dict[str, Any] = {
        "database_url": "sqlite:///unused-by-the-api.db",
        "api_rate_limit": 100_000.0,
        "api_rate_burst": 100_000,
    }
    return Settings(**(values | overrides))


@dataclass
class Api:
    """A client on loopback (reads open by default) and a valid token's header."""

    client: TestClient
    auth: dict[str, str]
    db: Database


@contextmanager
def api_for(db: Database, *, token_name: str | None = None, **overrides: Any) -> Iterator[Api]:
    """An app on ``db`` with ``overrides`` of ``api_settings``, and a token named ``token_name``."""
    secret = db.run(create_token, name=token_name or f"items-test-{next(_runs)}")
    app = create_app(api_settings(**overrides), db)
    with TestClient(app, base_url=LOCAL_URL, client=("127.0.0.1", 50000)) as client:
        yield Api(client, {"Authorization": f"Bearer {secret}"}, db)


def walk(client: TestClient, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every item of a list, following ``next`` page by page."""
    found: list[dict[str, Any]] = []
    query = dict(params or {})
    while True:
        response = client.get("/api/items", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["items"])
        if body["next"] is None:
            return found
        query["cursor"] = body["next"]
