"""The HTTP API and web UI: thin FastAPI routes over keyword-only store functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from haystack_collector.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the command line mounts api.tokens_cli, and must not load
    # FastAPI for it (`haystack crawl` and `haystack worker` never serve the API).
    if name == "create_app":
        from haystack_collector.api.app import create_app  # noqa: PLC0415

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
