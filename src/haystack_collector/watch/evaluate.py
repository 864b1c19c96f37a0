"""Finding what happened to a watch's items since it last looked, into the outbox.

Each watch keeps marks: the newest item, version and visit its evaluation has read. An
evaluation reads what came after them, keeps what its filter matches, and in one transaction
records the notifications and moves the marks (a compare-and-set, so two evaluators of one
watch never both record). The outbox's unique key (watch, item, event, item version) stops
anything from being recorded twice in any case.

- ``new``: an item stored after the mark, once it is fetched (or in a state the filter names;
  an item only discovered, still ``queued``, holds the mark back for up to ``QUEUED_WAIT``, so
  it is told of once fetched; one that failed is not new content).
  Its version is 1: an item is new once. A posting watch tells of each posting (fingerprint)
  once, from the first item that carried it.
- ``changed``: a version stored after the mark (``store.versions``: the item's meaning
  changed) of an item the filter matches, when the change still shows under the watch's
  volatile rules (``watch.changes``); its version is the item's new one (k + 1), and the
  notification keeps the diff.
- ``gone``: a re-visit after the mark that found its item gone; its version is the item's
  current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from haystack_collector.db import Database
from haystack_collector.errors import DatabaseConnectionError
from haystack_collector.extract.postings import POSTING_FINGERPRINT, POSTING_KEYS
from haystack_collector.logs import get_logger
from haystack_collector.store import versions
from haystack_collector.store import watches as store
from haystack_collector.store.query import TITLE_KEYS
from haystack_collector.store.watches import ItemMessage, NewNotification, WatchRow
from haystack_collector.watch.changes import change_lines
from haystack_collector.watch.model import WatchFilter

__all__ = ["Evaluation", "evaluate_watch", "evaluate_watches"]

log = get_logger("haystack.watch")

QUEUED_WAIT = timedelta(hours=6)  # how long a discovered item may hold a watch's mark back
MAX_PER_EVALUATION = 2_000  # items of one event read per watch per evaluation; the rest next
# Rows younger than this are left for the next evaluation: an id is handed out at insert, so
# a row committed late may have a lower id than one already read (store.settled_marks).
SETTLE = timedelta(seconds=5)  # HAYSTACK_NOTIFY_SETTLE
# The data keys a message shows besides the title (those an item has).
SHOWN_KEYS = (*TITLE_KEYS, *POSTING_KEYS, "Description", "Summary", "Published", "Author")


@dataclass(frozen=True, slots=True)
class Evaluation:
    watch: str
    recorded: int
    found: dict[str, int]  # event -> notifications found (recorded or already there)
    skipped: bool = False  # another evaluator moved the marks first


def evaluate_watches(
    db: Database, *, now: datetime | None = None, settle: timedelta = SETTLE
) -> list[Evaluation]:
    """Evaluate every enabled watch; one watch's failure is logged and the others go on."""
    done: list[Evaluation] = []
    for watch in db.run_read(store.list_watches, enabled=True):
        try:
            done.append(evaluate_watch(db, watch, now=now, settle=settle))
        except DatabaseConnectionError:
            raise  # the notifier alerts on it
        except Exception:
            log.exception("watch %s: evaluation failed", watch.name)
    return done


def evaluate_watch(
    db: Database, watch: WatchRow, *, now: datetime | None = None, settle: timedelta = SETTLE
) -> Evaluation:
    """Record what happened to ``watch``'s items since its marks; moves the marks.

    Only rows written at least ``settle`` before ``now`` are read (see ``SETTLE``).
    """
    moment = now or datetime.now(UTC)
    settled = db.run_read(store.settled_marks, before=moment - settle)
    spec = WatchFilter.from_dict(watch.filter)
    found: list[NewNotification] = []
    item_mark = watch.last_item_id
    if "new" in watch.events:
        new, item_mark = _new(db, watch, spec, moment, settled.item_id)
        found += new
    changed, version_mark = _changed(db, watch, spec, settled.version_id)
    found += changed
    gone, visit_mark = _gone(db, watch, spec, settled.visit_id)
    found += gone
    recorded = db.run(
        store.advance_watch,
        watch=watch,
        last_item_id=item_mark,
        last_version_id=version_mark,
        last_visit_id=visit_mark,
        found=found,
    )
    counts: dict[str, int] = {}
    for each in found:
        counts[each.event] = counts.get(each.event, 0) + 1
    if recorded is False:
        return Evaluation(watch.name, 0, counts, skipped=True)
    return Evaluation(watch.name, len(found), counts)


def _new(
    db: Database, watch: WatchRow, spec: WatchFilter, now: datetime, top: int
) -> tuple[list[NewNotification], int]:
    if top <= watch.last_item_id:
        return [], watch.last_item_id
    mark = top
    if not spec.state or "queued" not in spec.state:
        waiting = db.run_read(
            store.oldest_queued_since, after=watch.last_item_id, upto=top, since=now - QUEUED_WAIT
        )
        if waiting is not None:
            mark = waiting - 1
    # A span of at most MAX_PER_EVALUATION items past the mark, so every match in it is read
    # and the mark can move to its end; whatever lies beyond is the next evaluation's.
    end = db.run_read(store.span_end, after=watch.last_item_id, count=MAX_PER_EVALUATION)
    if end is not None:
        mark = min(mark, end)
    ids = db.run_read(
        store.new_item_ids,
        where=spec.item_filter(),
        after=watch.last_item_id,
        upto=mark,
        limit=MAX_PER_EVALUATION,
    )
    messages = db.run_read(store.item_messages, item_ids=ids, keys=SHOWN_KEYS)
    chosen = [messages[each] for each in ids if each in messages]
    # New content: a fetched item, unless the filter names the states it wants.
    chosen = [each for each in chosen if each.state in (spec.state or ("fetched",))]
    if spec.posting.active():
        chosen = _first_postings(db, spec, chosen)
    return [
        NewNotification(watch.watch_id, each.item_id, "new", 1, detail_of(each)) for each in chosen
    ], mark


def _changed(
    db: Database, watch: WatchRow, spec: WatchFilter, top: int
) -> tuple[list[NewNotification], int]:
    """Changes stored after the watch's version mark that matter under its rules."""
    rows = db.run_read(
        versions.versions_since, after_version_id=watch.last_version_id, limit=MAX_PER_EVALUATION
    )
    rows = [row for row in rows if (row.version_id or 0) <= top]  # oldest first
    if not rows:
        return [], watch.last_version_id
    mark = max(row.version_id or 0 for row in rows)
    if "changed" not in watch.events:
        return [], mark
    matched = db.run_read(
        store.matching, where=spec.item_filter(), item_ids=sorted({row.item_id for row in rows})
    )
    messages = db.run_read(store.item_messages, item_ids=sorted(matched), keys=SHOWN_KEYS)
    found = []
    for old in rows:
        item = messages.get(old.item_id)
        if item is None or (spec.posting.active() and not spec.posting.matches(item.fields)):
            continue
        new = db.run_read(versions.get_version, item_id=old.item_id, version=old.version + 1)
        if new is None:
            continue  # pruned meanwhile: nothing to compare
        diff = change_lines(old, new, watch.volatile)
        if diff is None:
            continue  # only what the watch's rules ignore changed
        found.append(
            NewNotification(
                watch.watch_id, old.item_id, "changed", new.version, detail_of(item, diff=diff)
            )
        )
    return found, mark


def _gone(
    db: Database, watch: WatchRow, spec: WatchFilter, top: int
) -> tuple[list[NewNotification], int]:
    """Re-visits after the watch's visit mark that found a matching item gone."""
    visits = db.run_read(
        store.gone_visits_since, after_visit_id=watch.last_visit_id, limit=MAX_PER_EVALUATION
    )
    visits = [each for each in visits if each[0] <= top]  # oldest first
    if not visits:
        return [], watch.last_visit_id  # the outcome index reads only gone visits past it
    mark = visits[-1][0]
    if "gone" not in watch.events:
        return [], mark
    ids = sorted({item for _visit, item in visits})
    matched = db.run_read(store.matching, where=spec.item_filter(), item_ids=ids)
    messages = db.run_read(store.item_messages, item_ids=sorted(matched), keys=SHOWN_KEYS)
    found = []
    for item_id in ids:
        item = messages.get(item_id)
        if item is None or (spec.posting.active() and not spec.posting.matches(item.fields)):
            continue
        version = db.run_read(versions.current_version, item_id=item_id)
        found.append(NewNotification(watch.watch_id, item_id, "gone", version, detail_of(item)))
    return found, mark


def _first_postings(
    db: Database, spec: WatchFilter, chosen: list[ItemMessage]
) -> list[ItemMessage]:
    """The postings the posting filter matches, each told of from its first item only."""
    matched = [each for each in chosen if spec.posting.matches(each.fields)]
    prints = [
        str(each.fields[POSTING_FINGERPRINT])
        for each in matched
        if each.fields.get(POSTING_FINGERPRINT)
    ]
    first = db.run_read(store.first_holders, key=POSTING_FINGERPRINT, values=prints)
    return [
        each
        for each in matched
        if first.get(str(each.fields.get(POSTING_FINGERPRINT)), each.item_id) == each.item_id
    ]


def detail_of(item: ItemMessage, **more: Any) -> dict[str, Any]:
    """What a notification keeps of its item: enough to write the message without the item."""
    title = next((item.fields[key] for key in TITLE_KEYS if item.fields.get(key)), None)
    fields = {
        key: value
        for key, value in item.fields.items()
        if key not in TITLE_KEYS and key != POSTING_FINGERPRINT and value not in (None, "")
    }
    return {"title": title, "uri": item.uri, "fields": fields, **more}
