"""Adding, changing, listing and testing watches: the checks the CLI and the API share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haystack_collector.db import Database
from haystack_collector.store import watches as store
from haystack_collector.store.watches import WatchRow
from haystack_collector.watch import channels
from haystack_collector.watch.deliver import Sender
from haystack_collector.watch.messages import sample
from haystack_collector.watch.model import WatchFilter, check_events, check_volatile

__all__ = ["WatchView", "change_watch", "create_watch", "send_sample", "view"]


@dataclass(frozen=True, slots=True)
class WatchView:
    """A watch as it may be shown: its channels masked."""

    watch_id: int
    name: str
    filter: dict[str, Any]
    described: str
    events: tuple[str, ...]
    volatile: dict[str, Any]
    channels: list[str]  # masked
    alerts: bool
    enabled: bool
    row: WatchRow


def view(row: WatchRow) -> WatchView:
    return WatchView(
        watch_id=row.watch_id,
        name=row.name,
        filter=row.filter,
        described=WatchFilter.from_dict(row.filter).describe(),
        events=row.events,
        volatile=row.volatile,
        channels=[channels.mask_channel(url) for url in row.channels],
        alerts=row.alerts,
        enabled=row.enabled,
        row=row,
    )


def create_watch(
    db: Database,
    *,
    name: str,
    filter: dict[str, Any],
    events: Sequence[str],
    channels_: Sequence[str],
    volatile: dict[str, Any] | None = None,
    alerts: bool = False,
    enabled: bool = True,
) -> WatchRow:
    """Check and store a watch (ConfigError, masked, for anything wrong); it tells of what
    happens from now on."""
    checked = WatchFilter.from_dict(filter)
    kinds = check_events(list(events))
    urls = channels.check_channels(list(channels_))
    rules = check_volatile(volatile or {})
    marks = db.run_read(store.current_marks)
    watch_id = db.run(
        store.add_watch,
        name=name.strip(),
        filter=checked.to_dict(),
        events=kinds,
        channels=urls,
        volatile=rules,
        alerts=alerts,
        enabled=enabled,
        last_version_id=marks[0],
        last_visit_id=marks[1],
    )
    return db.run_read(store.get_watch, watch_id=watch_id)


def change_watch(
    db: Database,
    *,
    watch_id: int,
    name: str | None = None,
    filter: dict[str, Any] | None = None,
    events: Sequence[str] | None = None,
    channels_: Sequence[str] | None = None,
    volatile: dict[str, Any] | None = None,
    alerts: bool | None = None,
    enabled: bool | None = None,
) -> WatchRow:
    """Check and store the given fields of a watch."""
    return db.run(
        store.update_watch,
        watch_id=watch_id,
        name=None if name is None else name.strip(),
        filter=None if filter is None else WatchFilter.from_dict(filter).to_dict(),
        events=None if events is None else check_events(list(events)),
        channels=None if channels_ is None else channels.check_channels(list(channels_)),
        volatile=None if volatile is None else check_volatile(volatile),
        alerts=alerts,
        enabled=enabled,
    )


def send_sample(watch: WatchRow, *, send: Sender = channels.send) -> list[tuple[str, str | None]]:
    """Send the sample message to each channel: (masked channel, error or None) each."""
    message = sample(watch.name)
    results = []
    for url in watch.channels:
        result = send(url, title=message.title, body=message.body)
        results.append((channels.mask_channel(url), None if result.ok else result.error))
    return results
