"""Engines: plugins that collect items, declared in code and discovered at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from haystack_collector.engines.registry import (
        ENTRY_POINT_GROUP,
        all_engines,
        discover,
        get_engine,
    )

# The registry imports every built-in engine and their parsers (feedparser, parsel, YAML):
# loaded on first use, so a process that runs one engine (`haystack crawl`) pays for that one.
_REGISTRY_NAMES = frozenset({"ENTRY_POINT_GROUP", "all_engines", "discover", "get_engine"})


def __getattr__(name: str) -> Any:
    if name in _REGISTRY_NAMES:
        from haystack_collector.engines import registry  # noqa: PLC0415 - lazy on purpose

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
