"""Engines, actions and engine actions register idempotently and can be disabled."""

from __future__ import annotations

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.errors import NotFoundError, ValueTooLongError


def test_registering_an_engine_twice_returns_the_same_id(db: Database) -> None:
    with db.transaction() as conn:
        first = store.register_engine(conn, name="craigslist", version="2.0", description="v1")
        again = store.register_engine(conn, name="craigslist", version="2.0", description="jobs")
        engine = store.get_engine(conn, engine_id=first)
    assert first == again
    assert engine is not None
    assert (engine.name, engine.version, engine.description, engine.disabled) == (
        "craigslist",
        "2.0",
        "jobs",
        False,
    )


def test_each_version_of_an_engine_is_its_own_row_and_the_newest_is_found_by_name(
    db: Database,
) -> None:
    with db.transaction() as conn:
        old = store.register_engine(conn, name="rss", version="1.0")
        new = store.register_engine(conn, name="rss", version="1.1")
        assert old != new
        assert store.get_engine_id(conn, name="rss") == new
        assert store.get_engine_id(conn, name="rss", version="1.0") == old
        assert store.get_engine_id(conn, name="nope") is None


def test_the_system_engine_and_seed_actions_exist_after_migration(db: Database) -> None:
    with db.read() as conn:
        assert store.get_engine_id(conn, name="SystemEngine", version="1.0") is not None
        for action in (
            "WebCrawler",
            "ParseContents",
            "FileCrawler",
            "extractor",
            "downloader",
            "config",
            "Status",
        ):
            assert store.get_action_id(conn, name=action) is not None, action
        assert [e.name for e in store.list_engines(conn)] == ["SystemEngine"]


def test_engines_can_be_disabled_and_enabled(db: Database) -> None:
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name="files", version="1")
        store.set_engine_disabled(conn, engine_id=engine_id, disabled=True)
        assert store.is_engine_disabled(conn, engine_id=engine_id)
        store.set_engine_disabled(conn, engine_id=engine_id, disabled=False)
        assert not store.is_engine_disabled(conn, engine_id=engine_id)


def test_disabling_an_unknown_engine_is_not_found(db: Database) -> None:
    with db.transaction() as conn, pytest.raises(NotFoundError):
        store.set_engine_disabled(conn, engine_id=999_999, disabled=True)
    with db.read() as conn, pytest.raises(NotFoundError):
        store.is_engine_disabled(conn, engine_id=999_999)


def test_an_engine_action_is_declared_once_and_updated_in_place(db: Database) -> None:
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name="craigslist", version="2.0")
        action_id = store.register_action(conn, name="search", description="Search a city")
        first = store.register_engine_action(
            conn, engine_id=engine_id, action_id=action_id, function="search"
        )
        again = store.register_engine_action(
            conn, engine_id=engine_id, action_id=action_id, function="search_v2", params="{}"
        )
        store.set_engine_action_disabled(
            conn, engine_id=engine_id, action_id=action_id, disabled=True
        )
        (row,) = store.list_engine_actions(conn, engine_id=engine_id)
    assert first == again
    assert (row.action_name, row.function, row.params, row.disabled) == (
        "search",
        "search_v2",
        "{}",
        True,
    )


def test_names_longer_than_their_columns_are_refused_not_truncated(db: Database) -> None:
    with db.transaction() as conn, pytest.raises(ValueTooLongError, match="engine name"):
        store.register_engine(conn, name="x" * 101, version="1")
    with db.transaction() as conn, pytest.raises(ValueTooLongError, match="action name"):
        store.register_action(conn, name="y" * 101)


def test_link_types_are_seeded(db: Database) -> None:
    with db.read() as conn:
        for name in ("contains", "references", "download", "duplicate", "related"):
            assert store.get_link_type_id(conn, name=name) > 0
        with pytest.raises(NotFoundError):
            store.get_link_type_id(conn, name="friends")
