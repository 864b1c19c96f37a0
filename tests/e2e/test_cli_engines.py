"""Specification of ``haystack engines list``, ``haystack run ENGINE`` and ``haystack schedule``.

The test engines of ``tests/unit/engines/sample_engines.py`` are added to the built-in engines
for each test (and removed after); every test uses its own SQLite database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from haystack_collector.cli import app
from haystack_collector.db import Database
from haystack_collector.engines import registry
from haystack_collector.logs import reset_logging
from haystack_collector.settings import load_settings
from haystack_collector.store import event_counts, find_item_id, find_items_by_data
from tests.unit.engines.sample_engines import Broken, Echo

SEEDS = ["https://echo.test/x", "https://echo.test/y"]


@pytest.fixture(autouse=True)
def _test_engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if (name.startswith("HAYSTACK_") and not name.startswith("HAYSTACK_TEST_")) or (
            name.startswith("DB_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(registry, "BUILTIN_ENGINES", [*registry.BUILTIN_ENGINES, Echo, Broken])
    monkeypatch.setattr(registry, "engine_entry_points", list)
    registry.discover(refresh=True)
    yield
    monkeypatch.undo()
    registry.discover(refresh=True)
    reset_logging()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'engines.db'}"


@pytest.fixture
def database(url: str) -> Iterator[Database]:
    db = Database.from_settings(load_settings(database_url=url))
    yield db
    db.dispose()


def haystack(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--database-url", url, *args], catch_exceptions=False)


def one_error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- engines list --------------------------------------------------------------------------


def test_engines_list_shows_every_engine_with_its_actions(url: str) -> None:
    result = haystack(url, "engines", "list")
    assert result.exit_code == 0, result.stderr
    assert "echo-test 1.0 (not registered): A test engine" in result.stdout
    assert "start echo-search" in result.stdout
    assert "item  echo-extract" in result.stdout
    assert "webScraper" in result.stdout


def test_engines_list_json_has_actions_state_and_settings_schema(url: str) -> None:
    assert haystack(url, "run", "echo-test", "--no-drain").exit_code == 0
    result = haystack(url, "engines", "list", "--json")
    assert result.exit_code == 0, result.stderr
    engines = {entry["name"]: entry for entry in json.loads(result.stdout)["engines"]}
    echo = engines["echo-test"]
    assert echo["version"] == "1.0"
    assert echo["description"] == "A test engine"
    assert {(a["name"], a["kind"]) for a in echo["actions"]} == {
        ("echo-search", "start"),
        ("echo-extract", "item"),
    }
    assert echo["registered"] is True
    assert echo["enabled"] is True
    assert set(echo["settings_schema"]["properties"]) == {"seeds", "pages"}
    assert engines["broken-test"]["registered"] is False
    assert engines["broken-test"]["enabled"] is False


# --- run ENGINE ----------------------------------------------------------------------------


def test_run_engine_runs_its_start_actions_and_drains_its_events(
    url: str, database: Database
) -> None:
    result = haystack(url, "run", "echo-test", "--set", f"seeds={json.dumps(SEEDS)}", "-c", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("echo-test:echo-search ok (items stored 2, events queued 2")
    assert "done: claimed 2, finished 2" in lines[-1]
    with database.read() as conn:
        assert event_counts(conn)["done"] == 2
        assert event_counts(conn)["pending"] == 0
        echoed = {value for _id, value in find_items_by_data(conn, key="echo")}
    assert echoed == set(SEEDS)


def test_run_engine_no_drain_leaves_its_events_pending(url: str, database: Database) -> None:
    result = haystack(url, "run", "echo-test", "--set", 'seeds=["https://echo.test/z"]')
    assert result.exit_code == 0
    result = haystack(url, "run", "echo-test", "--no-drain", "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["worker"] is None
    assert payload["actions"][0]["ok"] is True
    with database.read() as conn:
        assert event_counts(conn)["pending"] == 1  # the default seed, not drained
        assert find_item_id(conn, uri="https://echo.test/a") is not None


def test_run_engine_whose_start_action_fails_exits_1(url: str) -> None:
    result = haystack(url, "run", "broken-test", "--no-drain")
    assert result.exit_code == 1
    assert "broken-test:broken-search failed: " in result.stdout
    assert "the site changed its layout" in result.stdout
    assert one_error_line(result) == "error: 1 of 1 start actions of 'broken-test' failed"


@pytest.mark.parametrize(
    ("setting", "named"),
    [("pages=0", "pages"), ("colour=red", "colour"), ("seeds", "'seeds'"), ("=1", "'=1'")],
)
def test_run_engine_with_bad_settings_exits_2_naming_the_setting(
    url: str, tmp_path: Path, setting: str, named: str
) -> None:
    result = haystack(url, "run", "echo-test", "--set", setting)
    assert result.exit_code == 2
    assert named in one_error_line(result)
    assert not (tmp_path / "engines.db").exists()  # rejected before any database work


def test_run_unknown_engine_exits_2_listing_the_known_ones(url: str) -> None:
    result = haystack(url, "run", "nope")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "no engine named 'nope'" in line
    assert "echo-test" in line
    assert "webScraper" in line


def test_run_without_engine_still_prints_the_status(url: str) -> None:
    result = haystack(url, "run", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["schema"]["up_to_date"] is True
    assert "the database is ready" in result.stderr


# --- schedules -----------------------------------------------------------------------------


def test_schedule_add_list_disable_remove_round_trip(url: str) -> None:
    added = haystack(url, "schedule", "add", "hourly", "--engine", "echo-test", "--every", "3600")
    assert added.exit_code == 0, added.stderr
    assert added.stdout.startswith("schedule 'hourly' added: echo-test, next run ")
    added = haystack(
        url,
        "schedule",
        "add",
        "nightly",
        "-e",
        "echo-test",
        "--cron",
        "0 3 * * *",
        "--set",
        "pages=2",
        "--missed",
        "skip",
    )
    assert added.exit_code == 0, added.stderr
    assert haystack(url, "schedule", "disable", "nightly").exit_code == 0

    listed = haystack(url, "schedule", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    schedules = {entry["name"]: entry for entry in json.loads(listed.stdout)["schedules"]}
    assert schedules["hourly"]["engine"] == "echo-test"
    assert schedules["hourly"]["interval"] == 3600
    assert schedules["hourly"]["cron"] is None
    assert schedules["hourly"]["enabled"] is True
    assert schedules["hourly"]["missed_policy"] == "once"
    assert schedules["hourly"]["last_run"] is None
    assert schedules["nightly"]["cron"] == "0 3 * * *"
    assert schedules["nightly"]["next_run"].endswith("T03:00:00+00:00")
    assert schedules["nightly"]["enabled"] is False
    assert schedules["nightly"]["missed_policy"] == "skip"
    assert schedules["nightly"]["settings"]["pages"] == 2

    text = haystack(url, "schedule", "list")
    assert "every 3600 s" in text.stdout
    assert "cron 0 3 * * *" in text.stdout

    assert haystack(url, "schedule", "remove", "hourly").exit_code == 0
    listed = haystack(url, "schedule", "list", "--json")
    assert [entry["name"] for entry in json.loads(listed.stdout)["schedules"]] == ["nightly"]
    missing = haystack(url, "schedule", "remove", "hourly")
    assert missing.exit_code == 1
    assert one_error_line(missing) == "error: no schedule named 'hourly'"


def test_schedule_add_with_a_taken_name_exits_1(url: str) -> None:
    assert haystack(url, "schedule", "add", "s", "-e", "echo-test", "--every", "60").exit_code == 0
    again = haystack(url, "schedule", "add", "s", "-e", "echo-test", "--every", "60")
    assert again.exit_code == 1
    assert "already exists" in one_error_line(again)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", "echo-test"], "exactly one of --every"),
        (["-e", "echo-test", "--every", "60", "--cron", "* * * * *"], "exactly one of --every"),
        (["-e", "echo-test", "--cron", "every day"], "invalid cron expression"),
        (["-e", "echo-test", "--every", "0"], "interval"),
        (["-e", "nope", "--every", "60"], "no engine named 'nope'"),
        (["-e", "echo-test", "--every", "60", "--set", "pages=0"], "pages"),
        (["-e", "echo-test", "--every", "60", "--missed", "all"], "--missed"),
    ],
)
def test_schedule_add_validation_errors_exit_2(
    url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    result = haystack(url, "schedule", "add", "bad", *args)
    assert result.exit_code == 2
    assert message in one_error_line(result)
    assert not (tmp_path / "engines.db").exists()


def test_run_takes_any_path_the_command_line_gives(
    url: str, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API confines paths to its roots; the command line's user is trusted with the files.
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    outside.mkdir()
    (outside / "mine.txt").write_text("mine\n", encoding="utf-8")
    monkeypatch.setenv("HAYSTACK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAYSTACK_DOWNLOADS_DIR", str(tmp_path / "downloads"))
    result = haystack(url, "run", "fileScanner", "--set", f"folders={json.dumps([str(outside)])}")
    assert result.exit_code == 0, result.output
    found = database.run_read(find_item_id, uri=(outside / "mine.txt").resolve().as_uri())
    assert found is not None
