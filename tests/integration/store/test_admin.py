"""The admin reaches only the known Peregrin tables and columns; any other name is not found."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_data, item_versions, item_visits
from haystack_collector.errors import IntegrityViolation, NotFoundError
from haystack_collector.store import admin, revisits, versions
from tests.factories import make_uri


def test_every_peregrin_table_is_known_and_counted(db: Database) -> None:
    with db.read() as conn:
        counts = admin.table_counts(conn)
    assert set(counts) == {
        "Engines",
        "Actions",
        "EngineActions",
        "Items",
        "ItemData",
        "ItemEvents",
        "LinkTypes",
        "ItemLinks",
        "Status",
        "Config",
    }
    assert counts["LinkTypes"] == 6  # the five of Peregrin and "snapshot"
    assert counts["Items"] == 0


def test_the_schema_is_read_from_the_database(db: Database) -> None:
    with db.read() as conn:
        columns = {c.name: c for c in admin.table_schema(conn, table="Items")}
    assert columns["itemId"].primary_key
    assert "ItemURIHash" in columns
    assert not columns["ItemURI"].nullable


@pytest.mark.parametrize(
    "name",
    [
        "alembic_version",
        "Items; DROP TABLE Items",
        "items",
        "../Items",
        "information_schema.tables",
    ],
)
def test_unknown_tables_are_not_found_and_never_reach_sql(db: Database, name: str) -> None:
    with db.transaction() as conn:
        for call in (
            lambda: admin.table_count(conn, table=name),
            lambda: admin.table_rows(conn, table=name),
            lambda: admin.delete_record(conn, table=name, record_id=1),
        ):
            with pytest.raises(NotFoundError):
                call()
    with db.read() as conn:
        assert "Items" in inspect(conn).get_table_names()


def test_rows_page_and_search_with_wildcards_taken_literally(db: Database) -> None:
    with db.transaction() as conn:
        for word in ("alpha", "beta", "100%_sure", "gamma"):
            store.set_config(conn, name=f"Test{word}", value=word)
        page = admin.table_rows(conn, table="Config", limit=2, offset=1)
        found = admin.table_rows(conn, table="Config", search="%_")
        assert admin.table_count(conn, table="Config", search="%_") == 1
    assert len(page) == 2
    assert [row["configValue"] for row in found] == ["100%_sure"]


def test_records_are_created_read_updated_and_deleted(db: Database) -> None:
    with db.transaction() as conn:
        record_id = admin.create_record(
            conn, table="Config", values={"configName": "Admin", "configValue": "1"}
        )
        admin.update_record(conn, table="Config", record_id=record_id, values={"configValue": "2"})
        assert admin.get_record(conn, table="Config", record_id=record_id)["configValue"] == "2"
        admin.delete_record(conn, table="Config", record_id=record_id)
        with pytest.raises(NotFoundError):
            admin.get_record(conn, table="Config", record_id=record_id)
        with pytest.raises(NotFoundError):
            admin.delete_record(conn, table="Config", record_id=record_id)


def test_unknown_columns_are_refused(db: Database) -> None:
    with db.transaction() as conn:
        with pytest.raises(NotFoundError, match="no column"):
            admin.update_record(
                conn, table="Config", record_id=1, values={"configName = 1; --": "x"}
            )
        with pytest.raises(NotFoundError, match="no column"):
            admin.create_record(conn, table="Config", values={"password": "x"})


def test_deleting_an_item_deletes_its_data_events_links_versions_and_visits(db: Database) -> None:
    with db.transaction() as conn:
        item = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        other = store.get_or_create_item(conn, uri=make_uri(), engine_id=None).item_id
        store.set_item_data(conn, item_id=item, key="title", value="x")
        store.set_item_data(conn, item_id=item, key="title", value="y")  # version 1 is kept
        revisits.record_visit(conn, item_id=item, engine_id=None, status=200)
        store.add_link(conn, engine_id=None, left=other, right=item, link_type="contains")
        assert versions.current_version(conn, item_id=item) == 2
        admin.delete_record(conn, table="Items", record_id=item)
        assert store.get_item(conn, item_id=item) is None
        assert store.get_links(conn, item_id=other) == []
        for table in (item_data, item_versions, item_visits):
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


def test_deleting_a_row_others_depend_on_is_refused(db: Database) -> None:
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name="busy", version="1")
        store.get_or_create_item(conn, uri=make_uri(), engine_id=engine_id)
    with pytest.raises(IntegrityViolation), db.transaction() as conn:
        admin.delete_record(conn, table="Engines", record_id=engine_id)
