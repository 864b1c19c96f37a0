"""Engines used by the tests (entry points in the tests point at this module)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from haystack_collector.engines import ActionContext, Engine, item_action, start_action
from haystack_collector.queue import Task
from haystack_collector.store import ItemRecord


class EchoSettings(BaseModel):
    seeds: list[str] = Field(default_factory=lambda: ["https://echo.test/a"])
    pages: int = Field(default=1, ge=1)


class Echo(Engine):
    """Stores its seed URIs and queues them for extraction; the extractor echoes the data."""

    name = "echo-test"
    version = "1.0"
    description = "A test engine"
    Settings = EchoSettings

    @start_action("echo-search", description="Store the seeds", params={"depth": 1})
    def search(self, ctx: ActionContext) -> None:
        assert isinstance(ctx.settings, EchoSettings)
        result = ctx.store_items([ItemRecord(uri=uri) for uri in ctx.settings.seeds])
        ctx.enqueue("echo-extract", [result.item_ids[uri] for uri in ctx.settings.seeds])
        ctx.log.info("stored %d seeds", len(ctx.settings.seeds))

    @item_action("echo-extract", description="Echo an item's URI into its data")
    async def extract(self, ctx: ActionContext, task: Task) -> None:
        await asyncio.sleep(0)
        ctx.store_items([ItemRecord(uri=task.uri, data={"echo": task.uri})])
        ctx.status(f"echoed {task.uri}")


class Broken(Engine):
    name = "broken-test"

    @start_action("broken-search")
    def search(self, ctx: ActionContext) -> None:
        ctx.store_items([ItemRecord(uri="https://broken.test/kept")])
        raise RuntimeError("the site changed its layout")

    @item_action("broken-extract")
    def extract(self, ctx: ActionContext, task: Task) -> None:
        raise ValueError(f"cannot parse {task.uri}")


class NotAnEngine:
    name = "nope"
