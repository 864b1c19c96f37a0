"""/api/admin: browse and edit the known Peregrin tables with a token; anything else is a 404."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import PEREGRIN_TABLES
from haystack_collector.store import admin
from tests.factories import make_uri
from tests.integration.api.items_fixtures import api_for, make_items

PEREGRIN = {table.name for table in PEREGRIN_TABLES}
ROUTES = [
    ("GET", "/api/admin/tables", None),
    ("GET", "/api/admin/tables/Config/schema", None),
    ("GET", "/api/admin/tables/Config/data", None),
    ("GET", "/api/admin/tables/Config/records/1", None),
    ("POST", "/api/admin/tables/Config/records", {"configName": "x"}),
    ("PUT", "/api/admin/tables/Config/records/1", {"configValue": "x"}),
    ("DELETE", "/api/admin/tables/Config/records/1", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_admin_route_needs_a_token_even_to_read(
    db: Database, method: str, path: str, body: dict[str, str] | None
) -> None:
    with api_for(db) as api:  # reads are open on loopback, but not the admin's
        missing = api.client.request(method, path, json=body)
        forged = api.client.request(
            method, path, json=body, headers={"Authorization": "Bearer forged"}
        )
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert forged.status_code == 401
    with db.read() as conn:  # nothing was changed or deleted
        assert store.get_config(conn, name="x") is None
        assert store.all_config(conn)


def test_tables_lists_the_peregrin_tables_with_their_counts(db: Database) -> None:
    make_items(db, 3)
    with api_for(db) as api:
        response = api.client.get("/api/admin/tables", headers=api.auth)
    assert response.status_code == 200
    tables = {table["name"]: table for table in response.json()}
    assert set(tables) == PEREGRIN
    assert tables["Items"]["rows"] == 3
    assert tables["Items"]["primary_key"] == "itemId"
    assert tables["LinkTypes"]["rows"] == 6  # the five of Peregrin and "snapshot"
    assert "ApiTokens" not in tables  # Haystack's own tables are not the admin's


def test_a_schema_is_read_from_the_database(db: Database) -> None:
    with api_for(db) as api:
        body = api.client.get("/api/admin/tables/ItemData/schema", headers=api.auth).json()
    columns = {column["name"]: column for column in body["columns"]}
    assert body["primary_key"] == "ItemDataId"
    assert columns["ItemDataId"]["primary_key"] is True
    assert columns["itemData"]["nullable"] is False
    assert columns["itemDataValue"]["nullable"] is True
    assert "TEXT" in columns["itemDataValue"]["type"].upper()
    assert not {"FTS_DOC_ID", "rowid"} & set(columns)
    assert set(columns) == {
        "ItemDataId",
        "itemId",
        "itemData",
        "itemDataValue",
        "itemDataSeq",
        "itemDataAdded",
        "itemDataType",
    }


def test_data_pages_and_searches_literally(db: Database) -> None:
    with db.transaction() as conn:
        for word in ("alpha", "beta", "100%_sure", "gamma"):
            store.set_config(conn, name=f"AdminApi{word}", value=word)
    with api_for(db) as api:
        everything = api.client.get("/api/admin/tables/Config/data", headers=api.auth).json()
        page = api.client.get(
            "/api/admin/tables/Config/data",
            params={"limit": 2, "offset": 1},
            headers=api.auth,
        ).json()
        found = api.client.get(
            "/api/admin/tables/Config/data", params={"search": "%_"}, headers=api.auth
        ).json()
    assert page["rows"] == everything["rows"][1:3]
    assert page["total"] == everything["total"] >= 4
    assert (page["limit"], page["offset"]) == (2, 1)
    assert [row["configValue"] for row in found["rows"]] == ["100%_sure"]
    assert found["total"] == 1


def test_a_record_is_created_read_updated_and_deleted(db: Database) -> None:
    with api_for(db) as api:
        created = api.client.post(
            "/api/admin/tables/Config/records",
            json={
                "configName": "AdminCrud",
                "configValue": "1",
                "configUpdated": "2026-01-02T03:04:05Z",
            },
            headers=api.auth,
        )
        assert created.status_code == 201, created.text
        record = created.json()
        path = f"/api/admin/tables/Config/records/{record['configId']}"
        assert record["configName"] == "AdminCrud"
        assert datetime.fromisoformat(record["configUpdated"]) == datetime(
            2026, 1, 2, 3, 4, 5, tzinfo=UTC
        )
        assert api.client.get(path, headers=api.auth).json() == record

        updated = api.client.put(path, json={"configValue": "2"}, headers=api.auth)
        assert updated.status_code == 200
        assert updated.json() == record | {"configValue": "2"}

        deleted = api.client.delete(path, headers=api.auth)
        assert deleted.status_code == 204
        assert api.client.get(path, headers=api.auth).status_code == 404
        assert api.client.delete(path, headers=api.auth).status_code == 404
        assert api.client.put(path, json={"configValue": "3"}, headers=api.auth).status_code == 404


def test_an_item_created_by_hand_gets_its_uri_key(db: Database) -> None:
    uri = make_uri("https://admin.test/hand-made")
    with api_for(db) as api:
        created = api.client.post(
            "/api/admin/tables/Items/records", json={"ItemURI": uri}, headers=api.auth
        )
        assert created.status_code == 201, created.text
        item_id = created.json()["itemId"]
        assert api.client.get(f"/api/items/{item_id}").json()["uri"] == uri
    with db.read() as conn:
        assert store.find_item_id(conn, uri=uri) == item_id


def test_deleting_an_item_takes_its_data_and_links_along(db: Database) -> None:
    [item] = make_items(db, 1, data=lambda n: {"Title": "doomed", "Body": "x"})
    with api_for(db) as api:
        response = api.client.delete(f"/api/admin/tables/Items/records/{item}", headers=api.auth)
        assert response.status_code == 204
        assert api.client.get(f"/api/items/{item}").status_code == 404
        remaining = api.client.get(
            "/api/admin/tables/ItemData/data", params={"search": "doomed"}, headers=api.auth
        ).json()
    assert remaining["total"] == 0


def test_deleting_a_row_others_need_is_a_409(db: Database) -> None:
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name="admin-busy", version="1")
    make_items(db, 1, engine_id=engine_id)
    with api_for(db) as api:
        response = api.client.delete(
            f"/api/admin/tables/Engines/records/{engine_id}", headers=api.auth
        )
    assert response.status_code == 409
    assert response.json()["detail"]


def test_a_duplicate_unique_value_is_a_409(db: Database) -> None:
    with api_for(db) as api:
        response = api.client.post(
            "/api/admin/tables/LinkTypes/records",
            json={"LinkTypeName": "contains"},
            headers=api.auth,
        )
    assert response.status_code == 409


HOSTILE_TABLES = [
    "alembic_version",
    "ApiTokens",
    "items",
    "Items;DROP TABLE Items",
    "Items--",
    "Items%00",
    "information_schema.tables",
    "sqlite_master",
    "ItemDataFts",
    "\u2028Items",
    "x" * 64,
]


@pytest.mark.parametrize("table", HOSTILE_TABLES)
def test_unknown_or_hostile_tables_are_404_on_every_route(db: Database, table: str) -> None:
    with api_for(db) as api:
        responses = [
            api.client.get(f"/api/admin/tables/{table}/schema", headers=api.auth),
            api.client.get(f"/api/admin/tables/{table}/data", headers=api.auth),
            api.client.get(f"/api/admin/tables/{table}/records/1", headers=api.auth),
            api.client.post(f"/api/admin/tables/{table}/records", json={}, headers=api.auth),
            api.client.put(f"/api/admin/tables/{table}/records/1", json={}, headers=api.auth),
            api.client.delete(f"/api/admin/tables/{table}/records/1", headers=api.auth),
        ]
    assert [r.status_code for r in responses] == [404] * 6
    assert all("detail" in r.json() for r in responses)
    with db.read() as conn:
        assert store.all_config(conn)


@pytest.mark.parametrize(
    "column",
    ["password", "configName = 1; --", "FTS_DOC_ID", "rowid", "configname", "", "tokenHash"],
)
def test_unknown_or_hostile_columns_are_404(db: Database, column: str) -> None:
    with api_for(db) as api:
        created = api.client.post(
            "/api/admin/tables/Config/records",
            json={"configName": "AdminCol", column: "x"},
            headers=api.auth,
        )
        updated = api.client.put(
            "/api/admin/tables/Config/records/1", json={column: "x"}, headers=api.auth
        )
    assert created.status_code == 404
    assert "no column" in created.json()["detail"]
    assert updated.status_code == 404
    with db.read() as conn:
        assert store.get_config(conn, name="AdminCol") is None


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({"configName": "T", "configUpdated": "last tuesday"}, 422),
        ({"configName": "T", "configUpdated": 5}, 422),
        ({"configName": "T", "configUpdated": "0001-01-01T00:00:00"}, 422),
        ({"configName": 5}, 201),  # a number is text's for the asking
        ({"configName": ["a"]}, 422),
        ({"configName": {"a": 1}}, 422),
        ({"configName": "x" * 101}, 422),  # longer than the column; never truncated
        ({"configName": "nul\x00"}, 422),
        ({"configValue": "no name"}, 422),  # configName is NOT NULL
        ({"configName": None}, 422),
    ],
)
def test_values_of_the_wrong_type_are_refused_clearly(
    db: Database, values: dict[str, object], status: int
) -> None:
    with api_for(db) as api:
        response = api.client.post(
            "/api/admin/tables/Config/records", json=values, headers=api.auth
        )
    assert response.status_code == status, response.text
    assert response.status_code != 500


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({"EngineDisabled": "yes"}, 422),
        ({"EngineDisabled": True}, 200),
        ({"EngineDisabled": 0}, 200),
        ({"EngineCreated": "2026-05-06T07:08:09"}, 200),
        ({"EngineName": "x" * 101}, 422),
        ({"EngineName": None}, 422),
    ],
)
def test_booleans_and_timestamps_are_typed(
    db: Database, values: dict[str, object], status: int
) -> None:
    with db.transaction() as conn:
        engine_id = store.register_engine(conn, name="admin-typed", version="1")
    with api_for(db) as api:
        response = api.client.put(
            f"/api/admin/tables/Engines/records/{engine_id}", json=values, headers=api.auth
        )
    assert response.status_code == status, response.text
    if status == 200:
        [(name, value)] = values.items()
        stored = response.json()[name]
        if name == "EngineCreated":
            assert datetime.fromisoformat(stored) == datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
        else:
            assert stored is bool(value)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/admin/tables/Config/records/abc"),
        ("GET", "/api/admin/tables/Config/records/-1"),
        ("GET", f"/api/admin/tables/Config/records/{2**40}"),
        ("DELETE", "/api/admin/tables/Config/records/1.5"),
        ("GET", "/api/admin/tables/Config/data?limit=0"),
        ("GET", "/api/admin/tables/Config/data?limit=501"),
        ("GET", "/api/admin/tables/Config/data?offset=-1"),
    ],
)
def test_bad_keys_and_paging_are_422(db: Database, method: str, path: str) -> None:
    with api_for(db) as api:
        response = api.client.request(method, path, headers=api.auth)
    assert response.status_code == 422


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "not json", "null"])
def test_a_body_that_is_not_an_object_is_422(db: Database, body: str) -> None:
    with api_for(db) as api:
        response = api.client.post(
            "/api/admin/tables/Config/records",
            content=body,
            headers={**api.auth, "Content-Type": "application/json"},
        )
    assert response.status_code == 422


# --- integrity: keys, derived columns and seeded rows ---------------------------------------


@pytest.mark.parametrize("value", ["²", "١٢", "9" * 25, "1e3"])
def test_an_integer_that_is_not_ascii_digits_is_422(db: Database, value: str) -> None:
    # "²".isdigit() is True and int("²") raises: once a 500.
    with api_for(db) as api:
        response = api.client.post(
            "/api/admin/tables/Items/records", json={"EngineId": value}, headers=api.auth
        )
    assert response.status_code == 422, response.text
    assert "EngineId: expected a 32-bit integer" in response.json()["detail"]


def test_a_primary_key_edit_is_refused_not_dropped(db: Database) -> None:
    [item] = make_items(db, 1)
    path = f"/api/admin/tables/Items/records/{item}"
    with api_for(db) as api:
        moved = api.client.put(path, json={"itemId": item + 1000}, headers=api.auth)
        same = api.client.put(path, json={"itemId": item}, headers=api.auth)
        chosen = api.client.post(
            "/api/admin/tables/Config/records",
            json={"configId": 4242, "configName": "picked"},
            headers=api.auth,
        )
    assert moved.status_code == 422
    assert moved.json() == {"detail": "itemId: the primary key cannot be changed"}
    assert same.status_code == 200  # the row's own key is no change
    assert chosen.status_code == 422
    assert chosen.json() == {"detail": "configId: the primary key is given by the database"}
    with db.read() as conn:
        assert store.get_config(conn, name="picked") is None


def test_the_uri_hash_follows_the_uri_and_cannot_be_set(db: Database) -> None:
    [item] = make_items(db, 1)
    with db.read() as conn:
        old_uri = store.get_item(conn, item_id=item).uri
    new_uri = make_uri("https://admin.test/moved")
    path = f"/api/admin/tables/Items/records/{item}"
    with api_for(db) as api:
        forged = api.client.put(path, json={"ItemURIHash": "0" * 64}, headers=api.auth)
        forged_new = api.client.post(
            "/api/admin/tables/Items/records",
            json={"ItemURI": make_uri("https://admin.test/n"), "ItemURIHash": "1" * 64},
            headers=api.auth,
        )
        moved = api.client.put(path, json={"ItemURI": new_uri}, headers=api.auth)
    assert forged.status_code == 422
    assert forged.json() == {"detail": "ItemURIHash: derived from ItemURI, not set by hand"}
    assert forged_new.status_code == 422
    assert moved.status_code == 200
    with db.read() as conn:
        # A re-crawl of either URI finds the one item (or none), never makes a second.
        assert store.find_item_id(conn, uri=new_uri) == item
        assert store.find_item_id(conn, uri=old_uri) is None


@pytest.mark.parametrize(
    ("table", "column", "name"),
    [
        ("LinkTypes", "LinkTypeName", "references"),
        ("Actions", "actionName", "WebCrawler"),
        ("Engines", "EngineName", "SystemEngine"),
    ],
)
def test_seeded_rows_are_neither_deleted_nor_renamed(
    db: Database, table: str, column: str, name: str
) -> None:
    with api_for(db) as api:
        rows = api.client.get(
            f"/api/admin/tables/{table}/data", params={"search": name}, headers=api.auth
        ).json()["rows"]
        [row] = [r for r in rows if r[column] == name]
        key = next(k for k in row if k.lower().endswith("id"))
        path = f"/api/admin/tables/{table}/records/{row[key]}"
        deleted = api.client.delete(path, headers=api.auth)
        renamed = api.client.put(path, json={column: name + "-x"}, headers=api.auth)
        kept = api.client.put(path, json={column: name}, headers=api.auth)
    assert deleted.status_code == 409
    assert "is seeded and used by Haystack" in deleted.json()["detail"]
    assert renamed.status_code == 409
    assert kept.status_code == 200
    with api_for(db) as api:
        assert api.client.get(path, headers=api.auth).json()[column] == name


def test_a_row_added_by_hand_to_a_seeded_table_can_be_deleted(db: Database) -> None:
    with api_for(db) as api:
        created = api.client.post(
            "/api/admin/tables/LinkTypes/records",
            json={"LinkTypeName": "hand-made", "LinkTypeDesc": "mine"},
            headers=api.auth,
        )
        path = f"/api/admin/tables/LinkTypes/records/{created.json()['LinkTypeId']}"
        assert api.client.delete(path, headers=api.auth).status_code == 204


def test_the_seeded_names_are_the_ones_the_migrations_seed(db: Database) -> None:
    for table, (column, names) in admin.SEEDED.items():
        with db.read() as conn:
            stored = {row[column] for row in admin.table_rows(conn, table=table, limit=500)}
        assert names <= stored, table


def test_an_item_state_outside_the_four_is_refused(db: Database) -> None:
    with api_for(db) as api:
        answer = api.client.post(
            "/api/admin/tables/Items/records",
            json={"ItemURI": "https://example.com/s", "ItemState": "weird"},
            headers=api.auth,
        )
        fine = api.client.post(
            "/api/admin/tables/Items/records",
            json={"ItemURI": "https://example.com/t", "ItemState": "gone"},
            headers=api.auth,
        )
    assert answer.status_code == 422
    assert "fetched, queued, failed, gone" in answer.text
    assert fine.status_code == 201, fine.text
