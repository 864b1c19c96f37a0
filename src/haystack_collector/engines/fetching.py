"""``FetchingEngine``: the base of every engine that fetches.

Its actions fetch through ``ctx.fetcher()``: the running loop's Fetcher of this engine, built
from the fetch settings the process's runtime hands down (see engines/fetchers.py and
runtime.py), never from a class variable. ``conditional_get`` is the one thing an engine says
about its fetchers itself.
"""

from __future__ import annotations

from typing import ClassVar

from haystack_collector.engines.base import Engine

__all__ = ["FetchingEngine"]


class FetchingEngine(Engine):
    """An engine whose actions fetch (see the module docstring)."""

    # False for engines that must read every body (a 304 has none) or keep validators in
    # ItemData themselves: their fetchers remember no ETag/Last-Modified.
    conditional_get: ClassVar[bool] = True
