"""Events queue idempotently per (engine, action, item) and complete when their date is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.errors import IntegrityViolation
from tests.factories import make_engine, make_uri


def test_an_event_is_queued_once_and_listed_as_pending(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
        uri = make_uri()
        item_id = store.get_or_create_item(conn, uri=uri, engine_id=engine.engine_id).item_id
        key = {"engine_id": engine.engine_id, "action_id": engine.action_id, "item_id": item_id}
        assert store.enqueue_event(conn, **key)
        assert not store.enqueue_event(conn, **key)
        pending = store.pending_items(conn, engine_id=engine.engine_id, action_id=engine.action_id)
        assert pending == [(item_id, uri)]
        assert store.event_counts(conn)["pending"] == 1


def test_completing_an_event_takes_it_off_the_pending_list(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
        item_id = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        key = {"engine_id": engine.engine_id, "action_id": engine.action_id, "item_id": item_id}
        store.enqueue_event(conn, **key)
        assert store.complete_event(conn, **key)
        assert not store.complete_event(conn, **key)  # already done
        assert (
            store.pending_items(conn, engine_id=engine.engine_id, action_id=engine.action_id) == []
        )
        assert store.event_counts(conn) == {"pending": 0, "claimed": 0, "done": 1, "dead": 0}
        # Queuing a done event again leaves it done...
        assert not store.enqueue_event(conn, **key)
        assert store.event_counts(conn)["done"] == 1
        # ...unless the caller asks for the work to run once more.
        store.enqueue_event(conn, **key, reopen=True)
        assert store.event_counts(conn)["pending"] == 1


def test_an_event_is_not_due_before_its_run_after_time(db: Database) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    with db.transaction() as conn:
        engine = make_engine(conn)
        item_id = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        store.enqueue_event(
            conn,
            engine_id=engine.engine_id,
            action_id=engine.action_id,
            item_id=item_id,
            run_after=later,
        )
        assert (
            store.pending_items(conn, engine_id=engine.engine_id, action_id=engine.action_id) == []
        )
        assert store.event_counts(conn)["pending"] == 1


def test_pending_items_are_per_engine_and_action_oldest_first(db: Database) -> None:
    with db.transaction() as conn:
        one = make_engine(conn, action="extractor")
        two = make_engine(conn, action="downloader")
        uris = [make_uri() for _ in range(3)]
        ids = [store.get_or_create_item(conn, uri=u, engine_id=None).item_id for u in uris]
        for item_id in ids:
            store.enqueue_event(
                conn, engine_id=one.engine_id, action_id=one.action_id, item_id=item_id
            )
        store.enqueue_event(conn, engine_id=two.engine_id, action_id=two.action_id, item_id=ids[0])
        assert store.pending_items(conn, engine_id=one.engine_id, action_id=one.action_id) == list(
            zip(ids, uris, strict=True)
        )
        assert store.pending_items(
            conn, engine_id=one.engine_id, action_id=one.action_id, limit=1
        ) == [(ids[0], uris[0])]
        assert store.event_counts(conn, engine_id=two.engine_id)["pending"] == 1


def test_an_event_for_a_missing_item_is_refused_on_every_database(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
    with pytest.raises(IntegrityViolation), db.transaction() as conn:
        store.enqueue_event(
            conn, engine_id=engine.engine_id, action_id=engine.action_id, item_id=987_654
        )
