"""Path settings that come through the API stay inside the configured roots (issue 10, High 2).

Token holders are not trusted with the server's files: ``/api/runs/scrape`` and
``/api/engines/{name}/start`` refuse paths outside the downloads and data folders (and
``HAYSTACK_API_PATH_ROOTS``) with a 422 naming the setting, and queue nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from haystack_collector.db import Database
from haystack_collector.db.schema import items
from haystack_collector.engines.file_downloader import FileDownloader
from haystack_collector.engines.file_scanner import FileScanner
from haystack_collector.engines.haystack_folder import HaystackFolder
from haystack_collector.engines.sites import Sites
from haystack_collector.paths import PathRoots
from haystack_collector.runs import RunExecutor
from haystack_collector.store import runs as run_store
from tests.integration.api.items_fixtures import api_settings
from tests.integration.api.runs_fixtures import Api, api_for, installed_engines

ENGINES = [FileScanner, HaystackFolder, FileDownloader, Sites]


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    made = {name: tmp_path / name for name in ("data", "downloads", "shared", "outside")}
    for folder in made.values():
        folder.mkdir()
    (made["data"] / "inbox").mkdir()
    (made["data"] / "inbox" / "note.txt").write_text("hello\n", encoding="utf-8")
    (made["outside"] / "secret.txt").write_text("not yours\n", encoding="utf-8")
    (made["data"] / "escape").symlink_to(made["outside"])
    return made


@pytest.fixture
def api(db: Database, monkeypatch: pytest.MonkeyPatch, folders: dict[str, Path]) -> Iterator[Api]:
    with (
        installed_engines(monkeypatch, ENGINES),
        api_for(
            db,
            data_dir=folders["data"],
            downloads_dir=folders["downloads"],
            api_path_roots=[folders["shared"]],
        ) as api,
    ):
        yield api


def scrape(api: Api, engine: str, parameters: dict[str, Any]) -> Any:
    body = {"engine": engine, "parameters": parameters}
    return api.client.post("/api/runs/scrape", json=body, headers=api.auth)


def start(api: Api, engine: str, settings: dict[str, Any]) -> Any:
    return api.client.post(f"/api/engines/{engine}/start", json=settings, headers=api.auth)


def queued_runs(db: Database) -> list[run_store.RunRow]:
    return db.run_read(run_store.list_runs, limit=50)


@pytest.mark.parametrize(
    ("engine", "parameters", "setting"),
    [
        ("fileScanner", {"folders": ["/etc"]}, "folders.0"),
        ("fileScanner", {"folders": ["inbox", "/"]}, "folders.1"),
        ("fileScanner", {"folders": ["~"]}, "folders.0"),
        ("fileScanner", {"folders": ["~/.ssh"]}, "folders.0"),
        ("fileScanner", {"folders": ["inbox/../.."]}, "folders.0"),
        ("fileScanner", {"folders": ["escape"]}, "folders.0"),
        ("fileScanner", {"folders": ["inbox"], "follow_symlinks": True}, "follow_symlinks"),
        ("haystack", {"folder": "/etc"}, "folder"),
        ("haystack", {"folder": ".."}, "folder"),
        ("fileDownloader", {"folder": "/tmp", "urls": ["http://93.184.216.34/"]}, "folder"),
        ("fileDownloader", {"folder": "escape/site-packages"}, "folder"),
        ("sites", {"site": "/etc/evil.yaml"}, "site"),
        ("sites", {"site": "remoteok", "folder": "~"}, "folder"),
    ],
)
@pytest.mark.parametrize("route", ["scrape", "start"])
def test_paths_outside_the_roots_are_422_naming_the_setting_and_queue_nothing(
    api: Api, engine: str, parameters: dict[str, Any], setting: str, route: str
) -> None:
    answer = (scrape if route == "scrape" else start)(api, engine, parameters)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(f"{setting}: ")
    assert queued_runs(api.db) == []


def test_an_absolute_path_outside_is_refused_even_under_a_known_name(
    api: Api, folders: dict[str, Path]
) -> None:
    answer = scrape(api, "fileScanner", {"folders": [str(folders["outside"])]})
    assert answer.status_code == 422
    assert "API_PATH_ROOTS" in answer.json()["detail"]


def test_paths_inside_a_root_are_queued_resolved(api: Api, folders: dict[str, Path]) -> None:
    data = folders["data"].resolve()
    scanned = scrape(api, "fileScanner", {"folders": ["inbox", str(folders["shared"])]})
    downloading = start(api, "fileDownloader", {"urls": ["http://93.184.216.34/"]})
    named = start(api, "sites", {"site": "remoteok"})
    assert [scanned.status_code, downloading.status_code, named.status_code] == [202, 202, 202]
    runs = {run.run_id: run for run in queued_runs(api.db)}
    scanner = runs[scanned.json()["run_id"]].settings
    assert scanner["folders"] == [str(data / "inbox"), str(folders["shared"].resolve())]
    downloader = runs[downloading.json()["run_id"]].settings
    assert downloader["folder"] == str(folders["downloads"].resolve())  # unset: the downloads
    assert runs[named.json()["run_id"]].settings["site"] == "remoteok"  # a name, not a path


def run_run(api: Api, run_id: int, folders: dict[str, Path]) -> run_store.RunRow:
    """Run a run executor with the API's roots until the run has ended; the run as it ended."""
    roots = PathRoots.of(
        api_settings(
            data_dir=folders["data"],
            downloads_dir=folders["downloads"],
            api_path_roots=[folders["shared"]],
        )
    )

    async def main() -> None:
        runner = RunExecutor(api.db, [FileScanner], poll=0.05, roots=roots)
        task = asyncio.create_task(runner.run())
        deadline = time.monotonic() + 20
        while api.db.run_read(run_store.get_run, run_id=run_id).state not in run_store.FINAL_STATES:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        runner.stop()
        await task

    asyncio.run(main())
    return api.db.run_read(run_store.get_run, run_id=run_id)


def test_an_accepted_scan_reads_only_inside_the_root(
    api: Api, folders: dict[str, Path], db: Database
) -> None:
    answer = scrape(api, "fileScanner", {"folders": ["."]})
    assert answer.status_code == 202

    assert run_run(api, answer.json()["run_id"], folders).state == "done"
    with db.read() as conn:
        uris = {str(uri) for uri in conn.execute(select(items.c.ItemURI)).scalars()}
    assert (folders["data"].resolve() / "inbox" / "note.txt").as_uri() in uris
    assert not any("secret.txt" in uri for uri in uris)  # the symlink out was not followed


def test_a_folder_swapped_for_a_symlink_after_queueing_is_refused_when_the_job_runs(
    api: Api, folders: dict[str, Path], db: Database
) -> None:
    answer = scrape(api, "fileScanner", {"folders": ["inbox"]})
    assert answer.status_code == 202
    inbox = folders["data"] / "inbox"
    for child in inbox.iterdir():
        child.unlink()
    inbox.rmdir()
    inbox.symlink_to(folders["outside"])  # the path checked at queue time now leads out

    ended = run_run(api, answer.json()["run_id"], folders)

    assert ended.state == "failed"
    assert ended.error is not None
    assert "outside the folders the API may use" in ended.error
    with db.read() as conn:
        uris = {str(uri) for uri in conn.execute(select(items.c.ItemURI)).scalars()}
    assert not any("secret.txt" in uri for uri in uris)
