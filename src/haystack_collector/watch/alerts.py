"""System alerts, through the channels of the watches flagged ``alerts``.

An engine run that failed, events that went dead and a host whose circuit breaker stayed open
longer than a threshold are recorded in the outbox like any notification (item 0, or the
host's key for a breaker; event ``alert:...``; version: the run's or event's id, or when the
breaker was first seen open), so each is told once and retried like the rest.

That the database is unreachable cannot be recorded in it: that alert is sent straight away
to the alert channels of the settings and those of the alert watches last read, at most once
per ``db_alert_every`` seconds in this process.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from haystack_collector.db import Database
from haystack_collector.logs import get_logger
from haystack_collector.masking import mask_text
from haystack_collector.store import watches as store
from haystack_collector.store.watches import AlertSource, NewNotification
from haystack_collector.store.workers import current_hosts
from haystack_collector.watch import channels

__all__ = ["Alerts"]

log = get_logger("haystack.watch")

LOOKBACK = timedelta(days=1)  # a new alert watch hears of what failed this long before it


class Alerts:
    """Raises the system alerts of one process (see the module)."""

    def __init__(
        self,
        *,
        channels: Sequence[str] = (),
        breaker_after: float = 600.0,
        db_alert_every: float = 900.0,
        send: Callable[..., channels.SendResult] = channels.send,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings_channels = list(channels)
        self.breaker_after = breaker_after
        self.db_alert_every = db_alert_every
        self.send = send
        self.clock = clock
        self._known_channels: list[str] = []  # the alert watches' channels, last read
        self._open_since: dict[str, tuple[float, datetime]] = {}
        self._last_db_alert: float | None = None
        self._lock = threading.Lock()

    def collect(self, db: Database, *, now: datetime | None = None) -> int:
        """Record the alerts due for every alert watch; returns rows added to the outbox."""
        moment = now or datetime.now(UTC)
        targets = db.run_read(store.list_watches, enabled=True, alerts=True)
        self._known_channels = [url for watch in targets for url in watch.channels]
        breakers = self._breakers(db.run_read(current_hosts), moment)
        if not targets:
            return 0
        found: list[NewNotification] = []
        for watch in targets:
            since = max(watch.created or moment, moment - LOOKBACK)
            sources: list[tuple[str, int, AlertSource]] = [
                ("alert:run_failed", 0, each)
                for each in db.run_read(store.failed_runs_since, since=since)
            ]
            sources += [
                ("alert:dead", 0, each)
                for each in db.run_read(store.dead_events_since, since=since)
            ]
            sources += breakers
            found += [
                NewNotification(
                    watch.watch_id, key, event, each.key, {"title": each.title, "text": each.text}
                )
                for event, key, each in sources
            ]
        return db.run(store.record_notifications, found) if found else 0

    def _breakers(
        self, hosts: dict[str, dict[str, object]], now: datetime
    ) -> list[tuple[str, int, AlertSource]]:
        """Hosts whose breaker has been open (as this process saw it) past the threshold."""
        tick = self.clock()
        open_now = {host for host, info in hosts.items() if info.get("breaker") == "open"}
        for host in list(self._open_since):
            if host not in open_now:
                del self._open_since[host]
        found = []
        for host in sorted(open_now):
            first, seen = self._open_since.setdefault(host, (tick, now))
            if tick - first >= self.breaker_after:
                minutes = int((tick - first) // 60)
                found.append(
                    (
                        "alert:breaker",
                        zlib.crc32(host.encode()) & 0x7FFFFFFF,
                        AlertSource(
                            int(seen.timestamp()),
                            f"the circuit breaker of {host} stayed open",
                            f"{host}: open for {minutes} min or more (since about"
                            f" {seen.isoformat(timespec='seconds')}); its requests are refused",
                        ),
                    )
                )
        return found

    def database_down(self, error: str) -> bool:
        """Tell the alert channels the database is unreachable, at most once per
        ``db_alert_every`` seconds; True if it was sent somewhere."""
        targets = list(dict.fromkeys([*self.settings_channels, *self._known_channels]))
        with self._lock:
            tick = self.clock()
            if self._last_db_alert is not None and tick - self._last_db_alert < self.db_alert_every:
                return False
            self._last_db_alert = tick
        if not targets:
            log.error("the database is unreachable and no alert channel is known: %s", error)
            return False
        title = "[haystack] alert: the database is unreachable"
        moment = datetime.now(UTC).isoformat(timespec="seconds")
        body = (
            f"Haystack could not reach its database at {moment}:\n  {mask_text(error)[:500]}\n"
            "Watches and their notifications wait until it is back.\n"
        )
        delivered = False
        for url in targets:
            result = self.send(url, title=title, body=body)
            delivered = delivered or result.ok
            if not result.ok:
                log.warning(
                    "the database alert to %s failed: %s", channels.mask_channel(url), result.error
                )
        return delivered
