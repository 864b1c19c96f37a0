"""Fetchers for integration tests: real sockets, no politeness delays unless a test asks."""

from __future__ import annotations

from typing import Any

from haystack_collector.fetch import Fetcher, FetchSettings


def fetcher(**overrides: Any) -> Fetcher:
    options: dict[str, Any] = {
        "min_delay": 0.0,
        "jitter": 0.0,
        "obey_robots": False,
        "retry_initial": 0.01,
        "retry_maximum": 2.0,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout": 5.0,
    }
    options.update(overrides)
    return Fetcher(FetchSettings(**options))
