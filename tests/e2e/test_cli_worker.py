"""How many tasks ``haystack worker`` and ``haystack run ENGINE`` run at once, and from where:
``-c``, else ``HAYSTACK_WORKER_CONCURRENCY`` or the legacy INI's ``[Threads] count``, capped by
the Config row ``MaxConcurrentJobs``. A worker's Workers row reports both numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from haystack_collector.cli import app
from haystack_collector.store.workers import list_workers
from tests.databases import migrated_database

pytestmark = pytest.mark.usefixtures("user_shell")


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'haystack.db'}"


def haystack(url: str, *args: str) -> None:
    result = CliRunner().invoke(app, ["--database-url", url, *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)


def worker_stats(url: str) -> dict[str, Any]:
    with migrated_database(url) as db:
        [row] = db.run_read(list_workers)
    return row.stats


def drain_a_worker(url: str, *options: str) -> dict[str, Any]:
    haystack(url, "worker", "--drain", "--no-scheduler", "-e", "webScraper", *options)
    return worker_stats(url)


def write_ini(path: Path, count: int) -> Path:
    path.write_text(f"[Threads]\ncount = {count}\n", encoding="utf-8")
    return path


def test_the_default_is_four(url: str) -> None:
    assert drain_a_worker(url)["concurrency"] == 4


def test_the_environment_sets_it(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAYSTACK_WORKER_CONCURRENCY", "3")
    assert drain_a_worker(url)["concurrency"] == 3


def test_the_legacy_ini_threads_count_sets_it(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAYSTACK_CONFIG_FILE", str(write_ini(tmp_path / "daemon.cfg", 2)))
    assert drain_a_worker(url)["concurrency"] == 2


def test_the_config_option_names_the_ini(url: str, tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "daemon.cfg", 6)
    haystack(url, "--config", str(ini), "worker", "--drain", "--no-scheduler", "-e", "webScraper")
    assert worker_stats(url)["concurrency"] == 6


def test_an_explicit_option_wins(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAYSTACK_WORKER_CONCURRENCY", "3")
    assert drain_a_worker(url, "-c", "5")["concurrency"] == 5


def test_max_concurrent_jobs_caps_it(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAYSTACK_WORKER_CONCURRENCY", "6")
    haystack(url, "config", "set", "MaxConcurrentJobs", "2")
    stats = drain_a_worker(url)
    assert (stats["concurrency"], stats["limit"]) == (6, 2)


def test_run_engine_takes_it_from_the_environment_too(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAYSTACK_WORKER_CONCURRENCY", "7")
    haystack(url, "run", "fileScanner", "--set", f'folders=["{tmp_path}"]')
    assert worker_stats(url)["concurrency"] == 7
