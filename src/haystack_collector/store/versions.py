"""Item versions: the values an item had before its meaning changed (table ``ItemVersions``).

``ItemData`` always holds an item's current values. When a write replaces data of an existing
item (``store_items``, ``set_item_data``, the crawl's page writer) and the item's *meaning*
changes (``store.meaning``: bookkeeping, fetch times, validators and, for a page, its markup
do not count), the values it had are kept here as one row, in the same transaction. An item's
versions are numbered 1, 2, 3... and its current values are version ``max(version) + 1``
(version 1 while it has no row). A first store writes no row, and neither does a write whose
previous data meant nothing yet (a crawl target known only by its ``Depth``): a first crawl
pays for one read per batch and nothing more.

A row keeps the data as ``{key: [[text, tag], ...]}`` (``store.values.encode``), except a
page's ``MainText``, which goes to ``versionText``. ``validFrom`` is the previous version's
``validTo`` (for version 1: when the item was created); ``validTo`` is when the change was
stored.

Retention (``Retention``, set from ``HAYSTACK_VERSIONS_KEEP`` and
``HAYSTACK_VERSIONS_MAX_AGE`` by ``configure_retention``) is applied to an item whenever a
version of it is written, and to every item by ``prune_versions``. ``keep`` 0 keeps no
versions at all (nothing is read or written). Age pruning never drops an item's newest kept
version, so version numbers never run backwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, bindparam, delete, func, select
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import item_data, items
from haystack_collector.db.schema import item_versions as versions_table
from haystack_collector.store._sql import (
    bulk_insert,
    chunks,
    from_db,
    param_converter,
    to_db,
    utcnow,
)
from haystack_collector.store.meaning import MAIN_TEXT, Encoded, meaning_digest
from haystack_collector.store.values import ItemValue, decode

__all__ = [
    "DEFAULT_KEEP",
    "ItemVersion",
    "Retention",
    "configure_retention",
    "current_rows",
    "current_version",
    "get_version",
    "item_versions",
    "prune_versions",
    "record_changes",
    "retention",
    "retention_of",
    "versions_since",
]

DEFAULT_KEEP: Final = 50

# An item's data as stored: key -> its values in sequence order, encoded.
EncodedData = dict[str, list[Encoded]]


@dataclass(frozen=True, slots=True)
class Retention:
    """How many earlier versions each item keeps, and for how long (None: no age limit)."""

    keep: int = DEFAULT_KEEP
    max_age: timedelta | None = None

    def __post_init__(self) -> None:
        if self.keep < 0:
            raise ValueError("versions to keep cannot be negative")
        if self.max_age is not None and self.max_age <= timedelta(0):
            raise ValueError("the maximum age of versions must be positive")


def retention_of(keep: int, max_age_days: float | None) -> Retention:
    """The policy the settings ``versions_keep`` and ``versions_max_age`` (days) describe."""
    return Retention(keep, None if max_age_days is None else timedelta(days=max_age_days))


_configured: Retention | None = None


def configure_retention(policy: Retention | None) -> None:
    """Use ``policy`` from now on in this process (None: the defaults)."""
    global _configured  # noqa: PLW0603 - one value per process, set where settings are loaded
    _configured = policy


def retention() -> Retention:
    return _configured if _configured is not None else Retention()


@dataclass(frozen=True, slots=True)
class ItemVersion:
    """One version of an item; ``current`` is the one in ItemData (no row, no ``valid_to``)."""

    item_id: int
    version: int
    valid_from: datetime | None
    valid_to: datetime | None
    digest: str | None
    data: dict[str, list[ItemValue]] = field(default_factory=dict)
    text: str | None = None  # the main text, when the page kept one
    current: bool = False
    version_id: int | None = None


# --- the write hook -----------------------------------------------------------------------


def current_rows(conn: Connection, item_ids: Iterable[int]) -> dict[int, EncodedData]:
    """The items' data as stored, encoded (one query per 500 items); {} when versions are off."""
    wanted = sorted(set(item_ids))
    found: dict[int, EncodedData] = {item_id: {} for item_id in wanted}
    if not wanted or retention().keep == 0:
        return {}
    d = item_data.c
    for part in chunks(wanted):
        rows = conn.execute(
            select(d.itemId, d.itemData, d.itemDataValue, d.itemDataType)
            .where(d.itemId.in_(part))
            .order_by(d.itemId, d.itemData, d.itemDataSeq, d.ItemDataId)
        )
        for item_id, key, text, tag in rows:
            found[item_id].setdefault(key, []).append((text, tag))
    return found


def record_changes(
    conn: Connection,
    *,
    before: Mapping[int, EncodedData],
    replaced: Mapping[int, Mapping[str, list[Encoded]]],
    now: datetime | None = None,
) -> dict[int, int]:
    """Keep ``before`` as a version of each item whose meaning ``replaced`` changes.

    ``replaced`` holds, by item, the keys the write replaced with their new values; keys it
    does not name keep their ``before`` values. Returns ``{item id: version kept}``.
    """
    changed: dict[int, EncodedData] = {}
    digests: dict[int, str] = {}
    for item_id, old in before.items():
        old_digest = meaning_digest(old)
        if old_digest is None:  # nothing was known about it yet: a first store
            continue
        new = {**old, **replaced.get(item_id, {})}
        if meaning_digest(new) != old_digest:
            changed[item_id] = old
            digests[item_id] = old_digest
    if not changed:
        return {}
    when = now or utcnow()
    starts = _version_starts(conn, changed)
    to_time = param_converter(conn, versions_table.c.validTo)
    rows: list[tuple[Any, ...]] = []
    kept: dict[int, int] = {}
    for item_id, old in changed.items():
        number, valid_from = starts[item_id]
        text = _main_text(old)
        stored = {key: values for key, values in old.items() if key != MAIN_TEXT or text is None}
        rows.append(
            (
                item_id,
                number,
                to_time(to_db(valid_from)),
                to_time(when),
                json.dumps(stored, ensure_ascii=False, separators=(",", ":")),
                text,
                digests[item_id],
            )
        )
        kept[item_id] = number
    bulk_insert(
        conn,
        versions_table,
        (
            "itemId",
            "version",
            "validFrom",
            "validTo",
            "versionData",
            "versionText",
            "versionDigest",
        ),
        rows,
    )
    _apply_retention(conn, kept, retention(), when)
    return kept


def _main_text(data: EncodedData) -> str | None:
    values = data.get(MAIN_TEXT)
    if not values or len(values) != 1:
        return None
    return values[0][0]


def _version_starts(
    conn: Connection, item_ids: Iterable[int]
) -> dict[int, tuple[int, datetime | None]]:
    """Each item's next version number and when its current values began."""
    v = versions_table.c
    found: dict[int, tuple[int, datetime | None]] = {}
    for part in chunks(sorted(item_ids)):
        latest = (
            select(v.itemId, func.max(v.version).label("last"), func.max(v.validTo).label("to"))
            .where(v.itemId.in_(part))
            .group_by(v.itemId)
            .subquery()
        )
        rows = conn.execute(
            select(items.c.itemId, items.c.itemCreated, latest.c.last, latest.c.to)
            .select_from(items.outerjoin(latest, latest.c.itemId == items.c.itemId))
            .where(items.c.itemId.in_(part))
        )
        for item_id, created, last, until in rows:
            found[item_id] = (1, created) if last is None else (last + 1, until)
    return found


def _apply_retention(
    conn: Connection, kept: Mapping[int, int], policy: Retention, now: datetime
) -> None:
    """Drop what ``policy`` no longer keeps of items whose newest version is ``kept[item]``."""
    v = versions_table.c
    if policy.keep > 0:
        rows = [
            {"b_item": item_id, "b_last": newest - policy.keep}
            for item_id, newest in kept.items()
            if newest > policy.keep
        ]
        if rows:
            conn.execute(
                delete(versions_table).where(
                    and_(v.itemId == bindparam("b_item"), v.version <= bindparam("b_last"))
                ),
                rows,
            )
    if policy.max_age is not None:
        cutoff = now - policy.max_age
        rows = [{"b_item": item_id, "b_newest": newest} for item_id, newest in kept.items()]
        conn.execute(
            delete(versions_table).where(
                and_(
                    v.itemId == bindparam("b_item"),
                    v.version < bindparam("b_newest"),
                    v.validTo < cutoff,
                )
            ),
            rows,
        )


# --- reading --------------------------------------------------------------------------------


def _decoded(data: Mapping[str, Sequence[Sequence[str | None]]]) -> dict[str, list[ItemValue]]:
    return {key: [decode(text, tag) for text, tag in values] for key, values in data.items()}


def _row_version(row: Any) -> ItemVersion:
    raw: dict[str, list[list[str | None]]] = json.loads(row.versionData or "{}")
    data = _decoded(raw)
    if row.versionText is not None:
        data[MAIN_TEXT] = [row.versionText]
    return ItemVersion(
        item_id=row.itemId,
        version=row.version,
        valid_from=from_db(row.validFrom),
        valid_to=from_db(row.validTo),
        digest=row.versionDigest,
        data=data,
        text=row.versionText,
        version_id=row.versionId,
    )


def _current(conn: Connection, item_id: int, rows: Sequence[ItemVersion]) -> ItemVersion | None:
    """The item's current values (ItemData) as its newest version; None: no such item."""
    created = conn.execute(select(items.c.itemCreated).where(items.c.itemId == item_id)).first()
    if created is None:
        return None
    stored = current_rows_always(conn, item_id)
    data = _decoded(stored)
    text = data.get(MAIN_TEXT)
    last = rows[-1] if rows else None
    return ItemVersion(
        item_id=item_id,
        version=1 if last is None else last.version + 1,
        valid_from=from_db(created[0]) if last is None else last.valid_to,
        valid_to=None,
        digest=meaning_digest(stored),
        data=data,
        text=text[0] if text and isinstance(text[0], str) else None,
        current=True,
    )


def current_rows_always(conn: Connection, item_id: int) -> EncodedData:
    """One item's stored data, encoded, whether or not versions are kept."""
    d = item_data.c
    found: EncodedData = {}
    rows = conn.execute(
        select(d.itemData, d.itemDataValue, d.itemDataType)
        .where(d.itemId == item_id)
        .order_by(d.itemData, d.itemDataSeq, d.ItemDataId)
    )
    for key, text, tag in rows:
        found.setdefault(key, []).append((text, tag))
    return found


def item_versions(conn: Connection, *, item_id: int) -> list[ItemVersion]:
    """An item's versions, oldest first, the last one its current values; [] for no item."""
    rows = [
        _row_version(row)
        for row in conn.execute(
            select(versions_table)
            .where(versions_table.c.itemId == item_id)
            .order_by(versions_table.c.version)
        )
    ]
    current = _current(conn, item_id, rows)
    return [] if current is None else [*rows, current]


def current_version(conn: Connection, *, item_id: int) -> int:
    """The number of the item's current values (1 until its meaning first changed)."""
    last = conn.execute(
        select(func.max(versions_table.c.version)).where(versions_table.c.itemId == item_id)
    ).scalar()
    return 1 if last is None else int(last) + 1


def get_version(conn: Connection, *, item_id: int, version: int) -> ItemVersion | None:
    """One version of an item (the current one too); None when it has no such version."""
    row = conn.execute(
        select(versions_table).where(
            versions_table.c.itemId == item_id, versions_table.c.version == version
        )
    ).first()
    if row is not None:
        return _row_version(row)
    if version != current_version(conn, item_id=item_id):
        return None
    last = get_version(conn, item_id=item_id, version=version - 1) if version > 1 else None
    return _current(conn, item_id, [last] if last is not None else [])


def versions_since(
    conn: Connection, *, after_version_id: int, limit: int = 100
) -> list[ItemVersion]:
    """Versions stored after the cursor ``after_version_id``, in the order they were stored.

    Each is the values an item had before a change at its ``valid_to``; the values after it
    are version ``version + 1``. A reader keeps the last ``version_id`` as its next cursor.
    """
    rows = conn.execute(
        select(versions_table)
        .where(versions_table.c.versionId > after_version_id)
        .order_by(versions_table.c.versionId)
        .limit(max(limit, 0))
    )
    return [_row_version(row) for row in rows]


def prune_versions(
    conn: Connection,
    *,
    keep: int | None = None,
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> int:
    """Apply retention to every item: keep its newest ``keep`` versions and none older than
    ``max_age`` (but always its newest); returns how many versions went."""
    v = versions_table.c
    doomed: set[int] = set()
    if keep is not None:
        if keep < 0:
            raise ValueError("versions to keep cannot be negative")
        crowded = select(v.itemId).group_by(v.itemId).having(func.count() > keep)
        seen: dict[int, int] = {}
        for version_id, item_id in conn.execute(
            select(v.versionId, v.itemId)
            .where(v.itemId.in_(crowded))
            .order_by(v.itemId, v.version.desc())
        ):
            seen[item_id] = seen.get(item_id, 0) + 1
            if seen[item_id] > keep:
                doomed.add(version_id)
    if max_age is not None:
        cutoff = (to_db(now) or utcnow()) - max_age
        old = select(v.itemId).where(v.validTo < cutoff)
        newest: dict[int, int] = {}
        for item_id, number in conn.execute(
            select(v.itemId, func.max(v.version)).where(v.itemId.in_(old)).group_by(v.itemId)
        ):
            newest[item_id] = number
        for version_id, item_id, number in conn.execute(
            select(v.versionId, v.itemId, v.version).where(v.validTo < cutoff)
        ):
            if number < newest[item_id]:
                doomed.add(version_id)
    for part in chunks(sorted(doomed)):
        conn.execute(delete(versions_table).where(v.versionId.in_(part)))
    return len(doomed)
