"""The notifier: the runtime part that evaluates the watches and delivers their outbox.

Built from the settings by ``Runtime`` (like the scheduler) in every process that runs a
worker; each pass, every ``notify_every`` seconds, evaluates every watch, records the system
alerts and delivers what is due. Several processes may run one each: the outbox's claims and
the watches' compare-and-set marks keep every notification to one sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from secrets import token_hex

from haystack_collector.db import Database
from haystack_collector.errors import DatabaseConnectionError
from haystack_collector.logs import get_logger
from haystack_collector.settings import Settings
from haystack_collector.store import watches as store
from haystack_collector.watch import channels
from haystack_collector.watch.alerts import Alerts
from haystack_collector.watch.deliver import DeliveryPolicy, DeliveryStats, Sender, deliver_due
from haystack_collector.watch.evaluate import SETTLE, Evaluation, evaluate_watches

__all__ = ["Notifier", "NotifyPass"]

log = get_logger("haystack.watch")

_STOP_CHECK_S = 0.25


@dataclass(slots=True)
class NotifyPass:
    evaluations: list[Evaluation] = field(default_factory=list)
    alerts: int = 0
    delivery: DeliveryStats = field(default_factory=DeliveryStats)
    database_down: bool = False


class Notifier:
    """Evaluates watches, records alerts and delivers, a pass at a time (see the module)."""

    def __init__(
        self,
        db: Database,
        *,
        policy: DeliveryPolicy | None = None,
        every: float = 60.0,
        alerts: Alerts | None = None,
        owner: str | None = None,
        send: Sender = channels.send,
        settle: float = SETTLE.total_seconds(),
    ) -> None:
        self.db = db
        self.settle = timedelta(seconds=settle)
        self.policy = policy or DeliveryPolicy()
        self.every = every
        self.alerts = alerts or Alerts(send=send)
        # Unique per notifier, so two in one process never take each other's claims.
        self.owner = owner or f"notifier@{socket.gethostname()}:{os.getpid()}:{token_hex(4)}"[-90:]
        self.send = send
        self._stop = threading.Event()

    def run_once(self, now: datetime | None = None) -> NotifyPass:
        """One pass; a database that cannot be reached raises the direct alert instead."""
        moment = now or datetime.now(UTC)
        done = NotifyPass()
        try:
            done.evaluations = evaluate_watches(self.db, now=moment, settle=self.settle)
            done.alerts = self.alerts.collect(self.db, now=moment)
            done.delivery = deliver_due(
                self.db, owner=self.owner, policy=self.policy, now=moment, send=self.send
            )
        except DatabaseConnectionError as error:
            log.error("notifier: the database is unreachable: %s", error)
            done.database_down = True
            self.alerts.database_down(str(error))
        return done

    async def run(self) -> None:
        """Passes every ``every`` seconds until ``stop`` (``haystack serve``'s loop)."""
        self._stop.clear()
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:  # one bad pass must not end the part
                log.exception("notifier: a pass failed")
            # Waiting holds no thread of the loop's executor (the API and the worker share it):
            # the stop flag is looked at a few times a second.
            until = loop.time() + self.every
            while not self._stop.is_set() and loop.time() < until:
                await asyncio.sleep(min(_STOP_CHECK_S, max(until - loop.time(), 0.0)))

    def final_pass(self) -> NotifyPass:
        """The pass after a drain: once what was just written has settled, so it is told now."""
        if self.settle and self.db.run_read(store.list_watches, enabled=True):
            time.sleep(self.settle.total_seconds())
        return self.run_once()

    def stop(self) -> None:
        self._stop.set()

    @contextlib.contextmanager
    def running_in_thread(self) -> Iterator[Notifier]:
        """Passes in a thread of its own for the block (``haystack worker``)."""
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.run_once()
                except Exception:
                    log.exception("notifier: a pass failed")
                self._stop.wait(self.every)

        thread = threading.Thread(target=loop, name="haystack-notifier", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def notifier_from_settings(
    db: Database, settings: Settings, *, send: Sender = channels.send
) -> Notifier:
    """The notifier the ``notify_*`` settings describe."""
    return Notifier(
        db,
        policy=DeliveryPolicy(
            max_attempts=settings.notify_max_attempts,
            backoff_initial=settings.notify_backoff,
            lease=settings.notify_lease,
            digest_interval=settings.notify_digest_interval,
        ),
        every=settings.notify_every,
        settle=settings.notify_settle,
        alerts=Alerts(
            channels=settings.notify_alert_channels,
            breaker_after=settings.notify_breaker_alert_after,
            db_alert_every=settings.notify_db_alert_every,
            send=send,
        ),
        send=send,
    )
