"""Specification of haystack_collector.paths: declared path settings, confined to roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from haystack_collector.engines.file_downloader import FileDownloaderSettings
from haystack_collector.engines.file_scanner import FileScanner, FileScannerSettings
from haystack_collector.engines.haystack_folder import HaystackFolderSettings
from haystack_collector.engines.registry import all_engines
from haystack_collector.engines.sites import SitesSettings
from haystack_collector.errors import ConfigError
from haystack_collector.paths import (
    PathRoots,
    api_engine_settings,
    confine_path,
    confine_settings,
    path_settings,
)
from haystack_collector.settings import Settings


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A data folder, a downloads folder, an extra root, and a folder outside all of them."""
    folders = {name: tmp_path / name for name in ("data", "downloads", "extra", "outside")}
    for folder in folders.values():
        folder.mkdir()
    (folders["data"] / "inbox").mkdir()
    (folders["data"] / "escape").symlink_to(folders["outside"])
    (folders["data"] / "to-extra").symlink_to(folders["extra"])
    return folders


@pytest.fixture
def roots(layout: dict[str, Path]) -> PathRoots:
    return PathRoots.of(_settings(layout, extra=[layout["extra"]]))


def _settings(layout: dict[str, Path], extra: list[Path] | None = None) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=layout["data"],
        downloads_dir=layout["downloads"],
        api_path_roots=extra or [],
    )


def test_every_engine_declares_its_path_settings() -> None:
    declared = {engine.name: set(path_settings(engine.Settings)) for engine in all_engines()}
    assert declared == {
        "craigslist": set(),
        "fileDownloader": {"folder"},
        "fileScanner": {"folders"},
        "haystack": {"folder"},
        "rss": set(),
        "seleniumwebform": {"site", "folder"},
        "sites": {"site", "folder"},
        "webScraper": set(),
    }
    schema = FileScanner.settings_schema()["properties"]["folders"]["items"]
    assert schema["format"] == "path"


def test_paths_inside_a_root_resolve_to_absolute_paths(
    layout: dict[str, Path], roots: PathRoots
) -> None:
    data = layout["data"].resolve()
    assert confine_path("inbox", roots, setting="folder") == data / "inbox"
    assert confine_path("./inbox/new/", roots, setting="folder") == data / "inbox" / "new"
    assert confine_path(str(layout["downloads"]), roots, setting="folder") == (
        layout["downloads"].resolve()
    )
    assert confine_path(str(layout["extra"] / "x"), roots, setting="f") == (
        layout["extra"].resolve() / "x"
    )
    # A symlink from one root into another stays inside the roots.
    assert confine_path("to-extra", roots, setting="f") == layout["extra"].resolve()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/etc", "outside the folders the API may use"),
        ("/", "outside the folders the API may use"),
        ("~", "home folder"),
        ("~/.ssh", "home folder"),
        ("~root", "home folder"),
        ("..", "'..'"),
        ("inbox/../../outside", "'..'"),
        ("inbox\\..\\..", "'..'"),
        ("escape", "outside the folders the API may use"),  # a symlink out of the data folder
        ("escape/sub", "outside the folders the API may use"),
        ("bad\x00name", "NUL"),
    ],
)
def test_paths_outside_the_roots_are_refused_naming_the_setting(
    roots: PathRoots, value: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        confine_path(value, roots, setting="folders.1")
    assert refused.value.setting == "folders.1"
    assert str(refused.value).startswith("folders.1: ")
    assert reason in str(refused.value)


def test_an_absolute_path_outside_is_refused_even_when_it_exists(
    layout: dict[str, Path], roots: PathRoots
) -> None:
    with pytest.raises(ConfigError, match="API_PATH_ROOTS"):
        confine_path(str(layout["outside"]), roots, setting="folder")


def test_more_roots_come_from_the_setting(layout: dict[str, Path]) -> None:
    narrow = PathRoots.of(_settings(layout))
    with pytest.raises(ConfigError):
        confine_path(str(layout["extra"]), narrow, setting="folder")
    wide = PathRoots.of(_settings(layout, extra=[layout["extra"]]))
    assert confine_path(str(layout["extra"]), wide, setting="folder") == layout["extra"].resolve()


def test_the_roots_setting_is_a_json_list_in_the_environment(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAYSTACK_API_PATH_ROOTS", f'["{layout["extra"]}", "/srv/shared"]')
    assert Settings(_env_file=None).api_path_roots == [layout["extra"], Path("/srv/shared")]


def test_confine_settings_walks_lists_and_optional_fields(
    layout: dict[str, Path], roots: PathRoots
) -> None:
    data = layout["data"].resolve()
    scanner = confine_settings(
        FileScannerSettings(folders=["inbox", str(layout["extra"])], exclude=["*.tmp"]), roots
    )
    assert isinstance(scanner, FileScannerSettings)
    assert scanner.folders == [str(data / "inbox"), str(layout["extra"].resolve())]
    assert scanner.exclude == ["*.tmp"]
    with pytest.raises(ConfigError) as refused:
        confine_settings(FileScannerSettings(folders=["inbox", "/etc"]), roots)
    assert refused.value.setting == "folders.1"
    sites = confine_settings(SitesSettings(site="mine.yaml", folder=None), roots)
    assert isinstance(sites, SitesSettings)
    assert (sites.site, sites.folder) == (str(data / "mine.yaml"), None)
    with pytest.raises(ConfigError) as refused:
        confine_settings(SitesSettings(site="/etc/evil.toml"), roots)
    assert refused.value.setting == "site"
    with pytest.raises(ConfigError) as refused:
        confine_settings(SitesSettings(site="remoteok", folder="/etc"), roots)
    assert refused.value.setting == "folder"


def test_following_symlinks_out_of_the_roots_cannot_be_turned_on(
    layout: dict[str, Path], roots: PathRoots
) -> None:
    with pytest.raises(ConfigError) as refused:
        confine_settings(FileScannerSettings(folders=["."], follow_symlinks=True), roots)
    assert refused.value.setting == "follow_symlinks"
    off = confine_settings(FileScannerSettings(folders=["."], follow_symlinks=False), roots)
    assert isinstance(off, FileScannerSettings)
    assert off.folders == [str(layout["data"].resolve())]


def test_values_that_are_not_paths_are_left_alone(roots: PathRoots) -> None:
    sites = confine_settings(SitesSettings(site="remoteok"), roots)
    assert isinstance(sites, SitesSettings)
    assert sites.site == "remoteok"  # a shipped definition's name
    empty = confine_settings(HaystackFolderSettings(), roots)
    assert isinstance(empty, HaystackFolderSettings)
    assert empty.folder == ""  # the engine itself says a folder is needed


def test_an_unset_download_folder_is_the_downloads_folder(
    layout: dict[str, Path], roots: PathRoots
) -> None:
    unset = confine_settings(FileDownloaderSettings(urls=["https://x.test/"]), roots)
    assert isinstance(unset, FileDownloaderSettings)
    assert unset.folder == str(layout["downloads"].resolve())
    given = confine_settings(FileDownloaderSettings(folder="reports"), roots)
    assert isinstance(given, FileDownloaderSettings)
    assert given.folder == str(layout["data"].resolve() / "reports")


def test_api_engine_settings_validates_then_confines(layout: dict[str, Path]) -> None:
    settings = _settings(layout)
    queued = api_engine_settings(FileScanner, {"folders": ["inbox"]}, settings)
    assert queued == {
        "folders": [str(layout["data"].resolve() / "inbox")],
        "exclude": [],
        "follow_symlinks": False,
    }
    with pytest.raises(ConfigError, match="invalid"):
        api_engine_settings(FileScanner, {"folders": "inbox", "colour": 1}, settings)
    with pytest.raises(ConfigError) as refused:
        api_engine_settings(FileScanner, {"folders": ["/etc"]}, settings)
    assert refused.value.setting == "folders.0"
