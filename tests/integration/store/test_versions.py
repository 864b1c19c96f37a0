"""Item versions: a change of meaning keeps the previous values; bookkeeping does not count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.store import ItemRecord, versions
from haystack_collector.store.versions import Retention
from tests.factories import make_engine, make_uri


@pytest.fixture(autouse=True)
def _default_retention() -> Iterator[None]:
    versions.configure_retention(None)
    yield
    versions.configure_retention(None)


def _store(db: Database, engine_id: int, uri: str, data: dict[str, object]) -> int:
    with db.transaction() as conn:
        result = store.store_items(
            conn,
            engine_id=engine_id,
            records=[ItemRecord(uri=uri, data=data)],  # type: ignore[arg-type]
        )
    return result.item_ids[uri]


def test_a_first_store_and_an_unchanged_rewrite_keep_no_version(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
    uri = make_uri()
    item_id = _store(db, engine.engine_id, uri, {"title": "A", "FetchedAt": datetime.now(UTC)})
    later = datetime.now(UTC) + timedelta(hours=1)
    _store(db, engine.engine_id, uri, {"title": "A", "FetchedAt": later, "ETag": '"x"'})
    with db.read() as conn:
        listed = versions.item_versions(conn, item_id=item_id)
        assert versions.current_version(conn, item_id=item_id) == 1
    assert [(v.version, v.current) for v in listed] == [(1, True)]
    assert listed[0].data["title"] == ["A"]
    assert listed[0].valid_to is None


def test_a_changed_field_keeps_the_previous_values_as_a_version(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
    uri = make_uri()
    item_id = _store(db, engine.engine_id, uri, {"title": "Old", "price": 10, "tags": ["a"]})
    _store(db, engine.engine_id, uri, {"title": "New", "price": 10})
    _store(db, engine.engine_id, uri, {"title": "New", "price": 12})
    with db.read() as conn:
        listed = versions.item_versions(conn, item_id=item_id)
        first = versions.get_version(conn, item_id=item_id, version=1)
        current = versions.get_version(conn, item_id=item_id, version=3)
        assert versions.get_version(conn, item_id=item_id, version=4) is None
        assert versions.current_version(conn, item_id=item_id) == 3
    assert [(v.version, v.current) for v in listed] == [(1, False), (2, False), (3, True)]
    assert first is not None
    assert first.data == {"title": ["Old"], "price": [10], "tags": ["a"]}
    assert listed[1].data["price"] == [10]  # typed values come back typed
    assert current is not None
    assert current.current
    assert current.data["price"] == [12]
    assert listed[0].valid_to is not None
    assert listed[1].valid_from == listed[0].valid_to
    assert listed[2].valid_from == listed[1].valid_to
    assert listed[0].digest != listed[1].digest


def test_a_crawl_target_gaining_its_page_is_no_change(db: Database) -> None:
    """A first crawl stores pages that exist only as link targets: no versions."""
    with db.transaction() as conn:
        engine = make_engine(conn)
    uri = make_uri()
    item_id = _store(db, engine.engine_id, uri, {"Depth": 1, "CrawlRoot": 1})
    _store(db, engine.engine_id, uri, {"Title": "Page", "TextDigest": "d1", "StatusCode": 200})
    with db.read() as conn:
        assert versions.current_version(conn, item_id=item_id) == 1


def test_a_page_changes_by_its_text_digest_not_its_markup(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
    uri = make_uri()
    page = {"Title": "T", "TextDigest": "d1", "ContentHash": "h1", "StatusCode": 200}
    item_id = _store(db, engine.engine_id, uri, page)
    _store(db, engine.engine_id, uri, page | {"ContentHash": "h2", "Image": ["ad2.png"]})
    with db.read() as conn:
        assert versions.current_version(conn, item_id=item_id) == 1
    _store(db, engine.engine_id, uri, page | {"TextDigest": "d2", "MainText": "new text"})
    with db.read() as conn:
        [kept, now] = versions.item_versions(conn, item_id=item_id)
    assert kept.data["TextDigest"] == ["d1"]
    assert now.text == "new text"


def test_set_item_data_keeps_a_version_when_the_meaning_changes(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
        ref = store.get_or_create_item(conn, uri=make_uri(), engine_id=engine.engine_id)
        store.set_item_data(conn, item_id=ref.item_id, key="status", value="open")
        store.set_item_data(conn, item_id=ref.item_id, key="CheckedAt", value="now")
        assert versions.current_version(conn, item_id=ref.item_id) == 1
        store.set_item_data(conn, item_id=ref.item_id, key="status", value="closed")
        kept = versions.get_version(conn, item_id=ref.item_id, version=1)
    assert kept is not None
    assert kept.data["status"] == ["open"]


def test_main_text_is_kept_apart_and_read_back(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
    uri = make_uri()
    item_id = _store(db, engine.engine_id, uri, {"TextDigest": "a", "MainText": "first text"})
    _store(db, engine.engine_id, uri, {"TextDigest": "b", "MainText": "second text"})
    with db.read() as conn:
        kept = versions.get_version(conn, item_id=item_id, version=1)
    assert kept is not None
    assert kept.text == "first text"
    assert kept.data["MainText"] == ["first text"]


def test_versions_since_reads_changes_after_a_cursor(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
        start = versions.versions_since(conn, after_version_id=0, limit=10_000)
    cursor = start[-1].version_id if start else 0
    assert cursor is not None
    uris = [make_uri() for _ in range(3)]
    for n, uri in enumerate(uris):
        _store(db, engine.engine_id, uri, {"v": n})
        _store(db, engine.engine_id, uri, {"v": n + 100})
    with db.read() as conn:
        new = versions.versions_since(conn, after_version_id=cursor, limit=2)
        assert new[0].version_id is not None
        rest = versions.versions_since(conn, after_version_id=new[-1].version_id or 0, limit=9)
    assert [v.data["v"] for v in new + rest] == [[0], [1], [2]]
    assert all(v.version == 1 for v in new + rest)


def test_retention_keeps_the_newest_versions_when_writing(db: Database) -> None:
    versions.configure_retention(Retention(keep=2))
    with db.transaction() as conn:
        engine = make_engine(conn)
    uri = make_uri()
    for n in range(6):
        item_id = _store(db, engine.engine_id, uri, {"v": n})
    with db.read() as conn:
        listed = versions.item_versions(conn, item_id=item_id)
    assert [v.version for v in listed] == [4, 5, 6]  # two kept, and the current one
    assert listed[-1].data["v"] == [5]


def test_keep_zero_keeps_no_versions(db: Database) -> None:
    versions.configure_retention(Retention(keep=0))
    with db.transaction() as conn:
        engine = make_engine(conn)
    uri = make_uri()
    for n in range(3):
        item_id = _store(db, engine.engine_id, uri, {"v": n})
    with db.read() as conn:
        assert versions.current_version(conn, item_id=item_id) == 1


def test_prune_by_count_and_age_never_drops_the_newest(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
    a, b = make_uri(), make_uri()
    for n in range(4):
        a_id = _store(db, engine.engine_id, a, {"v": n})
    for n in range(2):
        b_id = _store(db, engine.engine_id, b, {"v": n})
    with db.transaction() as conn:
        assert versions.prune_versions(conn, keep=2) >= 1
        assert [v.version for v in versions.item_versions(conn, item_id=a_id)] == [2, 3, 4]
        later = datetime.now(UTC) + timedelta(days=30)
        versions.prune_versions(conn, max_age=timedelta(days=1), now=later)
        assert [v.version for v in versions.item_versions(conn, item_id=a_id)] == [3, 4]
        assert [v.version for v in versions.item_versions(conn, item_id=b_id)] == [1, 2]


def test_age_retention_applies_when_writing(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn)
    uri = make_uri()
    item_id = _store(db, engine.engine_id, uri, {"v": 0})
    _store(db, engine.engine_id, uri, {"v": 1})
    _store(db, engine.engine_id, uri, {"v": 2})
    versions.configure_retention(Retention(keep=10, max_age=timedelta(microseconds=1)))
    _store(db, engine.engine_id, uri, {"v": 3})
    with db.read() as conn:
        assert [v.version for v in versions.item_versions(conn, item_id=item_id)] == [3, 4]


def test_retention_is_validated() -> None:
    with pytest.raises(ValueError, match="negative"):
        Retention(keep=-1)
    with pytest.raises(ValueError, match="positive"):
        Retention(max_age=timedelta(0))


def test_an_unknown_item_has_no_versions(db: Database) -> None:
    with db.read() as conn:
        assert versions.item_versions(conn, item_id=987_654_321) == []
        assert versions.get_version(conn, item_id=987_654_321, version=1) is None
