"""Which engines exist: the built-in ones and those installed as entry points.

A package adds engines by declaring entry points in the group ``haystack_collector.engines``
whose values are ``Engine`` subclasses::

    [project.entry-points."haystack_collector.engines"]
    craigslist = "haystack_craigslist:Craigslist"

A broken entry point (it fails to import, or is not an Engine) is logged and skipped: one bad
plugin must not stop the collector. Built-in engines win over entry points of the same name.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Sequence

from haystack_collector.engines.base import Engine
from haystack_collector.engines.craigslist import Craigslist
from haystack_collector.engines.file_downloader import FileDownloader
from haystack_collector.engines.file_scanner import FileScanner
from haystack_collector.engines.haystack_folder import HaystackFolder
from haystack_collector.engines.rss import Rss
from haystack_collector.engines.sites import Sites
from haystack_collector.engines.web_form import WebForm
from haystack_collector.engines.web_scraper import WebScraper
from haystack_collector.errors import NotFoundError
from haystack_collector.logs import get_logger

ENTRY_POINT_GROUP = "haystack_collector.engines"

# Engines shipped with Haystack itself (test engines live in the tests).
BUILTIN_ENGINES: list[type[Engine]] = [
    Craigslist,
    FileDownloader,
    FileScanner,
    HaystackFolder,
    Rss,
    Sites,
    WebForm,
    WebScraper,
]

log = get_logger("haystack.engines.registry")
_lock = threading.Lock()
_cache: dict[str, type[Engine]] | None = None


def engine_entry_points() -> Sequence[importlib.metadata.EntryPoint]:
    """The installed entry points of the engines group (tests replace this function)."""
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def discover(*, refresh: bool = False) -> dict[str, type[Engine]]:
    """Every engine by name: built-ins, then entry points; cached until ``refresh``."""
    global _cache  # noqa: PLW0603 - one process-wide registry, guarded by _lock
    with _lock:
        if _cache is None or refresh:
            _cache = _discover()
        return dict(_cache)


def all_engines() -> list[type[Engine]]:
    return [engine for _name, engine in sorted(discover().items())]


def get_engine(name: str) -> type[Engine]:
    engine = discover().get(name)
    if engine is None:
        known = ", ".join(sorted(discover())) or "none"
        raise NotFoundError(f"no engine named {name!r} (known engines: {known})")
    return engine


def _discover() -> dict[str, type[Engine]]:
    found: dict[str, type[Engine]] = {}
    for engine in BUILTIN_ENGINES:
        found[engine.name] = engine
    for entry_point in engine_entry_points():
        try:
            loaded = entry_point.load()
        except Exception as error:  # a plugin's import can fail in any way
            log.error(
                "skipping engine entry point %s = %s: %s: %s",
                entry_point.name,
                entry_point.value,
                type(error).__name__,
                error,
            )
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, Engine) and loaded.name):
            log.error(
                "skipping engine entry point %s = %s: not a named Engine subclass",
                entry_point.name,
                entry_point.value,
            )
            continue
        if loaded.name in found:
            if found[loaded.name] is not loaded:
                log.warning(
                    "skipping engine entry point %s: engine %r is already provided",
                    entry_point.name,
                    loaded.name,
                )
            continue
        found[loaded.name] = loaded
    return found
