"""The re-visiter: the runtime part that queues due re-visits when their policy's tick fires.

Policies are stored as schedules (``store.revisits``), so the scheduler claims each due tick
exactly once across every scheduler sharing the database, and hands a re-visit policy's tick
here instead of running the engine's start actions. One tick queues, in one transaction, the
re-visit event of at most ``batch`` due items of the policy's engine (the policy's own batch,
else ``HAYSTACK_REVISIT_BATCH``); the workers then run them like any other event.

A crawl's policy (``revisit:crawl:ROOT``) reads its age from the crawl's own spec on its root
item, where ``haystack crawl --revisit-every/--revisit-older-than`` stored it: the policy row
only times it. Its pages are re-visited by ``webScraper``'s ``WebRevisit`` action with the
crawl's own fetch choices, and the links they newly show join the same crawl.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import Engine
from haystack_collector.errors import ConfigError
from haystack_collector.logs import get_logger
from haystack_collector.store.revisits import DueScope, RevisitPolicy, policy_of, queue_revisits
from haystack_collector.store.values import ItemValue

if TYPE_CHECKING:
    from haystack_collector.store.schedules import ScheduleRow

__all__ = ["DEFAULT_BATCH", "Revisiter", "RevisitsOff", "format_duration", "parse_duration"]

log = get_logger("haystack.revisits")

# Items queued per policy tick when neither the policy nor HAYSTACK_REVISIT_BATCH says.
DEFAULT_BATCH = 500

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)\s*([smhdw]?)")


class RevisitsOff(Exception):
    """A policy's tick that this process does not run (its engine is disabled or unknown)."""


def parse_duration(text: str) -> int:
    """``"90"``, ``"30m"``, ``"24h"``, ``"1d12h"``, ``"2w"`` as whole seconds."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned or _DURATION.sub("", cleaned):
        raise ConfigError(f"not a duration: {text!r} (say 90, 30m, 24h, 1d12h or 2w)")
    return sum(int(n) * _UNITS[unit or "s"] for n, unit in _DURATION.findall(cleaned))


def format_duration(seconds: int) -> str:
    """The shortest ``1d12h`` spelling of ``seconds``."""
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


class Revisiter:
    """Queues the due items of a re-visit policy's tick (see the module docstring)."""

    def __init__(
        self, db: Database, engines: Sequence[type[Engine]], *, batch: int = DEFAULT_BATCH
    ) -> None:
        self.db = db
        self.engines = {engine.name: engine for engine in engines}
        self.batch = batch

    def fire(self, schedule: ScheduleRow, due: datetime | None = None) -> int:
        """Queue the policy's due items; returns how many this tick queued."""
        policy = policy_of(schedule)
        row = self.db.run_read(store.get_engine, engine_id=policy.engine_id)
        engine = None if row is None else self.engines.get(row.name)
        if engine is None or engine.revisit is None:
            name = row.name if row is not None else policy.engine_id
            raise RevisitsOff(f"engine {name!r} does not re-visit in this process")
        registered = engine.register(self.db)
        if self.db.run_read(store.is_engine_disabled, engine_id=registered.engine_id):
            raise RevisitsOff(f"engine {engine.name!r} is disabled")
        older_than, match = policy.older_than, _match(policy)
        if policy.crawl is not None:
            older_than = self._crawl_age(policy)
        spec = engine.revisit
        scope = DueScope(
            engine_id=registered.engine_id,
            revisit_action=registered.action_ids[spec.action],
            collect_action=(
                None if spec.collect_action is None else registered.action_ids[spec.collect_action]
            ),
            marker=spec.marker,
            match=match,
        )
        queued = self.db.run(
            queue_revisits, scope=scope, older_than=older_than, limit=policy.batch or self.batch
        )
        message = (
            f"re-visit {policy.name}: queued {queued} item(s) last seen over"
            f" {format_duration(older_than)} ago"
        )
        log.info("%s", message)
        if queued:
            self.db.run(store.add_status, message=message, engine_id=registered.engine_id)
        return queued

    def _crawl_age(self, policy: RevisitPolicy) -> int:
        """The crawl's own re-visit age, from its spec (the policy only times it)."""
        from haystack_collector.engines.web_scraper import crawl_revisit  # noqa: PLC0415

        assert policy.crawl is not None
        chosen = self.db.run_read(crawl_revisit, root_id=policy.crawl)
        if chosen is None:
            raise RevisitsOff(f"crawl {policy.crawl} no longer re-visits its pages")
        return chosen[1]


def _match(policy: RevisitPolicy) -> tuple[str, ItemValue] | None:
    if policy.crawl is not None:
        from haystack_collector.store.crawl import CRAWL_ROOT  # noqa: PLC0415

        return (CRAWL_ROOT, policy.crawl)
    if policy.site is not None:
        return ("Site", policy.site)
    return None
