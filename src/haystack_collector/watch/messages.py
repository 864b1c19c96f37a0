"""The messages: one digest per watch for everything due, and the system alerts' text.

A digest's title says how many of each event ("[haystack] berlin: 3 new, 1 changed"); its body
lists each item with its title, link and the fields that matter, and for a change the diff,
up to ``MAX_LISTED`` items (then how many more there are).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haystack_collector.store.watches import NotificationRow

__all__ = ["MAX_LISTED", "Message", "digest", "sample"]

MAX_LISTED = 50
MAX_DIFF_LINES = 40
_LABELS = {"new": "NEW", "changed": "CHANGED", "gone": "GONE"}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str


def digest(watch: str, rows: Sequence[NotificationRow]) -> Message:
    """One message telling everything in ``rows`` (a watch's due notifications)."""
    alerts = [row for row in rows if row.event.startswith("alert:")]
    items = [row for row in rows if not row.event.startswith("alert:")]
    counts = Counter(row.event for row in items)
    parts = [f"{counts[event]} {event}" for event in ("new", "changed", "gone") if counts[event]]
    if alerts:
        parts.append(f"{len(alerts)} alert{'s' if len(alerts) > 1 else ''}")
    title = f"[haystack] {watch}: {', '.join(parts)}"
    lines: list[str] = []
    for row in alerts[:MAX_LISTED]:
        lines += _alert(row.detail)
    for row in items[: max(MAX_LISTED - len(alerts), 0)]:
        lines += _item(row)
    listed = min(len(alerts), MAX_LISTED) + min(len(items), max(MAX_LISTED - len(alerts), 0))
    if len(rows) > listed:
        lines.append(f"... and {len(rows) - listed} more.")
    return Message(title, "\n".join(lines).rstrip())


def _item(row: NotificationRow) -> list[str]:
    detail: dict[str, Any] = row.detail
    label = _LABELS.get(row.event, row.event.upper())
    title = detail.get("title") or detail.get("uri") or f"item {row.item_id}"
    lines = [f"{label}: {title}", f"  {detail.get('uri', '')}"]
    for key, value in (detail.get("fields") or {}).items():
        text = " ".join(str(value).split())
        lines.append(f"  {key}: {text[:300]}")
    diff = detail.get("diff")
    if diff:
        shown = list(diff)[:MAX_DIFF_LINES]
        lines += [f"  {line}" for line in shown]
        if len(diff) > len(shown):
            lines.append(f"  ... {len(diff) - len(shown)} more changed lines")
    lines.append("")
    return lines


def _alert(detail: dict[str, Any]) -> list[str]:
    return [f"ALERT: {detail.get('title', 'system alert')}", f"  {detail.get('text', '')}", ""]


def sample(watch: str) -> Message:
    """The message ``haystack watch test`` sends: what a digest looks like."""
    return Message(
        f"[haystack] {watch}: test message",
        "This is a test from Haystack: this channel will receive the digests of the watch"
        f" {watch!r}.\n",
    )
