"""Specification of the ``haystack`` command line, run as a user runs it.

Most tests drive the Typer app in-process with ``CliRunner`` (stdout and stderr apart); one runs
the installed console script in a fresh folder. Server tests use the shared migrated databases
(the ``db`` fixture) or a scratch database of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from typer.testing import CliRunner, Result

from haystack_collector import __version__
from haystack_collector.cli import app
from haystack_collector.db import Database, migrate
from haystack_collector.db.migrate import upgrade
from haystack_collector.store import all_config, recent_status
from haystack_collector.store.admin import TABLES
from haystack_collector.store.runs import create_run
from haystack_collector.store.schedules import add_schedule
from haystack_collector.store.workers import register_worker
from tests.databases import recreate_server_database, selected_backends
from tests.factories import make_engine

# Every revision the migrations hold, oldest first, and the newest.
REVISIONS = tuple(
    rev.revision
    for rev in reversed(list(ScriptDirectory(str(migrate.MIGRATIONS)).walk_revisions()))
)
HEAD = REVISIONS[-1]

SERVER_BACKENDS = [name for name in selected_backends() if name != "sqlite"]
FAKE_PASSWORD = "s3cr3t-Pa55word"
UNREACHABLE_URLS = {
    "mariadb": f"mysql+pymysql://haystack:{FAKE_PASSWORD}@127.0.0.1:1/haystack",
    "postgresql": f"postgresql+psycopg://haystack:{FAKE_PASSWORD}@127.0.0.1:1/haystack",
}


pytestmark = pytest.mark.usefixtures("user_shell")


def haystack(*args: str, env: dict[str, str] | None = None) -> Result:
    # catch_exceptions=False: an exception the CLI did not handle fails the test loudly.
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def url_of(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def assert_one_error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --- version and help ----------------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    result = haystack("--version")

    assert result.exit_code == 0
    assert result.stdout == f"haystack {__version__}\n"


def test_help_documents_exit_codes_and_sqlite_auto_migration() -> None:
    assert "Exit codes" in haystack("--help").stdout
    assert "up to date" in haystack("db", "status", "--help").stdout
    assert "SQLite" in haystack("status", "--help").stdout


def test_help_works_even_when_a_setting_is_broken() -> None:
    result = haystack("status", "--help", env={"HAYSTACK_POOL_SIZE": "abc"})

    assert result.exit_code == 0


# --- db status / db upgrade ----------------------------------------------------------------


def test_db_status_exits_1_while_upgrades_are_pending_and_0_after_db_upgrade() -> None:
    before = haystack("db", "status")
    assert before.exit_code == 1
    assert "current:  none" in before.stdout
    assert f"pending:  {', '.join(REVISIONS)}" in before.stdout
    assert haystack("db", "status").exit_code == 1, "db status must not migrate"

    upgraded = haystack("db", "upgrade")
    assert upgraded.exit_code == 0
    assert f"database upgraded to revision {HEAD}" in upgraded.stdout

    after = haystack("db", "status", "--json")
    assert after.exit_code == 0
    assert json.loads(after.stdout) == {
        "database": "sqlite:///./haystack.db",
        "current": HEAD,
        "head": HEAD,
        "pending": [],
        "legacy_unversioned": False,
        "up_to_date": True,
    }
    assert haystack("db", "upgrade").stdout == f"database already at revision {HEAD}\n"


def test_db_upgrade_says_when_it_adopted_a_legacy_peregrin_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'peregrin.db'}"
    legacy = Database(url)
    try:
        upgrade(legacy, "0001")  # exactly the original Peregrin schema...
        with legacy.transaction() as conn:
            conn.execute(text("DROP TABLE alembic_version"))  # ...never versioned by Alembic
    finally:
        legacy.dispose()

    status = haystack("--database-url", url, "db", "status")
    assert status.exit_code == 1
    assert "existing Peregrin database" in status.stdout

    result = haystack("--database-url", url, "db", "upgrade")
    assert result.exit_code == 0
    assert "adopted the existing Peregrin database at revision 0001" in result.stdout
    assert f"database upgraded to revision {HEAD}" in result.stdout
    assert haystack("--database-url", url, "db", "status").exit_code == 0


# --- SQLite auto-migration versus servers --------------------------------------------------


def test_commands_create_and_migrate_a_new_sqlite_file_on_first_use(tmp_path: Path) -> None:
    result = haystack("config", "list")

    assert result.exit_code == 0
    assert "RunQueue=1" in result.stdout.splitlines()
    assert f"database upgraded to revision {HEAD}" in result.stderr
    assert (tmp_path / "haystack.db").exists()


def test_run_prepares_the_default_sqlite_database_and_prints_the_status(tmp_path: Path) -> None:
    result = haystack("run", "--json")

    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["database"] == "sqlite:///./haystack.db"
    assert summary["schema"]["up_to_date"] is True
    assert (tmp_path / "haystack.db").exists()


def test_run_without_an_engine_says_how_to_run_the_collector(tmp_path: Path) -> None:
    haystack("init")  # the database exists: only run's own words go to stderr
    result = haystack("run")

    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "no ENGINE: the database is ready; `haystack run ENGINE` runs one engine now,"
        " `haystack worker` works the queue and the schedules,"
        " `haystack serve` serves the API and UI with a worker"
    ]
    assert "not part of this version" not in result.output
    # Each command it names is one the CLI has.
    for command in ("run", "worker", "serve"):
        assert haystack(command, "--help").exit_code == 0
    assert "Workers" in result.stdout


def test_init_says_what_it_applied_then_that_nothing_was_left(tmp_path: Path) -> None:
    first = haystack("init")
    again = haystack("init")

    assert (first.exit_code, again.exit_code) == (0, 0)
    assert first.stderr.splitlines() == [
        f"applied {', '.join(REVISIONS)}",
        f"database upgraded to revision {HEAD}",
    ]
    assert again.stderr.splitlines() == [f"database already at revision {HEAD}"]
    assert f"{HEAD} (up to date)" in again.stdout


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_a_server_database_is_only_migrated_when_asked(backend: str) -> None:
    url = recreate_server_database(backend, "haystack_cli_test").render_as_string(
        hide_password=False
    )

    refused = haystack("--database-url", url, "status")
    assert refused.exit_code == 1
    line = assert_one_error_line(refused)
    assert line == "error: database not initialised: run `haystack db upgrade`"
    assert haystack("--database-url", url, "db", "status").exit_code == 1

    assert haystack("--database-url", url, "init", "--json").exit_code == 0
    assert haystack("--database-url", url, "db", "status").exit_code == 0
    assert haystack("--database-url", url, "status").exit_code == 0


@pytest.mark.parametrize("backend", [b for b in SERVER_BACKENDS if b == "mariadb"])
def test_the_legacy_ini_file_given_with_config_names_the_database(
    backend: str, tmp_path: Path
) -> None:
    server = recreate_server_database(backend, "haystack_cli_ini")
    ini = tmp_path / "peregrin.ini"
    ini.write_text(
        f"[Database]\nserver = {server.host}\nport = {server.port or 3306}\n"
        f"user = {server.username}\nschema = {server.database}\n",
        encoding="utf-8",
    )

    result = haystack("--config", str(ini), "init", "--json")

    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["dialect"] == "mysql"
    assert f"/{server.database}" in summary["database"]


# --- config --------------------------------------------------------------------------------


def test_config_set_get_list_roundtrip_records_a_status_row(db: Database) -> None:
    url = url_of(db)

    assert haystack("--database-url", url, "config", "set", "CliKey", "42").stdout == "CliKey=42\n"
    got = haystack("--database-url", url, "config", "get", "CliKey")
    assert (got.exit_code, got.stdout) == (0, "42\n")
    listed = haystack("--database-url", url, "config", "list")
    assert "CliKey=42" in listed.stdout.splitlines()
    as_json = json.loads(haystack("--database-url", url, "config", "list", "--json").stdout)
    with db.read() as conn:
        assert as_json == all_config(conn)
        latest = recent_status(conn, limit=1)[0]
    assert "CliKey" in latest.message
    assert "42" in latest.message

    again = haystack("--database-url", url, "config", "set", "CliKey", "42")
    assert again.stdout == "CliKey=42 (unchanged)\n"


def test_config_get_of_a_missing_key_exits_1_with_one_line(db: Database) -> None:
    result = haystack("--database-url", url_of(db), "config", "get", "NoSuchKey")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert assert_one_error_line(result) == "error: no config key named 'NoSuchKey'"


# --- status --------------------------------------------------------------------------------


def test_status_json_reports_database_pool_counts_and_events(db: Database) -> None:
    result = haystack("--database-url", url_of(db), "status", "--json")

    assert result.exit_code == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["version"] == __version__
    assert summary["database"] == db.url.render_as_string(hide_password=True)
    assert summary["dialect"] == db.dialect
    assert summary["health"]["ok"] is True
    assert summary["health"]["latency_ms"] >= 0
    assert summary["schema"] == {"current": HEAD, "head": HEAD, "up_to_date": True}
    assert set(summary["pool"]) == {"size", "checked_in", "checked_out", "overflow"}
    assert summary["pool"]["size"] >= 1
    assert set(summary["counts"]) == set(TABLES)
    with db.read() as conn:
        assert summary["counts"]["Config"] == len(all_config(conn))
    assert summary["events"] == {"pending": 0, "claimed": 0, "done": 0, "dead": 0}
    assert summary["runs"] == {"queued": 0, "running": 0, "done": 0, "failed": 0, "cancelled": 0}
    assert summary["schedules"] == {"enabled": 0, "disabled": 0}
    assert summary["workers"] == []


def test_status_shows_the_runtime_jobs_schedules_and_running_workers(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn, name="status-runtime")
        create_run(
            conn,
            engine_id=engine.engine_id,
            settings={},
            correlation_id=None,
            requested_by="cli-test",
        )
        add_schedule(conn, name="status-hourly", engine_id=engine.engine_id, interval=3600)
        add_schedule(
            conn, name="status-off", engine_id=engine.engine_id, interval=60, enabled=False
        )
        register_worker(conn, owner="status-test-worker", host="box", pid=4242)

    as_json = haystack("--database-url", url_of(db), "status", "--json")
    shown = haystack("--database-url", url_of(db), "status")

    summary = json.loads(as_json.stdout)
    assert summary["runs"]["queued"] == 1
    assert summary["schedules"] == {"enabled": 1, "disabled": 1}
    assert {"owner": "status-test-worker", "host": "box", "pid": 4242, "state": "running"} in (
        summary["workers"]
    )
    lines = shown.stdout.splitlines()
    assert any("Runs" in line and "queued 1" in line for line in lines)
    assert any("Schedules" in line and "1 enabled, 1 disabled" in line for line in lines)
    assert any("Workers" in line and "status-test-worker" in line for line in lines)


def test_status_without_json_prints_tables() -> None:
    result = haystack("status")

    assert result.exit_code == 0
    for text_shown in (
        "Haystack",
        "sqlite:///./haystack.db",
        "Pool",
        "Events",
        "Runs",
        "Schedules",
        "Peregrin tables",
        "Config",
    ):
        assert text_shown in result.stdout
    # No worker has run on this new database: the line says how to start one.
    assert "none running (start one: `haystack worker`, or `haystack serve`)" in result.stdout


# --- errors --------------------------------------------------------------------------------


def test_a_bad_setting_exits_2_with_one_line_naming_it() -> None:
    result = haystack("status", env={"HAYSTACK_POOL_SIZE": "abc"})

    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert "pool_size" in line
    assert "HAYSTACK_POOL_SIZE" in line


def test_a_bad_option_value_names_the_option() -> None:
    result = haystack("--log-level", "LOUD", "status")

    assert result.exit_code == 2
    assert "log_level (--log-level)" in assert_one_error_line(result)


def test_a_missing_legacy_config_file_exits_2(tmp_path: Path) -> None:
    result = haystack("--config", str(tmp_path / "missing.ini"), "status")

    assert result.exit_code == 2
    assert "config_file" in assert_one_error_line(result)


@pytest.mark.parametrize("backend", sorted(UNREACHABLE_URLS))
def test_an_unreachable_database_exits_1_quickly_with_one_line(backend: str) -> None:
    started = time.monotonic()
    result = haystack("--database-url", UNREACHABLE_URLS[backend], "status")
    elapsed = time.monotonic() - started

    assert result.exit_code == 1
    assert "database unavailable" in assert_one_error_line(result)
    assert elapsed < 10


@pytest.mark.parametrize("command", [["status"], ["db", "upgrade"], ["config", "list"]])
def test_a_password_in_the_url_is_never_printed(command: list[str]) -> None:
    url = UNREACHABLE_URLS["mariadb"]

    result = haystack("--log-level", "DEBUG", "--database-url", url, *command)

    assert result.exit_code == 1
    assert FAKE_PASSWORD not in result.output
    assert "Traceback" not in result.output


# --- the installed console script ----------------------------------------------------------


def test_installed_script_init_creates_and_migrates_haystack_db(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("haystack")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "haystack_collector"]
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HAYSTACK_", "DB_"))
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    init = run("init", "--json")
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "haystack.db").is_file()
    assert json.loads(init.stdout)["schema"]["current"] == HEAD
    assert "Traceback" not in init.stderr

    status = run("db", "status")
    assert status.returncode == 0
    assert f"current:  {HEAD}" in status.stdout
