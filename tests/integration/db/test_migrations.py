"""Migrations build the schema the code describes and adopt a Peregrin database in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import URL

from haystack_collector import store
from haystack_collector.db import Database, migrate
from haystack_collector.db.migrate import _config, status, upgrade
from haystack_collector.db.schema import item_data, item_events, items, metadata
from haystack_collector.store import admin, search
from haystack_collector.store import runs as runs_store
from haystack_collector.store._sql import uri_hash
from tests.databases import recreate_server_database, selected_backends

LEGACY_SQL = Path(__file__).with_name("data") / "peregrin_mariadb.sql"


def test_a_migrated_database_matches_the_schema_in_code(db: Database) -> None:
    with db.engine.connect() as conn:
        # The full-text index objects (migration 0005) are each database's own, not tables.
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda *name: not search.is_fulltext_object(*name),
            },
        )
        assert compare_metadata(context, metadata) == []


def test_a_new_database_reports_every_revision_pending_until_upgraded(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        before = status(db)
        assert before.current is None
        assert before.pending == (
            "0001",
            "0002",
            "0003",
            "0004",
            "0005",
            "0006",
            "0007",
            "0008",
            "0009",
            "0010",
            "0011",
            "0012",
            "0013",
            "0014",
        )
        assert not before.up_to_date
        after = upgrade(db)
        assert after.current == after.head
        assert after.up_to_date
        assert upgrade(db).current == after.head  # upgrading again is a no-op
    finally:
        db.dispose()


@pytest.fixture
def legacy_mariadb() -> Iterator[Database]:
    if "mariadb" not in selected_backends():
        pytest.skip("MariaDB excluded by HAYSTACK_TEST_BACKENDS")
    url: URL = recreate_server_database("mariadb", "haystack_peregrin_legacy")
    raw = create_engine(url)
    with raw.begin() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = ''")  # the original ran in a lax mode
        for statement in LEGACY_SQL.read_text(encoding="utf-8").split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    raw.dispose()
    db = Database(url)
    yield db
    db.dispose()


def test_an_existing_peregrin_database_is_adopted_and_upgraded_with_its_data(
    legacy_mariadb: Database,
) -> None:
    db = legacy_mariadb
    before = status(db)
    assert before.legacy_unversioned
    assert before.pending == (
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "0010",
        "0011",
        "0012",
        "0013",
        "0014",
    )

    after = upgrade(db)

    assert after.up_to_date
    with db.read() as conn:
        # Every item is still there under its id; the URI key belongs to the first copy.
        assert store.get_item(conn, item_id=1).uri.endswith("4831182004.html")  # type: ignore[union-attr]
        assert store.find_item_id(conn, uri="http://sfbay.craigslist.org/sof/4831182004.html") == 1
        duplicate = store.get_item(conn, item_id=3)
        assert duplicate is not None
        assert duplicate.uri.endswith("4831182004.html")
        assert [(k.left, k.right, k.link_type) for k in store.get_links(conn, item_id=3)] == [
            (3, 1, "duplicate")
        ]
        # Data rows, their order and their text are untouched.
        assert store.get_item_data(conn, item_id=1, key="image") == ["a.jpg", "b.jpg"]
        assert store.get_item_data(conn, item_id=1, key="title") == ["Python developer – remote"]
        assert store.get_item_data(conn, item_id=3, key="title") == [
            "Python developer – remote (seen again)"
        ]
        # Times are the same instants, now in UTC DATETIME columns.
        assert store.get_item(conn, item_id=1).date == datetime(2015, 1, 2, 3, 4, 5, tzinfo=UTC)  # type: ignore[union-attr]
        # Events queued twice became one: pending if any copy was, else done at the last date.
        events = conn.execute(
            select(item_events.c.itemId, item_events.c.itemEventDate).order_by(item_events.c.itemId)
        ).all()
        assert events == [(1, None), (2, datetime(2015, 1, 6, 5, 0)), (4, None)]
        # The link stated twice is stated once; the other link survives.
        assert len(store.get_links(conn, item_id=4, direction="out")) == 2
        # Existing config values win over the seeds; missing seeds are added (0009 unsets
        # MaxConcurrentJobs' seeded 5, which workers would now follow).
        config = store.all_config(conn)
        assert config["RunQueue"] == "0"
        assert config["DefaultDelay"] == "9"
        assert config["MaxConcurrentJobs"] == ""
        for action in ("ParseContents", "FileCrawler", "downloader", "Status"):
            assert store.get_action_id(conn, name=action) is not None
        assert [r.message for r in store.recent_status(conn)] == ["RunQueue set to 0"]
        engine_actions = store.list_engine_actions(conn, engine_id=2)
        assert [(a.action_name, a.function) for a in engine_actions] == [
            ("extractor", "extract_v2")
        ]
        tables = conn.execute(
            text(
                "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'alembic_version'"
            )
        ).all()
        assert {(engine, collation.split("_")[0]) for _, engine, collation in tables} == {
            ("InnoDB", "utf8mb4")
        }
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("ItemEvents")}
        assert "ux_ItemEvents_engine_action_item" in indexes


def test_the_upgraded_legacy_database_works_with_the_new_store(legacy_mariadb: Database) -> None:
    db = legacy_mariadb
    upgrade(db)
    with db.transaction() as conn:
        again = store.get_or_create_item(
            conn, uri="http://sfbay.craigslist.org/sof/4831182004.html", engine_id=2
        )
        assert (again.item_id, again.created) == (1, False)
        new = store.get_or_create_item(conn, uri="https://example.test/🦀", engine_id=2)
        store.set_item_data(conn, item_id=new.item_id, key="title", value="Rust 🦀 " * 20_000)
        assert store.enqueue_event(conn, engine_id=2, action_id=2, item_id=new.item_id)
        assert not store.enqueue_event(conn, engine_id=2, action_id=2, item_id=1)
        pending = store.pending_items(conn, engine_id=2, action_id=2)
        assert [item_id for item_id, _ in pending] == [1, 4, new.item_id]
        # The original's implicit ON UPDATE CURRENT_TIMESTAMP is gone: an edit keeps the dates.
        admin.update_record(conn, table="Items", record_id=2, values={"EngineId": 1})
        dates = conn.execute(
            select(items.c.ItemDTS, items.c.itemCreated).where(items.c.itemId == 2)
        ).one()
        assert tuple(dates) == (datetime(2015, 1, 3, 3, 4, 5), datetime(2015, 1, 3, 3, 4, 5))


def test_0008_gives_existing_items_the_state_their_rows_record(db: Database) -> None:
    rows: dict[str, tuple[dict[str, tuple[str | None, str | None]], str | None]] = {
        # name: ({data key: (text, type tag)}, the state of its one event) -> expected state
        "queued": ({"Depth": ("2", "int"), "CrawlRoot": ("1", "int")}, "pending"),
        "feed to poll": ({"FollowAction": ("webScraper:WebCrawler", "str")}, None),
        "content": ({"Title": ("A bookmark", "str")}, None),
        "legacy content": ({"title": ("Python developer", None)}, "pending"),
        "done": ({}, "done"),
        "dead": ({}, "dead"),
        "ok": ({"StatusCode": ("200", "int"), "Error": ("", "str")}, "done"),
        "not modified": ({"StatusCode": ("304", "int")}, "dead"),
        "server error": ({"StatusCode": ("503", "int")}, None),
        "fetch error": ({"Error": ("connect timeout", "str")}, "done"),
        "not found": ({"StatusCode": ("404", "int"), "Error": ("HTTP 404", "str")}, None),
        "removed": ({"StatusCode": ("410", "int")}, None),
        "expired": ({"StatusCode": ("200", "int"), "Gone": ("true", "bool")}, None),
        "deleted file": ({"FileState": ("deleted", "str"), "Error": (None, None)}, None),
    }
    expected = {
        "queued": "queued",
        "feed to poll": "queued",
        "content": "fetched",
        "legacy content": "fetched",
        "done": "fetched",
        "dead": "failed",
        "ok": "fetched",
        "not modified": "fetched",
        "server error": "failed",
        "fetch error": "failed",
        "not found": "gone",
        "removed": "gone",
        "expired": "gone",
        "deleted file": "gone",
    }
    now = datetime(2026, 1, 2, 3, 4, 5)
    try:
        with db.transaction() as conn:
            command.downgrade(_config(conn), "0007")
        with db.transaction() as conn:  # rows as the code before 0008 wrote them
            engine_id = store.register_engine(conn, name="backfill", version="1")
            action_id = store.register_action(conn, name="backfillAction")
            ids = {}
            for name, (data, event) in rows.items():
                uri = f"https://backfill.test/{name.replace(' ', '-')}"
                conn.execute(
                    items.insert().values(
                        ItemURI=uri, ItemURIHash=uri_hash(uri), EngineId=engine_id, itemCreated=now
                    )
                )
                item_id = conn.execute(
                    select(items.c.itemId).where(items.c.ItemURI == uri)
                ).scalar_one()
                ids[name] = item_id
                for key, (value, tag) in data.items():
                    conn.execute(
                        item_data.insert().values(
                            itemId=item_id, itemData=key, itemDataValue=value, itemDataType=tag
                        )
                    )
                if event is not None:
                    conn.execute(
                        item_events.insert().values(
                            engineId=engine_id,
                            actionId=action_id,
                            itemId=item_id,
                            itemEventAddedDate=now,
                            itemEventDate=now if event == "done" else None,
                            itemEventDeadDate=now if event == "dead" else None,
                        )
                    )
    finally:
        upgrade(db)
    with db.read() as conn:
        states = dict(
            conn.execute(
                select(items.c.itemId, items.c.ItemState).where(
                    items.c.itemId.in_(list(ids.values()))
                )
            ).all()
        )
    assert {name: states[item_id] for name, item_id in ids.items()} == expected


def test_the_worker_rows_lose_their_unchosen_seed_and_keep_chosen_values(tmp_path: Path) -> None:
    """0009: MaxConcurrentJobs and DefaultDelay were read by nothing until workers followed
    them; a 5 there was the seed, not a choice, and becomes empty (and 5 again on downgrade)."""
    db = Database(f"sqlite:///{tmp_path / 'seeded.db'}")
    try:
        upgrade(db, "0007")
        with db.read() as conn:
            seeded = store.all_config(conn)
        assert (seeded["MaxConcurrentJobs"], seeded["DefaultDelay"]) == ("5", "5")
        db.run(store.set_config, name="DefaultDelay", value="2.5")

        upgrade(db)
        with db.read() as conn:
            config = store.all_config(conn)
        assert (config["MaxConcurrentJobs"], config["DefaultDelay"]) == ("", "2.5")
        assert config["RunQueue"] == "1"

        with db.transaction() as conn:
            command.downgrade(migrate._config(conn), "0007")
        with db.read() as conn:
            config = store.all_config(conn)
        assert (config["MaxConcurrentJobs"], config["DefaultDelay"]) == ("5", "2.5")
    finally:
        db.dispose()


def test_0010_renames_the_jobs_table_to_runs_and_back_keeping_its_rows(db: Database) -> None:
    """0010: an API-requested engine run is a run; its table, columns and index say so."""
    old = sa.table(
        "Jobs",
        sa.column("jobId", sa.Integer),
        sa.column("engineId", sa.Integer),
        sa.column("jobAction", sa.String),
        sa.column("jobState", sa.String),
        sa.column("jobCreated", sa.DateTime),
        sa.column("jobRequestedBy", sa.String),
    )
    now = datetime(2026, 1, 2, 3, 4, 5)
    try:
        with db.transaction() as conn:
            command.downgrade(_config(conn), "0009")
        with db.transaction() as conn:  # a row as the code before 0010 wrote it
            engine_id = store.register_engine(conn, name="renamed", version="1")
            conn.execute(
                old.insert().values(
                    engineId=engine_id,
                    jobAction="start",
                    jobState="done",
                    jobCreated=now,
                    jobRequestedBy="ops",
                )
            )
            job_id = conn.execute(
                select(old.c.jobId).where(old.c.engineId == engine_id)
            ).scalar_one()
    finally:
        upgrade(db)
    with db.read() as conn:
        run = runs_store.get_run(conn, run_id=job_id)
        tables = set(inspect(conn).get_table_names())
        indexes = {index["name"] for index in inspect(conn).get_indexes("Runs")}
    assert (run.engine_id, run.action, run.state, run.requested_by) == (
        engine_id,
        "start",
        "done",
        "ops",
    )
    assert run.created == now.replace(tzinfo=UTC)
    assert "Runs" in tables
    assert "Jobs" not in tables
    assert "ix_Runs_state" in indexes
    assert "ix_Jobs_state" not in indexes

    # Reversible: down again, the row is back under the old names.
    try:
        with db.transaction() as conn:
            command.downgrade(_config(conn), "0009")
        with db.read() as conn:
            tables = set(inspect(conn).get_table_names())
            back = conn.execute(select(old.c.jobAction).where(old.c.jobId == job_id)).scalar_one()
        assert "Jobs" in tables
        assert "Runs" not in tables
        assert back == "start"
    finally:
        upgrade(db)
    with db.read() as conn:  # and a run queued after the round trip gets a fresh id
        assert runs_store.get_run(conn, run_id=job_id).action == "start"
    created = db.run(
        runs_store.create_run,
        engine_id=engine_id,
        settings={},
        correlation_id=None,
        requested_by="ops",
    )
    assert created > job_id


def test_0014_adds_the_snapshot_link_type_and_its_downgrade_removes_it_with_its_links(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'snapshot.db'}")
    try:
        upgrade(db)
        with db.transaction() as conn:
            engine_id = store.register_engine(conn, name="snapper", version="1")
            store.store_items(
                conn,
                engine_id=engine_id,
                records=[
                    store.ItemRecord(
                        uri="https://a.example/",
                        links=[store.LinkSpec("urn:sha256:" + "0" * 64, "snapshot")],
                    )
                ],
            )
        with db.transaction() as conn:
            command.downgrade(_config(conn), "0013")
        with db.transaction() as conn:
            names = set(conn.execute(text("SELECT LinkTypeName FROM LinkTypes")).scalars())
            assert "snapshot" not in names
            assert conn.execute(text("SELECT COUNT(*) FROM ItemLinks")).scalar() == 0
        upgrade(db)
        with db.transaction() as conn:
            assert store.get_link_type_id(conn, name="snapshot") > 0
    finally:
        db.dispose()
