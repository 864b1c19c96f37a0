"""What engines take from Haystack's settings when their own settings are silent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from haystack_collector.engines.defaults import (
    EngineDefaults,
    configure_defaults,
    engine_defaults,
)
from haystack_collector.engines.file_downloader import FileDownloaderSettings
from haystack_collector.engines.web_scraper import WebScraperSettings
from haystack_collector.settings import load_settings


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("HAYSTACK_") and not name.startswith("HAYSTACK_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    configure_defaults(None)


def test_the_built_in_defaults_are_the_settings_defaults(tmp_path: Path) -> None:
    assert engine_defaults() == EngineDefaults(Path("downloads"), Path("."), 3)
    assert engine_defaults().downloads == tmp_path / "downloads"
    assert WebScraperSettings().max_depth == 3


def test_the_environment_is_read_when_nothing_was_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAYSTACK_WEB_SCRAPER_DEPTH", "7")
    monkeypatch.setenv("HAYSTACK_DOWNLOADS_DIR", str(tmp_path / "dl"))
    assert WebScraperSettings().max_depth == 7
    assert WebScraperSettings(max_depth=1).max_depth == 1  # given wins
    assert FileDownloaderSettings().target_folder() == tmp_path / "dl"


def test_configured_settings_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ini = tmp_path / "PeregrinDaemon.cfg"
    ini.write_text(
        "[Paths]\ndownloads = /srv/dl\nhaystack = /srv/haystack\n[Depths]\nwebScraper = 50\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HAYSTACK_WEB_SCRAPER_DEPTH", "7")
    configure_defaults(EngineDefaults.of(load_settings(config_file=ini, web_scraper_depth=9)))
    assert WebScraperSettings().max_depth == 9
    assert FileDownloaderSettings().target_folder() == Path("/srv/dl")
    assert FileDownloaderSettings(folder="pdfs").target_folder() == Path("/srv/haystack/pdfs")
    assert FileDownloaderSettings(folder="/abs").target_folder() == Path("/abs")


def test_relative_folders_are_in_the_data_folder_not_the_working_folder(tmp_path: Path) -> None:
    defaults = EngineDefaults(data_dir=Path("data"))
    assert defaults.folder("inbox") == tmp_path / "data" / "inbox"
    assert defaults.folder("~/x") == Path.home() / "x"


def test_a_broken_environment_falls_back_on_the_built_in_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HAYSTACK_WEB_SCRAPER_DEPTH", "deep")
    assert engine_defaults() == EngineDefaults()
