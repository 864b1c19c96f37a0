"""Working through the outbox: one digest per watch, each row sent at most once.

A pass first turns rows left ``sending`` past the lease into ``uncertain`` (their deliverer
died mid-send; they are shown, never sent again on their own). Then, for each watch with due
rows (and whose last digest is at least the digest interval old), it claims them (committed
before anything is sent), sends one digest to each channel that has not had them yet, and
settles them: ``sent``, back to ``pending`` with a later attempt time (backoff), or ``failed``
once the attempts are used up. A channel that took a digest is remembered on its rows, so a
retry goes only to the channels that failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from haystack_collector.db import Database
from haystack_collector.logs import get_logger
from haystack_collector.resilience import RetryPolicy, backoff_delay
from haystack_collector.store import watches as store
from haystack_collector.store.watches import NotificationRow, WatchRow
from haystack_collector.watch import channels
from haystack_collector.watch.messages import digest

__all__ = ["DeliveryPolicy", "DeliveryStats", "deliver_due"]

log = get_logger("haystack.watch")

Sender = Callable[..., channels.SendResult]
MAX_DIGEST = 1_000  # rows in one digest; more wait for the next one


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How the outbox is worked through (from the settings, see docs/configuration.md)."""

    max_attempts: int = 5
    backoff_initial: float = 30.0  # seconds before the first retry; doubling from there
    backoff_max: float = 3600.0
    lease: float = 300.0  # a row still sending after this was lost with its deliverer
    digest_interval: float = 0.0  # 0: a digest per pass (per run); else at most one per this

    def retry_at(self, attempt: int, now: datetime) -> datetime:
        policy = RetryPolicy(
            attempts=self.max_attempts,
            initial=self.backoff_initial,
            maximum=max(self.backoff_max, self.backoff_initial),
            jitter=False,
        )
        return now + timedelta(seconds=backoff_delay(policy, attempt))


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_due(
    db: Database,
    *,
    owner: str,
    policy: DeliveryPolicy,
    now: datetime | None = None,
    send: Sender = channels.send,
) -> DeliveryStats:
    """Send every watch's due notifications as one digest per watch; see the module."""
    moment = now or datetime.now(UTC)
    stats = DeliveryStats()
    stats.uncertain = db.run(
        store.mark_uncertain, older_than=moment - timedelta(seconds=policy.lease)
    )
    if stats.uncertain:
        log.warning(
            "%d notification(s) were being sent when their deliverer stopped: marked uncertain,"
            " not sent again (see GET /api/notifications?status=uncertain)",
            stats.uncertain,
        )
    for watch_id in db.run_read(store.watches_with_due, now=moment):
        watch = db.run_read(store.get_watch, watch_id=watch_id)
        if not watch.enabled or not _digest_due(watch, policy, moment):
            continue
        rows = db.run(
            store.claim_notifications, watch_id=watch_id, owner=owner, now=moment, limit=MAX_DIGEST
        )
        if rows:
            _deliver(
                db, watch, rows, owner=owner, policy=policy, now=moment, send=send, stats=stats
            )
    return stats


def _digest_due(watch: WatchRow, policy: DeliveryPolicy, now: datetime) -> bool:
    if policy.digest_interval <= 0 or watch.last_digest is None:
        return True
    return (now - watch.last_digest).total_seconds() >= policy.digest_interval


def _deliver(
    db: Database,
    watch: WatchRow,
    rows: list[NotificationRow],
    *,
    owner: str,
    policy: DeliveryPolicy,
    now: datetime,
    send: Sender,
    stats: DeliveryStats,
) -> None:
    done = {row.notification_id: set(row.channels_done) for row in rows}
    errors: list[str] = []
    for index, url in enumerate(watch.channels):
        waiting = [row for row in rows if index not in done[row.notification_id]]
        if not waiting:
            continue
        message = digest(watch.name, waiting)
        result = send(url, title=message.title, body=message.body)
        shown = channels.mask_channel(url)
        if result.ok:
            stats.digests += 1
            for row in waiting:
                done[row.notification_id].add(index)
            log.info("watch %s: sent a digest of %d to %s", watch.name, len(waiting), shown)
        else:
            errors.append(result.error or f"{shown}: failed")
            log.warning("watch %s: sending to %s failed: %s", watch.name, shown, result.error)
    wanted = set(range(len(watch.channels)))
    sent = [row.notification_id for row in rows if wanted <= done[row.notification_id]]
    retry: list[tuple[int, datetime]] = []
    failed: list[int] = []
    for row in rows:
        if row.notification_id in sent:
            continue
        attempt = row.attempts + 1
        if attempt >= policy.max_attempts:
            failed.append(row.notification_id)
        else:
            retry.append((row.notification_id, policy.retry_at(attempt, now)))
    error = "; ".join(errors)[:2_000] or None
    db.run(
        store.finish_notifications,
        owner=owner,
        sent=sent,
        retry=retry,
        failed=failed,
        channels_done={key: sorted(value) for key, value in done.items()},
        error=error,
        now=now,
        watch_id=watch.watch_id,
    )
    stats.sent += len(sent)
    stats.retried += len(retry)
    stats.failed += len(failed)
    if error:
        stats.errors.append(error)
    if failed:
        log.error(
            "watch %s: %d notification(s) failed for good after %d attempts: %s",
            watch.name,
            len(failed),
            policy.max_attempts,
            error,
        )
