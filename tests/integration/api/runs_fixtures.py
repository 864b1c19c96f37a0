"""Test engines and helpers for the engines and runs API tests (and the run executor's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from haystack_collector.db import Database
from haystack_collector.engines import ActionContext, Engine, item_action, registry, start_action
from haystack_collector.engines.web_scraper import WebScraper
from haystack_collector.queue import Task
from haystack_collector.store import ItemRecord
from tests.integration.api.items_fixtures import Api
from tests.integration.api.items_fixtures import api_for as items_api_for

TOKEN_NAME = "runs-tester"
# A public address: accepted by the SSRF check without any DNS lookup.
PUBLIC_URL = "http://93.184.216.34/start"


class SeedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = PUBLIC_URL
    count: int = Field(default=3, ge=1, le=100)


class Seeds(Engine):
    """Two start actions: ``seed-many`` stores ``count`` items and queues them; ``seed-one``."""

    name = "runs-test-seeds"
    description = "Seeds items for the runs API tests"
    Settings = SeedSettings

    @start_action("seed-many", description="Store count items and queue them")
    def seed_many(self, ctx: ActionContext) -> None:
        settings = ctx.settings
        assert isinstance(settings, SeedSettings)
        ctx.log.info("seeding %d from %s", settings.count, settings.url)
        uris = [f"{settings.url}/{i}" for i in range(settings.count)]
        result = ctx.store_items([ItemRecord(uri=uri) for uri in uris])
        ctx.enqueue("visit", [result.item_ids[uri] for uri in uris])

    @start_action("seed-one", description="Store one item")
    def seed_one(self, ctx: ActionContext) -> None:
        settings = ctx.settings
        assert isinstance(settings, SeedSettings)
        ctx.store_items([ItemRecord(uri=f"{settings.url}/one")])

    @item_action("visit", description="Visit a seeded item")
    def visit(self, ctx: ActionContext, task: Task) -> None:
        ctx.store_items([ItemRecord(uri=task.uri, data={"visited": True})])


class Gate:
    """Holds the ``runs-test-slow`` engine's start action until the test opens it."""

    entered = threading.Event()
    release = threading.Event()

    @classmethod
    def reset(cls) -> None:
        cls.entered = threading.Event()
        cls.release = threading.Event()


class Slow(Engine):
    """A start action that waits at the gate (at most 10 s), then stores one item."""

    name = "runs-test-slow"

    @start_action("wait")
    def wait(self, ctx: ActionContext) -> None:
        Gate.entered.set()
        Gate.release.wait(10)
        ctx.store_items([ItemRecord(uri="https://slow.test/done")])


class Failing(Engine):
    """A start action that stores an item, then fails."""

    name = "runs-test-failing"

    @start_action("fail")
    def fail(self, ctx: ActionContext) -> None:
        ctx.store_items([ItemRecord(uri="https://failing.test/before")])
        raise RuntimeError("the source is gone")


TEST_ENGINES: list[type[Engine]] = [WebScraper, Seeds, Slow, Failing]


@contextmanager
def installed_engines(
    monkeypatch: pytest.MonkeyPatch, engines: list[type[Engine]] | None = None
) -> Iterator[None]:
    """The registry knows exactly ``engines`` (TEST_ENGINES by default) for the block."""
    monkeypatch.setattr(registry, "BUILTIN_ENGINES", TEST_ENGINES if engines is None else engines)
    monkeypatch.setattr(registry, "engine_entry_points", list)
    registry.discover(refresh=True)
    Gate.reset()
    try:
        yield
    finally:
        Gate.release.set()  # never leave a runner's thread waiting
        monkeypatch.undo()
        registry.discover(refresh=True)


@contextmanager
def api_for(db: Database, **overrides: Any) -> Iterator[Api]:
    """``items_fixtures.api_for`` with a token named ``TOKEN_NAME`` (runs record who asked)."""
    with items_api_for(db, token_name=TOKEN_NAME, **overrides) as api:
        yield api
