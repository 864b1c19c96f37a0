"""An item's state: how far collecting it got, kept in ``Items.ItemState``.

Every item is in exactly one of these states:

``queued``
    Only discovered: Haystack knows its URI (a link target, a URL to fetch, a feed to poll)
    but holds nothing collected from it yet. New items start here.
``fetched``
    Haystack holds what its source said: a page or file fetched (2xx, 3xx, 304), a file read,
    or a record that is content in itself (a feed entry, a bookmark, a listing).
``failed``
    The last attempt to collect it failed: an ``Error`` was stored, an HTTP error other than
    404/410 came back, or the work queued on a still queued item died.
``gone``
    Its source says it no longer exists: HTTP 404 or 410, or ``Gone`` stored as true (an
    expired posting, a deleted file).

The state is written by the store as the rows are: an **outcome** (``StatusCode``, ``Error``
or ``Gone`` among the data an item's record stores, or given to ``set_item_data``) replaces
the state, the latest outcome winning. A record may also declare a state
(``ItemRecord.state``); like an action finishing on the item (``fetched``) or its queued work
dying (``failed``), that moves only an item that is still ``queued``, never one with an
outcome. The state is a column, not derived at read time, so the item list filters by it
through the index (ItemState, itemId) in the list's own order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal, get_args

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import item_data, items
from haystack_collector.store._sql import chunks
from haystack_collector.store.values import ItemValue, as_values, decode

ItemState = Literal["fetched", "queued", "failed", "gone"]
ITEM_STATES: Final[tuple[ItemState, ...]] = get_args(ItemState)
FETCHED: Final[ItemState] = "fetched"
QUEUED: Final[ItemState] = "queued"
FAILED: Final[ItemState] = "failed"
GONE: Final[ItemState] = "gone"

# The data keys that state an outcome, and the statuses that mean "no longer there".
STATUS_KEY, ERROR_KEY, GONE_KEY = "StatusCode", "Error", "Gone"
OUTCOME_KEYS: Final = (STATUS_KEY, ERROR_KEY, GONE_KEY)
GONE_STATUSES: Final = (404, 410)


def check_states(states: Iterable[str]) -> tuple[ItemState, ...]:
    """``states`` as item states; ValueError naming the first that is not one."""
    checked: list[ItemState] = []
    for state in states:
        if state not in ITEM_STATES:
            raise ValueError(f"not an item state: {state!r} (one of {', '.join(ITEM_STATES)})")
        checked.append(state)
    return tuple(checked)


def outcome_state(data: Mapping[str, ItemValue | Sequence[ItemValue]]) -> ItemState | None:
    """The state an outcome in ``data`` stands for; None when ``data`` states no outcome."""
    if not any(key in data for key in OUTCOME_KEYS):
        return None
    status = _status(_first(data.get(STATUS_KEY)))
    error = _first(data.get(ERROR_KEY))
    if _first(data.get(GONE_KEY)) is True or status in GONE_STATUSES:
        return GONE
    if (error is not None and error != "") or (status is not None and status >= 400):
        return FAILED
    return FETCHED


def _first(value: ItemValue | Sequence[ItemValue]) -> ItemValue:
    values = as_values(value)  # [] clears a key: no value
    return values[0] if values else None


def _status(value: ItemValue) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():  # a legacy, untyped row
        return int(value)
    return None


# --- writing it ---------------------------------------------------------------------------

_SET_STATE = (
    update(items)
    .where(items.c.itemId == bindparam("b_id"), items.c.ItemState != bindparam("b_state"))
    .values(ItemState=bindparam("b_state"))
)


def set_states(conn: Connection, states: Mapping[int, ItemState]) -> None:
    """Give items the states of their outcomes (``item id -> state``), as one executemany."""
    rows = [{"b_id": item_id, "b_state": state} for item_id, state in states.items()]
    if rows:
        conn.execute(_SET_STATE, rows)


def settle_queued(conn: Connection, item_ids: Iterable[int], state: ItemState) -> None:
    """Move the items among ``item_ids`` that are still queued to ``state``."""
    for part in chunks(sorted(set(item_ids))):
        conn.execute(
            update(items)
            .where(items.c.itemId.in_(part), items.c.ItemState == QUEUED)
            .values(ItemState=state)
        )


def refresh_state(conn: Connection, item_id: int) -> None:
    """Set an item's state from the outcome its stored data states (after a single write)."""
    rows = conn.execute(
        select(item_data.c.itemData, item_data.c.itemDataValue, item_data.c.itemDataType)
        .where(item_data.c.itemId == item_id, item_data.c.itemData.in_(OUTCOME_KEYS))
        .order_by(item_data.c.itemDataSeq, item_data.c.ItemDataId)
    )
    stored: dict[str, list[ItemValue]] = {}
    for key, text, tag in rows:
        stored.setdefault(key, []).append(decode(text, tag))
    state = outcome_state(stored)
    if state is not None:
        set_states(conn, {item_id: state})
