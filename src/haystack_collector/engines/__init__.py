"""Engines: plugins that collect items, declared in code and discovered at start-up."""

from __future__ import annotations

from haystack_collector.engines.base import (
    ActionContext,
    ActionResult,
    ActionSpec,
    Engine,
    NoSettings,
    RegisteredEngine,
    item_action,
    run_item_action,
    run_item_action_async,
    run_start_actions,
    start_action,
)
from haystack_collector.engines.registry import (
    ENTRY_POINT_GROUP,
    all_engines,
    discover,
    get_engine,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "ActionResult",
    "ActionSpec",
    "Engine",
    "NoSettings",
    "RegisteredEngine",
    "all_engines",
    "discover",
    "get_engine",
    "item_action",
    "run_item_action",
    "run_item_action_async",
    "run_start_actions",
    "start_action",
]
