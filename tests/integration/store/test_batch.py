"""The batch path stores many items with data, links and events in one go, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.errors import NotFoundError
from haystack_collector.store import ItemRecord, LinkSpec
from tests.factories import make_engine


def _postings(action_id: int, count: int, *, search: str) -> list[ItemRecord]:
    return [
        ItemRecord(
            uri=f"https://jobs.test/posting/{n}",
            data={"title": f"Job {n}", "price": n * 10, "tags": ["python", "remote"]},
            links=[LinkSpec(search, "contains", direction="in")],
            events=[action_id],
        )
        for n in range(count)
    ]


def test_a_batch_creates_items_data_links_and_events(db: Database) -> None:
    search = "https://jobs.test/search?q=python"
    with db.transaction() as conn:
        engine = make_engine(conn)
        result = store.store_items(
            conn,
            engine_id=engine.engine_id,
            records=_postings(engine.action_id, 1200, search=search),
        )
        first = result.item_ids["https://jobs.test/posting/0"]
        search_id = result.item_ids[search]
        assert len(result.created) == 1201  # the postings and the search they link from
        assert store.get_item_data(conn, item_id=first, key="tags") == ["python", "remote"]
        assert store.get_item_value(conn, item_id=first, key="price") == 0
        assert len(store.get_links(conn, item_id=search_id, direction="out")) == 1200
        assert store.event_counts(conn)["pending"] == 1200


def test_running_the_same_batch_again_changes_nothing(db: Database) -> None:
    search = "https://jobs.test/search"
    with db.transaction() as conn:
        engine = make_engine(conn)
        records = _postings(engine.action_id, 20, search=search)
        first = store.store_items(conn, engine_id=engine.engine_id, records=records)
        again = store.store_items(conn, engine_id=engine.engine_id, records=records)
        item_id = first.item_ids["https://jobs.test/posting/3"]
        assert again.item_ids == first.item_ids
        assert again.created == frozenset()
        assert store.get_item_data(conn, item_id=item_id, key="tags") == ["python", "remote"]
        assert len(store.get_links(conn, item_id=first.item_ids[search], direction="out")) == 20
        assert store.event_counts(conn)["pending"] == 20


def test_a_batch_replaces_the_keys_it_names_and_keeps_the_others(db: Database) -> None:
    with db.transaction() as conn:
        uri = "https://jobs.test/posting/1"
        store.store_items(
            conn,
            engine_id=None,
            records=[ItemRecord(uri=uri, data={"title": "Old", "company": "ACME"})],
        )
        result = store.store_items(
            conn, engine_id=None, records=[ItemRecord(uri=uri, data={"title": "New"})]
        )
        item_id = result.item_ids[uri]
        assert store.get_item_data(conn, item_id=item_id, key="title") == ["New"]
        assert store.get_item_data(conn, item_id=item_id, key="company") == ["ACME"]


def test_a_batch_mixing_new_and_known_items_and_dates(db: Database) -> None:
    posted = datetime(2025, 8, 3, tzinfo=UTC)
    with db.transaction() as conn:
        known = store.get_or_create_item(conn, uri="https://a.test/known", engine_id=None).item_id
        result = store.store_items(
            conn,
            engine_id=None,
            records=[
                ItemRecord(uri="https://a.test/known", date=posted),
                ItemRecord(uri="https://a.test/new", date=posted),
            ],
        )
        assert result.item_ids["https://a.test/known"] == known
        assert result.created == {"https://a.test/new"}
        for item_id in result.item_ids.values():
            assert store.get_item(conn, item_id=item_id).date == posted  # type: ignore[union-attr]


def test_an_unknown_link_type_fails_the_whole_batch(db: Database) -> None:
    with pytest.raises(NotFoundError), db.transaction() as conn:
        store.store_items(
            conn,
            engine_id=None,
            records=[
                ItemRecord(uri="https://a.test/1", links=[LinkSpec("https://a.test/2", "likes")])
            ],
        )
    with db.read() as conn:
        assert store.find_item_id(conn, uri="https://a.test/1") is None  # rolled back


def test_an_empty_batch_is_fine(db: Database) -> None:
    with db.transaction() as conn:
        result = store.store_items(conn, engine_id=None, records=[])
    assert result.item_ids == {}
    assert result.created == frozenset()


def test_url_credentials_never_reach_the_store_and_callers_keep_their_keys(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn, name="creds")
    page = "https://alice:hunter2@git.example/repo"
    target = "https://bob:pa55@files.example/a.zip"
    record = ItemRecord(
        uri=page,
        data={"Source": f"cloned from {page}", "Mirrors": [target, "plain"], "Raw": {"u": target}},
        links=[LinkSpec(target, "download")],
    )

    result = db.run(store.store_items, engine_id=engine.engine_id, records=[record])

    clean_page, clean_target = "https://git.example/repo", "https://files.example/a.zip"
    assert result.item_ids[page] == result.item_ids[clean_page]
    assert result.item_ids[target] == result.item_ids[clean_target]
    assert page in result.created
    with db.read() as conn:
        item = store.get_item(conn, item_id=result.item_ids[page])
        assert item is not None
        assert item.uri == clean_page
        assert store.find_item_id(conn, uri=page) == result.item_ids[page]
        assert store.get_item_value(conn, item_id=item.item_id, key="Source") == (
            f"cloned from {clean_page}"
        )
        assert store.get_item_data(conn, item_id=item.item_id, key="Mirrors") == [
            clean_target,
            "plain",
        ]
        assert store.get_item_value(conn, item_id=item.item_id, key="Raw") == {"u": clean_target}
    with db.transaction() as conn:
        again = store.get_or_create_item(conn, uri=page, engine_id=engine.engine_id)
    assert (again.item_id, again.created) == (result.item_ids[page], False)
