"""Status messages are kept newest first; a config change is recorded as a Status row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.errors import ValueTooLongError
from tests.factories import make_engine


def test_status_rows_are_listed_newest_first_and_filtered(db: Database) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with db.transaction() as conn:
        engine = make_engine(conn)
        for minute in range(3):
            store.add_status(
                conn,
                message=f"run {minute}",
                engine_id=engine.engine_id,
                action_id=engine.action_id,
                at=start + timedelta(minutes=minute),
            )
        store.add_status(conn, message="other", at=start)
        rows = store.recent_status(conn, engine_id=engine.engine_id, limit=2)
    assert [r.message for r in rows] == ["run 2", "run 1"]
    assert rows[0].date == start + timedelta(minutes=2)


def test_status_dates_in_any_zone_are_kept_as_the_same_instant(db: Database) -> None:
    local = datetime(2025, 8, 3, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with db.transaction() as conn:
        store.add_status(conn, message="zoned", at=local)
        (row,) = store.recent_status(conn, limit=1)
    assert row.date == local
    assert row.date is not None
    assert row.date.tzinfo is UTC


def test_seeded_config_is_present(db: Database) -> None:
    with db.read() as conn:
        config = store.all_config(conn)
    assert config["RunQueue"] == "1"
    # Present but empty: workers follow them once someone sets them (see worker.py).
    assert config["MaxConcurrentJobs"] == ""
    assert config["DefaultDelay"] == ""
    assert config["SystemVersion"]


def test_a_config_change_writes_a_status_row_and_a_no_op_does_not(db: Database) -> None:
    with db.transaction() as conn:
        assert store.set_config(conn, name="RunQueue", value="0")
        assert not store.set_config(conn, name="RunQueue", value="0")
        assert store.get_config(conn, name="RunQueue") == "0"
        messages = [row.message for row in store.recent_status(conn, limit=5)]
        system = store.get_engine_id(conn, name="SystemEngine", version="1.0")
        (latest,) = store.recent_status(conn, limit=1)
    assert messages.count("Config RunQueue set to '0' (was '1')") == 1
    assert latest.engine_id == system


def test_new_config_keys_are_created(db: Database) -> None:
    with db.transaction() as conn:
        assert store.get_config(conn, name="UserAgent") is None
        assert store.get_config(conn, name="UserAgent", default="x") == "x"
        store.set_config(conn, name="UserAgent", value="Haystack/0.1")
        assert store.get_config(conn, name="UserAgent") == "Haystack/0.1"


def test_an_oversized_config_value_is_refused(db: Database) -> None:
    with db.transaction() as conn, pytest.raises(ValueTooLongError):
        store.set_config(conn, name="Huge", value="x" * 20_000)


def test_secret_config_values_stay_out_of_the_status_log(db: Database) -> None:
    with db.transaction() as conn:
        store.set_config(conn, name="SmtpPassword", value="hunter2")
        (latest,) = store.recent_status(conn, limit=1)
        assert store.get_config(conn, name="SmtpPassword") == "hunter2"
    assert latest.message == "Config SmtpPassword changed"
