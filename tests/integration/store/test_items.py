"""One item per URI; data rows typed, ordered and never truncated; each link stated once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.errors import IntegrityViolation, NotFoundError, ValueTooLongError
from haystack_collector.store import ItemRecord
from tests.factories import make_engine, make_uri


def test_get_or_create_returns_the_same_item_for_the_same_uri(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
        uri = make_uri()
        first = store.get_or_create_item(conn, uri=uri, engine_id=engine.engine_id)
        second = store.get_or_create_item(conn, uri=uri, engine_id=engine.engine_id)
        item = store.get_item(conn, item_id=first.item_id)
    assert first.created
    assert not second.created
    assert first.item_id == second.item_id
    assert item is not None
    assert (item.uri, item.engine_id) == (uri, engine.engine_id)
    assert item.created is not None
    assert item.created.tzinfo is UTC


def test_uris_differing_only_in_case_or_query_are_different_items(db: Database) -> None:
    with db.transaction() as conn:
        ids = {
            store.get_or_create_item(conn, uri=uri, engine_id=None).item_id
            for uri in ("https://a.test/X", "https://a.test/x", "https://a.test/x?p=1")
        }
    assert len(ids) == 3


def test_the_item_date_is_set_and_updated_when_given(db: Database) -> None:
    posted = datetime(2025, 8, 3, 13, 50, tzinfo=UTC)
    seen = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
    with db.transaction() as conn:
        ref = store.get_or_create_item(conn, uri=make_uri(), engine_id=None, date=posted)
        assert store.get_item(conn, item_id=ref.item_id).date == posted  # type: ignore[union-attr]
        store.get_or_create_item(
            conn,
            uri=store.get_item(conn, item_id=ref.item_id).uri,  # type: ignore[union-attr]
            engine_id=None,
            date=seen,
        )
        assert store.get_item(conn, item_id=ref.item_id).date == seen  # type: ignore[union-attr]


def test_a_very_long_uri_is_stored_whole(db: Database) -> None:
    uri = "https://example.test/search?" + "q=%E2%9C%93&" * 1000
    with db.transaction() as conn:
        ref = store.get_or_create_item(conn, uri=uri, engine_id=None)
        assert store.get_item(conn, item_id=ref.item_id).uri == uri  # type: ignore[union-attr]
        assert store.find_item_id(conn, uri=uri) == ref.item_id


def test_an_absurd_or_empty_uri_is_refused(db: Database) -> None:
    with db.transaction() as conn:
        with pytest.raises(ValueTooLongError, match="item URI"):
            store.get_or_create_item(conn, uri="https://x.test/" + "a" * 20_000, engine_id=None)
        with pytest.raises(ValueError, match="empty"):
            store.get_or_create_item(conn, uri="", engine_id=None)


def test_values_come_back_with_their_types(db: Database) -> None:
    posted = datetime(2025, 8, 3, 13, 50, 27, tzinfo=UTC)
    with db.transaction() as conn:
        item_id = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        store.set_item_data(conn, item_id=item_id, key="title", value="Senior Python Developer")
        store.set_item_data(conn, item_id=item_id, key="price", value=Decimal("1250.50"))
        store.set_item_data(conn, item_id=item_id, key="posted", value=posted)
        store.set_item_data(conn, item_id=item_id, key="remote", value=True)
        store.set_item_data(conn, item_id=item_id, key="geo", value={"lat": 43.04, "lon": -87.9})
        assert store.get_item_value(conn, item_id=item_id, key="title") == "Senior Python Developer"
        assert store.get_item_value(conn, item_id=item_id, key="price") == Decimal("1250.50")
        assert store.get_item_value(conn, item_id=item_id, key="posted") == posted
        assert store.get_item_value(conn, item_id=item_id, key="remote") is True
        assert store.get_item_value(conn, item_id=item_id, key="geo") == {
            "lat": 43.04,
            "lon": -87.9,
        }
        assert store.get_item_value(conn, item_id=item_id, key="missing") is None


def test_add_appends_in_sequence_and_set_replaces_the_key(db: Database) -> None:
    with db.transaction() as conn:
        item_id = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        for url in ("a.jpg", "b.jpg", "c.jpg"):
            store.add_item_data(conn, item_id=item_id, key="image", value=url)
        assert store.get_item_data(conn, item_id=item_id, key="image") == [
            "a.jpg",
            "b.jpg",
            "c.jpg",
        ]
        store.set_item_data(conn, item_id=item_id, key="image", value=["z.jpg", "y.jpg"])
        assert store.get_item_data(conn, item_id=item_id, key="image") == ["z.jpg", "y.jpg"]
        rows = store.get_item_data_all(conn, item_id=item_id)
    assert [(r.key, r.value, r.seq) for r in rows] == [("image", "z.jpg", 0), ("image", "y.jpg", 1)]


def test_long_values_are_not_truncated(db: Database) -> None:
    body = "Ünïcödé posting body ✓ " * 20_000  # ~460k characters, beyond MariaDB's TEXT
    with db.transaction() as conn:
        item_id = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        store.set_item_data(conn, item_id=item_id, key="body", value=body)
        assert store.get_item_value(conn, item_id=item_id, key="body") == body


def test_a_key_longer_than_its_column_is_refused(db: Database) -> None:
    with db.transaction() as conn:
        item_id = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        with pytest.raises(ValueTooLongError, match="item data key"):
            store.set_item_data(conn, item_id=item_id, key="k" * 101, value="v")


def test_items_can_be_found_by_data(db: Database) -> None:
    with db.transaction() as conn:
        first = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        second = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        store.set_item_data(conn, item_id=first, key="keyword", value="python")
        store.set_item_data(conn, item_id=second, key="keyword", value="rust")
        assert store.find_items_by_data(conn, key="keyword") == [
            (first, "python"),
            (second, "rust"),
        ]
        assert store.find_items_by_data(conn, key="keyword", value="rust") == [(second, "rust")]
        assert store.find_items_by_data(conn, key="keyword", limit=1) == [(first, "python")]


def test_finding_by_value_compares_types_too(db: Database) -> None:
    with db.transaction() as conn:
        number = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        text = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        store.set_item_data(conn, item_id=number, key="rank", value=1)
        store.set_item_data(conn, item_id=text, key="rank", value="1")
        assert store.find_items_by_data(conn, key="rank", value=1) == [(number, 1)]
        assert store.find_items_by_data(conn, key="rank", value="1") == [(text, "1")]


def test_links_are_idempotent_and_readable_from_both_ends(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
        search = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        posting = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        assert store.add_link(
            conn, engine_id=engine.engine_id, left=search, right=posting, link_type="contains"
        )
        assert not store.add_link(
            conn, engine_id=engine.engine_id, left=search, right=posting, link_type="contains"
        )
        (out,) = store.get_links(conn, item_id=search, direction="out")
        (into,) = store.get_links(conn, item_id=posting, direction="in")
        assert store.get_links(conn, item_id=posting, direction="out") == []
    assert out == into
    assert (out.left, out.right, out.link_type) == (search, posting, "contains")


def test_an_unknown_link_type_is_not_found(db: Database) -> None:
    with db.transaction() as conn:
        a = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        with pytest.raises(NotFoundError, match="likes"):
            store.add_link(conn, engine_id=None, left=a, right=a, link_type="likes")


def test_concurrent_rewrites_of_one_key_leave_one_writers_values(db: Database) -> None:
    with db.transaction() as conn:
        item_id = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
    barrier = threading.Barrier(6)

    def rewrite(n: int) -> None:
        barrier.wait(timeout=10)
        for _ in range(5):
            db.run(store.set_item_data, item_id=item_id, key="tags", value=[f"w{n}-a", f"w{n}-b"])

    threads = [threading.Thread(target=rewrite, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with db.read() as conn:
        values = store.get_item_data(conn, item_id=item_id, key="tags")
    assert len(values) == 2
    assert values[0].removesuffix("-a") == values[1].removesuffix("-b")  # type: ignore[union-attr]


def test_a_link_to_a_missing_item_is_refused_on_every_database(db: Database) -> None:
    with db.transaction() as conn:
        real = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
    with pytest.raises(IntegrityViolation), db.transaction() as conn:
        store.add_link(conn, engine_id=None, left=real, right=987_654, link_type="contains")
    with pytest.raises(IntegrityViolation), db.transaction() as conn:
        store.store_items(
            conn, engine_id=None, records=[ItemRecord(uri=make_uri(), events=[987_654])]
        )
