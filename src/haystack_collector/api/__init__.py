"""The HTTP API and web UI: thin FastAPI routes over keyword-only store functions."""

from __future__ import annotations

from haystack_collector.api.app import create_app

__all__ = ["create_app"]
