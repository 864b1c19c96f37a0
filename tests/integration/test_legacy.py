"""PeregrinDB: the original Peregrin class, on top of the store, on every backend."""

from __future__ import annotations

import configparser
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from haystack_collector.db import Database
from haystack_collector.errors import ConfigError, DatabaseError, NotFoundError
from haystack_collector.legacy import ITEM_EXISTS, PeregrinDB, UnknownNameError
from haystack_collector.legacy.PeregrinDB_v2 import PeregrinDB as PeregrinDBv2
from haystack_collector.legacy.PeregrinDB_v2 import PeregrinDBError
from haystack_collector.store import ItemValue
from tests.databases import recreate_server_database, selected_backends, server_database_name

LEGACY_DATABASE = server_database_name("mariadb", "haystack_legacy_test")
INI = f"""\
[Database]
server = 127.0.0.1
user = root
password =
schema = {LEGACY_DATABASE}
PoolSize = 3
"""

needs_mariadb = pytest.mark.skipif(
    "mariadb" not in selected_backends(), reason="HAYSTACK_TEST_BACKENDS excludes mariadb"
)


@pytest.fixture
def legacy(db: Database) -> PeregrinDB:
    return PeregrinDB.from_database(db)


@pytest.fixture
def engine(legacy: PeregrinDB) -> int:
    return legacy.addEngine("LegacyTestEngine", "1.0", "an engine for the legacy tests")


@pytest.fixture(scope="module")
def mariadb_legacy_database() -> None:
    recreate_server_database("mariadb", "haystack_legacy_test")


@pytest.fixture
def connected() -> Iterator[PeregrinDB]:
    """A PeregrinDB the test connects itself; closed afterwards whatever happened."""
    peregrin = PeregrinDB()
    try:
        yield peregrin
    finally:
        peregrin.close_db()


def _ini() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read_string(INI)
    return config


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# connect_db, close_db, info ------------------------------------------------------------------


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
def test_the_original_snippet_runs_against_mariadb_configured_by_an_ini_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _ini()

    db = PeregrinDB()
    db.connect_db(config)
    print(db.get_pool_status())

    try:
        printed = capsys.readouterr().out
        assert "'size': 3" in printed
        assert "'checked_out': 0" in printed
        assert db.info()["dialect"] == "mysql"
        assert db.info()["database"] == LEGACY_DATABASE
        assert db.getConfig("RunQueue") == "1"  # connect_db created the schema and its seeds
    finally:
        db.close_db()


FLAT_CONFIG = {
    "host": "127.0.0.1",
    "port": 3306,
    "user": "root",
    "password": "",
    "database": LEGACY_DATABASE,
    "charset": "utf8mb4",
    "pool_size": 5,
    "max_overflow": 10,
}
DB_VARIABLES = (
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "DB_NAME",
    "DB_CHARSET",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_TIMEOUT",
    "DB_POOL_RECYCLE",
)


@pytest.fixture
def db_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No DB_* variable set, for the test to set its own."""
    for name in DB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _connection_charset(peregrin: PeregrinDB) -> str:
    with peregrin._database().read() as conn:
        return str(conn.execute(text("SELECT @@character_set_connection")).scalar_one())


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
def test_the_seed_usage_runs_with_the_flat_dict_of_the_original_create_database_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = dict(FLAT_CONFIG)

    db = PeregrinDB()
    db.connect_db(config)
    print(db.get_pool_status())

    try:
        assert "'size': 5" in capsys.readouterr().out
        assert db.info()["database"] == LEGACY_DATABASE
        assert _connection_charset(db) == "utf8mb4"
        assert db.getConfig("RunQueue") == "1"
    finally:
        db.close_db()


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
def test_a_flat_dict_sets_the_charset_and_every_pool_option(connected: PeregrinDB) -> None:
    connected.connect_db(
        {
            **FLAT_CONFIG,
            "port": "3306",
            "charset": "latin1",
            "pool_size": 2,
            "max_overflow": 0,
            "pool_timeout": 5,
            "pool_recycle": 60,
            "pool_pre_ping": False,
        }
    )

    assert _connection_charset(connected) == "latin1"
    engine = connected._database().engine
    assert connected.get_pool_status()["size"] == 2
    assert (engine.pool._max_overflow, engine.pool._timeout) == (0, 5)  # type: ignore[attr-defined]
    assert (engine.pool._recycle, engine.pool._pre_ping) == (60, False)  # type: ignore[attr-defined]


ORIGINAL_INI = f"""\
[Database]
Server = 127.0.0.1
Port = 3306
User = root
Password =
Schema = {LEGACY_DATABASE}
Charset = latin1
PoolSize = 4
MaxOverflow = 1
PoolTimeout = 7
PoolRecycle = 120
"""


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
@pytest.mark.parametrize("keep_case", [False, True], ids=["ConfigParser", "case-keeping parser"])
def test_a_configparser_with_the_original_capitalised_keys_connects(
    connected: PeregrinDB, keep_case: bool
) -> None:
    config = configparser.ConfigParser(interpolation=None)
    if keep_case:
        config.optionxform = str  # type: ignore[assignment,method-assign]
    config.read_string(ORIGINAL_INI)

    connected.connect_db(config)

    assert connected.get_pool_status()["size"] == 4
    assert connected.info()["database"] == LEGACY_DATABASE
    assert _connection_charset(connected) == "latin1"
    pool = connected._database().engine.pool
    assert (pool._max_overflow, pool._timeout, pool._recycle) == (1, 7, 120)  # type: ignore[attr-defined]


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
@pytest.mark.parametrize("config", [None, {}], ids=["None", "empty dict"])
def test_a_config_naming_no_database_connects_with_the_db_variables(
    connected: PeregrinDB, db_environment: pytest.MonkeyPatch, config: dict[str, Any] | None
) -> None:
    db_environment.setenv("DB_HOST", "127.0.0.1")
    db_environment.setenv("DB_USER", "root")
    db_environment.setenv("DB_NAME", LEGACY_DATABASE)
    db_environment.setenv("DB_CHARSET", "latin1")
    db_environment.setenv("DB_POOL_SIZE", "6")

    connected.connect_db(config)

    assert connected.info()["database"] == LEGACY_DATABASE
    assert connected.get_pool_status()["size"] == 6
    assert _connection_charset(connected) == "latin1"


def test_connect_db_refuses_an_unknown_flat_key_by_name_and_stays_unconnected(
    connected: PeregrinDB,
) -> None:
    with pytest.raises(ConfigError, match="unknown option 'charsett'"):
        connected.connect_db({**FLAT_CONFIG, "charsett": "utf8mb4"})

    assert connected.info()["connected"] is False


def test_connect_db_refuses_a_url_and_a_host_together(connected: PeregrinDB) -> None:
    with pytest.raises(ConfigError, match="'host' and a database_url"):
        connected.connect_db({"database_url": "sqlite://", "host": "127.0.0.1"})


def test_connect_db_takes_pool_options_beside_a_url(connected: PeregrinDB, tmp_path: Path) -> None:
    connected.connect_db({"database_url": f"sqlite:///{tmp_path / 'legacy.db'}", "pool_size": 3})

    assert connected._database().engine.pool.size() == 3  # type: ignore[attr-defined]


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
def test_connect_db_takes_the_ini_as_a_dict(connected: PeregrinDB) -> None:
    config = {
        "Database": {
            "server": "127.0.0.1",
            "user": "root",
            "password": "",
            "schema": LEGACY_DATABASE,
            "PoolSize": 2,
        }
    }

    connected.connect_db(config)

    assert connected.get_pool_status()["size"] == 2
    assert connected.info()["server"] == "127.0.0.1"
    engine_id = connected.addEngine("DictConfigured", "1.0")
    assert connected.getEngineDisabled(engine_id) is False


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
def test_the_ini_not_the_environment_decides_which_database_is_opened(
    connected: PeregrinDB, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAYSTACK_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")

    connected.connect_db(_ini())

    assert connected.info()["dialect"] == "mysql"


@pytest.mark.parametrize("key", ["database_url", "url"])
def test_connect_db_takes_a_plain_database_url(
    connected: PeregrinDB, tmp_path: Path, key: str
) -> None:
    connected.connect_db({key: f"sqlite:///{tmp_path / 'legacy.db'}"})

    assert connected.info()["dialect"] == "sqlite"
    assert set(connected.get_pool_status()) == {"size", "checked_in", "checked_out", "overflow"}
    assert connected.getConfig("RunQueue") == "1"  # the seeds are there: it was migrated


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
def test_a_database_section_without_a_server_means_localhost_as_in_the_original(
    connected: PeregrinDB,
) -> None:
    connected.connect_db({"Database": {"user": "root", "schema": LEGACY_DATABASE}})

    assert connected.info()["server"] == "localhost"
    assert connected.info()["database"] == LEGACY_DATABASE


def test_connect_db_refuses_options_it_does_not_know(connected: PeregrinDB) -> None:
    with pytest.raises(ConfigError, match="'databse_url'"):
        connected.connect_db({"databse_url": "sqlite://"})


def test_info_masks_the_password() -> None:
    database = Database("postgresql://haystack:s3cret@127.0.0.1:5432/anywhere")
    try:
        info = PeregrinDB.from_database(database).info()
    finally:
        database.dispose()

    assert "s3cret" not in repr(info)
    assert info["url"] == "postgresql+psycopg://haystack:***@127.0.0.1:5432/anywhere"
    assert info["user"] == "haystack"


def test_every_method_needs_a_connection_first() -> None:
    peregrin = PeregrinDB()

    assert peregrin.info() == {"connected": False, "engine_id": None}
    with pytest.raises(DatabaseError, match="connect_db"):
        peregrin.getConfig("RunQueue")
    with pytest.raises(DatabaseError, match="connect_db"):
        peregrin.get_pool_status()


def test_commit_db_is_a_harmless_no_op(legacy: PeregrinDB) -> None:
    legacy.addConfig("LegacyCommitTest", "written")

    legacy.commit_db()

    assert legacy.getConfig("LegacyCommitTest") == "written"


def test_close_db_detaches_but_leaves_a_wrapped_database_to_its_owner(db: Database) -> None:
    peregrin = PeregrinDB.from_database(db)

    peregrin.close_db()

    with pytest.raises(DatabaseError):
        peregrin.getConfig("RunQueue")
    assert db.health_check().ok


def test_close_db_disposes_of_a_pool_it_opened(tmp_path: Path) -> None:
    peregrin = PeregrinDB()
    peregrin.connect_db({"database_url": f"sqlite:///{tmp_path / 'legacy.db'}"})
    database = peregrin._db
    assert database is not None

    peregrin.close_db()

    assert database.pool_status().checked_in == 0
    assert peregrin.info()["connected"] is False


def test_get_pool_status_reports_the_pool(legacy: PeregrinDB) -> None:
    status = legacy.get_pool_status()

    assert set(status) == {"size", "checked_in", "checked_out", "overflow"}
    assert status["checked_out"] == 0


def test_set_id_keeps_the_current_engine_id_on_the_object(legacy: PeregrinDB, engine: int) -> None:
    assert legacy.get_id() is None

    legacy.set_id(engine)

    assert legacy.get_id() == engine
    assert legacy.info()["engine_id"] == engine


# Status and config ---------------------------------------------------------------------------


def test_status_messages_come_back_newest_first_as_tuples(legacy: PeregrinDB, engine: int) -> None:
    action = legacy.addAction("WebCrawler")
    first = legacy.addStatus(engine, action, "crawl started")
    second = legacy.addStatus(engine, None, "crawl finished")

    rows = legacy.getStatus(2)

    assert [row[0] for row in rows] == [second, first]
    status_id, engine_id, action_id, message, date = rows[1]
    assert (status_id, engine_id, action_id, message) == (first, engine, action, "crawl started")
    assert isinstance(date, datetime)
    assert len(legacy.getStatus(1)) == 1


def test_config_values_are_set_read_and_replaced(legacy: PeregrinDB) -> None:
    assert legacy.getConfig("LegacyTestKey") is None

    assert legacy.addConfig("LegacyTestKey", "one") is True
    assert legacy.addConfig("LegacyTestKey", "one") is False  # unchanged
    assert legacy.addConfig("LegacyTestKey", "two") is True

    assert legacy.getConfig("LegacyTestKey") == "two"
    names = {row["configName"]: row["configValue"] for row in legacy.getAllConfig(limit=1000)}
    assert names["LegacyTestKey"] == "two"


# Engines and actions -------------------------------------------------------------------------


def test_add_engine_registers_once_and_returns_the_same_id(legacy: PeregrinDB) -> None:
    first = legacy.addEngine("Registered", "2.0", "first")
    again = legacy.addEngine("Registered", "2.0", "second description")

    assert again == first
    rows = [row for row in legacy.getEngines(limit=1000) if row["EngineId"] == first]
    assert rows[0]["EngineDesc"] == "second description"


def test_an_engine_is_enabled_until_updated_otherwise(legacy: PeregrinDB, engine: int) -> None:
    assert legacy.getEngineDisabled(engine) is False

    legacy.updateEngine(engine, EngineDisabled=True)
    assert legacy.getEngineDisabled(engine) is True

    legacy.updateEngine(engine, {"EngineDisabled": False, "EngineDesc": "back on"})
    assert legacy.getEngineDisabled(engine) is False
    assert legacy.searchTable("Engines", "back on")[0]["EngineId"] == engine


def test_update_engine_refuses_unknown_columns_and_engines(legacy: PeregrinDB, engine: int) -> None:
    with pytest.raises(UnknownNameError):
        legacy.updateEngine(engine, {"EngineDisabled = 1; --": True})
    with pytest.raises(NotFoundError):
        legacy.updateEngine(999_999, EngineDesc="nobody")
    with pytest.raises(NotFoundError):
        legacy.getEngineDisabled(999_999)


def test_actions_and_engine_actions_register_idempotently(legacy: PeregrinDB, engine: int) -> None:
    action = legacy.addAction("LegacyTestAction", "does a thing")
    assert legacy.addAction("LegacyTestAction") == action
    assert any(row["actionId"] == action for row in legacy.getActions(limit=1000))

    link = legacy.addEngineAction(engine, action, "run_it")
    assert legacy.addEngineAction(engine, action, "run_it_again", "--fast") == link

    row = legacy.searchTable("EngineActions", "run_it_again")[0]
    assert (row["engineActionId"], row["actionParams"]) == (link, "--fast")


# Items and their events ----------------------------------------------------------------------


def test_add_item_stores_the_uri_date_and_an_event_per_action(
    legacy: PeregrinDB, engine: int
) -> None:
    crawl = legacy.addAction("WebCrawler")
    parse = legacy.addAction("ParseContents")
    date = datetime(2024, 1, 2, 3, 4, 5)

    item = legacy.addItem(engine, "https://example.org/a", date, [crawl], ["ParseContents", crawl])

    assert legacy.getItemURI(item) == "https://example.org/a"
    row = legacy.searchTable("Items", "https://example.org/a")[0]
    assert _naive(row["ItemDTS"]) == date
    assert legacy.getItemList(engine, "WebCrawler") == [(item, "https://example.org/a")]
    assert legacy.getItemList(engine, "ParseContents") == [(item, "https://example.org/a")]
    assert {r["actionId"] for r in _events_of(legacy, item)} == {crawl, parse}


def test_add_item_again_keeps_the_id_moves_the_date_and_queues_no_duplicate(
    legacy: PeregrinDB, engine: int
) -> None:
    item = legacy.addItem(engine, "https://example.org/b", datetime(2024, 1, 1), ["WebCrawler"])

    again = legacy.addItem(engine, "https://example.org/b", "2024-06-01 12:00:00", ["WebCrawler"])

    assert again == item
    row = legacy.searchTable("Items", "https://example.org/b")[0]
    assert _naive(row["ItemDTS"]) == datetime(2024, 6, 1, 12)
    assert len(_events_of(legacy, item)) == 1


def test_add_item_takes_a_single_action_name_as_a_list_of_one(
    legacy: PeregrinDB, engine: int
) -> None:
    item = legacy.addItem(engine, "https://example.org/single", None, "WebCrawler")

    assert legacy.getItemList(engine, "WebCrawler") == [(item, "https://example.org/single")]


def test_add_item_with_an_unknown_action_stores_nothing(legacy: PeregrinDB, engine: int) -> None:
    items_before = legacy.getTableCount("Items")

    with pytest.raises(NotFoundError, match="NoSuchAction"):
        legacy.addItem(engine, "https://example.org/c", None, ["WebCrawler", "NoSuchAction"])

    assert legacy.getTableCount("Items") == items_before  # one unit of work, rolled back


def test_add_new_item_returns_minus_one_for_a_known_uri_and_changes_nothing(
    legacy: PeregrinDB, engine: int
) -> None:
    item = legacy.addNewItem(engine, "https://example.org/new", datetime(2024, 1, 1))
    assert item > 0

    again = legacy.addNewItem(
        engine, "https://example.org/new", datetime(2025, 1, 1), ["WebCrawler"]
    )

    assert again == ITEM_EXISTS == -1
    row = legacy.searchTable("Items", "https://example.org/new")[0]
    assert _naive(row["ItemDTS"]) == datetime(2024, 1, 1)
    assert _events_of(legacy, item) == []


def test_add_new_item_queues_events_like_add_item(legacy: PeregrinDB, engine: int) -> None:
    item = legacy.addNewItem(engine, "https://example.org/fresh", None, ["WebCrawler"])

    assert legacy.getItemList(engine, "WebCrawler") == [(item, "https://example.org/fresh")]


def test_get_item_uri_of_a_missing_item_raises_not_found(legacy: PeregrinDB) -> None:
    with pytest.raises(NotFoundError, match="999999"):
        legacy.getItemURI(999_999)


def test_an_event_is_queued_once_and_completed_by_update_item(
    legacy: PeregrinDB, engine: int
) -> None:
    crawl = legacy.addAction("WebCrawler")
    first = legacy.addItem(engine, "https://example.org/1", None)
    second = legacy.addItem(engine, "https://example.org/2", None)

    assert legacy.addItemEvent(engine, crawl, first) is True
    assert legacy.addItemEvent(engine, crawl, first) is False  # idempotent
    assert legacy.addItemEvent(engine, crawl, second) is True
    assert legacy.getItemList(engine, "WebCrawler") == [
        (first, "https://example.org/1"),
        (second, "https://example.org/2"),
    ]

    assert legacy.updateItem(engine, first, crawl, datetime(2024, 5, 5, tzinfo=UTC)) is True
    assert legacy.updateItem(engine, first, crawl, datetime(2024, 5, 6)) is False  # already done

    assert legacy.getItemList(engine, "WebCrawler") == [(second, "https://example.org/2")]
    done = _events_of(legacy, first)[0]
    assert _naive(done["itemEventDate"]) == datetime(2024, 5, 5)


def test_get_item_list_of_an_unknown_action_is_empty(legacy: PeregrinDB, engine: int) -> None:
    legacy.addItem(engine, "https://example.org/queued", None, ["WebCrawler"])

    assert legacy.getItemList(engine, "NoSuchAction") == []


# Item data -----------------------------------------------------------------------------------


def test_item_data_values_are_appended_in_sequence(legacy: PeregrinDB, engine: int) -> None:
    item = legacy.addItem(engine, "https://example.org/data", None)

    legacy.addItemData(item, "title", "First title")
    legacy.addItemData(item, "tag", "b")
    legacy.addItemData(item, "tag", "a")
    legacy.addItemData(item, "tag", "first", seq=-1)

    assert legacy.getItemDataList(item, "tag") == ["first", "b", "a"]
    assert legacy.getItemDataList(item, "missing") == []
    assert legacy.getItemDataAll(item) == [
        ("tag", "first", -1),
        ("tag", "b", 0),
        ("tag", "a", 1),
        ("title", "First title", 0),
    ]


def test_item_data_keeps_its_python_type(legacy: PeregrinDB, engine: int) -> None:
    item = legacy.addItem(engine, "https://example.org/typed", None)
    values: list[ItemValue] = [
        42,
        1.5,
        True,
        Decimal("9.99"),
        {"k": [1, 2]},
        datetime(2024, 1, 1, tzinfo=UTC),
    ]

    for value in values:
        legacy.addItemData(item, "typed", value)

    assert legacy.getItemDataList(item, "typed") == values


def test_get_item_data_lists_every_item_holding_a_key(legacy: PeregrinDB, engine: int) -> None:
    first = legacy.addItem(engine, "https://example.org/k1", None)
    second = legacy.addItem(engine, "https://example.org/k2", None)
    legacy.addItemData(first, "legacy-colour", "red")
    legacy.addItemData(second, "legacy-colour", "blue")
    legacy.addItemData(second, "legacy-size", 3)

    assert legacy.getItemData("legacy-colour") == [(first, "red"), (second, "blue")]
    assert legacy.getItemData("legacy-nothing") == []


def test_update_item_data_replaces_one_row_and_its_type(legacy: PeregrinDB, engine: int) -> None:
    item = legacy.addItem(engine, "https://example.org/edit", None)
    row_id = legacy.addItemData(item, "price", "unknown")

    legacy.updateItemData(row_id, 12)

    assert legacy.getItemDataList(item, "price") == [12]
    rows = legacy.getItemDataPaginated(limit=1000)
    assert any(r["ItemDataId"] == row_id and r["itemDataValue"] == "12" for r in rows)
    with pytest.raises(NotFoundError):
        legacy.updateItemData(999_999, "nothing there")


# Links ---------------------------------------------------------------------------------------


def test_a_link_is_stated_once(legacy: PeregrinDB, engine: int) -> None:
    search = legacy.addItem(engine, "https://example.org/search", None)
    result = legacy.addItem(engine, "https://example.org/result", None)
    links_before = legacy.getTableCount("ItemLinks")

    assert legacy.addItemLink(engine, search, result, "contains") is True
    assert legacy.addItemLink(engine, search, result, "contains") is False

    assert legacy.getTableCount("ItemLinks") == links_before + 1


def test_a_link_of_an_unknown_type_is_refused(legacy: PeregrinDB, engine: int) -> None:
    left = legacy.addItem(engine, "https://example.org/l", None)
    right = legacy.addItem(engine, "https://example.org/r", None)

    with pytest.raises(NotFoundError, match="sibling"):
        legacy.addItemLink(engine, left, right, "sibling")


# Admin helpers -------------------------------------------------------------------------------


def test_admin_pages_are_lists_of_dict_rows(legacy: PeregrinDB, engine: int) -> None:
    for number in range(3):
        legacy.addItem(engine, f"https://example.org/page/{number}", None)
    total = legacy.getTableCount("Items")

    first_page = legacy.getItems(limit=2)
    rest = legacy.getItems(limit=1000, offset=2)

    assert len(first_page) == 2
    assert len(first_page) + len(rest) == total
    assert {"itemId", "ItemURI", "ItemDTS"} <= set(first_page[0])
    assert all(isinstance(row, dict) for row in legacy.getEngines() + legacy.getActions())
    assert legacy.getAllConfig(limit=1)[0]["configName"]


def test_search_table_takes_the_term_literally(legacy: PeregrinDB, engine: int) -> None:
    legacy.addItem(engine, "https://example.org/100%-real", None)
    legacy.addItem(engine, "https://example.org/100x-fake", None)

    found = legacy.searchTable("Items", "100%")

    assert [row["ItemURI"] for row in found] == ["https://example.org/100%-real"]
    assert legacy.searchTable("Items", "100%", offset=1) == []


def test_delete_record_removes_an_item_with_its_data_events_and_links(
    legacy: PeregrinDB, engine: int
) -> None:
    item = legacy.addItem(engine, "https://example.org/doomed", None, ["WebCrawler"])
    other = legacy.addItem(engine, "https://example.org/survivor", None)
    legacy.addItemData(item, "title", "doomed")
    legacy.addItemLink(engine, other, item, "references")

    legacy.deleteRecord("Items", item)

    with pytest.raises(NotFoundError):
        legacy.getItemURI(item)
    assert legacy.getItemDataAll(item) == []
    assert _events_of(legacy, item) == []
    assert legacy.getItemURI(other) == "https://example.org/survivor"
    with pytest.raises(NotFoundError):
        legacy.deleteRecord("Items", item)


@pytest.mark.parametrize(
    "table", ["NoSuchTable", "Items; DROP TABLE Items", "items", "Items --", ""]
)
def test_unknown_table_names_are_refused_and_never_reach_sql(
    legacy: PeregrinDB, engine: int, table: str
) -> None:
    item = legacy.addItem(engine, "https://example.org/kept", None)
    items_before = legacy.getTableCount("Items")

    with pytest.raises(UnknownNameError):
        legacy.deleteRecord(table, item)
    with pytest.raises(ValueError, match="no table named"):  # what the original raised
        legacy.getTableCount(table)
    with pytest.raises(NotFoundError):
        legacy.searchTable(table, "kept")

    assert legacy.getTableCount("Items") == items_before
    assert legacy.getItemURI(item) == "https://example.org/kept"


def _events_of(legacy: PeregrinDB, item_id: int) -> list[dict[str, Any]]:
    rows = legacy.searchTable("ItemEvents", str(item_id), limit=1000)
    return [row for row in rows if row["itemId"] == item_id]


# PeregrinDB_v2: the 2.0 conventions ------------------------------------------------------------


def test_v2_before_connecting_has_engine_minus_one_its_title_and_no_pool() -> None:
    peregrin = PeregrinDBv2()

    assert peregrin.get_id() == -1
    assert peregrin.info()[:2] == ("PeregrinDB", "2.0")
    assert peregrin.get_pool_status() == {"status": "not_connected"}


@needs_mariadb
@pytest.mark.usefixtures("mariadb_legacy_database")
def test_v2_connects_registers_its_engine_and_reports_an_active_pool() -> None:
    peregrin = PeregrinDBv2()
    peregrin.connect_db(dict(FLAT_CONFIG))
    try:
        engines = {row["EngineName"]: row for row in peregrin.getEngines()}
        assert peregrin.get_id() == engines["PeregrinDB"]["EngineId"]
        assert engines["PeregrinDB"]["EngineVersion"] == "2.0"
        status = peregrin.get_pool_status()
        assert status["status"] == "active"
        assert status["pool_size"] == 5
        assert {"checked_in", "checked_out", "overflow"} <= status.keys()
    finally:
        peregrin.close_db()

    assert peregrin.get_id() == -1
    assert peregrin.get_pool_status() == {"status": "not_connected"}


def test_v2_keeps_its_config_and_item_conventions(db: Database) -> None:
    peregrin = PeregrinDBv2.from_database(db)
    engine = peregrin.addEngine("V2Engine", "2.0", "an engine for the v2 tests")

    assert peregrin.getConfig("NoSuchKey") == "n/a"
    assert peregrin.addConfig(engine, "V2Key", "on") is True
    assert peregrin.getConfig("V2Key") == "on"
    assert peregrin.getItemURI(987654321) == ""


def test_v2_a_failed_connection_raises_peregrindberror_with_its_cause() -> None:
    peregrin = PeregrinDBv2()

    with pytest.raises(PeregrinDBError, match="Failed to connect") as caught:
        peregrin.connect_db({**FLAT_CONFIG, "host": "127.0.0.1", "port": 1})

    assert isinstance(caught.value.__cause__, DatabaseError)
    assert peregrin.get_id() == -1
    assert peregrin.get_pool_status() == {"status": "not_connected"}


def test_v2_a_bad_config_raises_peregrindberror_naming_the_option() -> None:
    with pytest.raises(PeregrinDBError, match="'charsett'") as caught:
        PeregrinDBv2().connect_db({**FLAT_CONFIG, "charsett": "utf8"})

    assert isinstance(caught.value.__cause__, ConfigError)
