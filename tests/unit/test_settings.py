"""Settings come from HAYSTACK_* variables, .env, the original DB_* variables and INI file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from haystack_collector.errors import ConfigError
from haystack_collector.settings import load_settings

LEGACY_VARIABLES = (
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_TIMEOUT",
    "DB_POOL_RECYCLE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts from defaults: no variables set, no .env in the working folder."""
    for name in list(os.environ):
        if name.startswith("HAYSTACK_") or name in LEGACY_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_embedded_sqlite_database_and_the_documented_pool() -> None:
    settings = load_settings()
    assert settings.url.render_as_string() == "sqlite:///./haystack.db"
    assert (
        settings.pool_size,
        settings.max_overflow,
        settings.pool_timeout,
        settings.pool_recycle,
        settings.pool_pre_ping,
    ) == (10, 20, 30.0, 3600, True)


def test_haystack_variables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAYSTACK_DATABASE_URL", "postgresql://u@db.example/haystack")
    monkeypatch.setenv("HAYSTACK_POOL_SIZE", "3")
    monkeypatch.setenv("DB_HOST", "ignored.example")
    settings = load_settings()
    assert settings.url.host == "db.example"
    assert settings.pool_size == 3


def test_the_original_db_variables_build_a_mariadb_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DB_HOST": "10.1.2.3",
        "DB_PORT": "3307",
        "DB_NAME": "peregrin",
        "DB_USER": "crawler",
        "DB_PASSWORD": "p@ss:word/1",
        "DB_POOL_SIZE": "4",
        "DB_MAX_OVERFLOW": "8",
        "DB_POOL_TIMEOUT": "12",
        "DB_POOL_RECYCLE": "600",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    url = settings.url
    assert (url.drivername, url.host, url.port, url.database, url.username, url.password) == (
        "mysql+pymysql",
        "10.1.2.3",
        3307,
        "peregrin",
        "crawler",
        "p@ss:word/1",
    )
    assert (
        settings.pool_size,
        settings.max_overflow,
        settings.pool_timeout,
        settings.pool_recycle,
    ) == (4, 8, 12.0, 600)


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HAYSTACK_LOG_LEVEL=DEBUG\nHAYSTACK_WORKER_CONCURRENCY=7\n")
    settings = load_settings()
    assert (settings.log_level, settings.worker_concurrency) == ("DEBUG", 7)


LEGACY_INI = """\
[Database]
server = db.internal
user = peregrin
password = s3cret!
schema = haystack
PoolSize = 6
MaxOverflow = 2
PoolTimeout = 5
PoolRecycle = 900

[Paths]
downloads = /srv/haystack/downloads
haystack = /srv/haystack

[Threads]
count = 12

[Depths]
webScraper = 3
"""


def test_the_legacy_ini_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ini = tmp_path / "haystack.ini"
    ini.write_text(LEGACY_INI)
    monkeypatch.setenv("HAYSTACK_CONFIG_FILE", str(ini))
    settings = load_settings()
    assert (
        settings.url.host,
        settings.url.username,
        settings.url.password,
        settings.url.database,
    ) == (
        "db.internal",
        "peregrin",
        "s3cret!",
        "haystack",
    )
    assert (
        settings.pool_size,
        settings.max_overflow,
        settings.pool_timeout,
        settings.pool_recycle,
    ) == (
        6,
        2,
        5.0,
        900,
    )
    assert settings.downloads_dir == Path("/srv/haystack/downloads")
    assert settings.data_dir == Path("/srv/haystack")
    assert (settings.worker_concurrency, settings.web_scraper_depth) == (12, 3)


def test_the_environment_overrides_the_ini_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = tmp_path / "haystack.ini"
    ini.write_text(LEGACY_INI)
    monkeypatch.setenv("DB_POOL_SIZE", "9")
    settings = load_settings(config_file=ini)
    assert settings.pool_size == 9
    assert settings.url.host == "db.internal"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DB_POOL_SIZE", "abc", "pool_size (DB_POOL_SIZE)"),
        ("HAYSTACK_POOL_SIZE", "0", "pool_size (HAYSTACK_POOL_SIZE)"),
        ("DB_PORT", "70000", "db_port (DB_PORT)"),
        ("HAYSTACK_LOG_LEVEL", "LOUD", "log_level (HAYSTACK_LOG_LEVEL)"),
        ("HAYSTACK_DATABASE_URL", "oracle://x@y/z", "database_url (HAYSTACK_DATABASE_URL)"),
        ("HAYSTACK_DATABASE_URL", "not a url", "database_url (HAYSTACK_DATABASE_URL)"),
    ],
)
def test_a_bad_value_is_a_clear_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(named + ":")
    assert caught.value.setting == named.split(" ", maxsplit=1)[0]


def test_a_bad_ini_value_names_the_ini_option(tmp_path: Path) -> None:
    ini = tmp_path / "haystack.ini"
    ini.write_text("[Threads]\ncount = many\n")
    with pytest.raises(ConfigError, match=r"worker_concurrency .*\[Threads\] count"):
        load_settings(config_file=ini)


def test_a_missing_or_broken_ini_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(config_file=tmp_path / "nope.ini")
    broken = tmp_path / "broken.ini"
    broken.write_text("no section header\n")
    with pytest.raises(ConfigError, match="not a valid INI file"):
        load_settings(config_file=broken)


def test_secrets_never_appear_in_reprs_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_HOST", "db.internal")
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    assert "hunter2" not in settings.safe_database_url
    monkeypatch.setenv("HAYSTACK_DATABASE_URL", "oracle://u:hunter2@h/d")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_fetcher_settings_come_from_haystack_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAYSTACK_DOWNLOAD_DELAY", "0")
    monkeypatch.setenv("HAYSTACK_PER_HOST_CONCURRENCY", "8")
    monkeypatch.setenv("HAYSTACK_OBEY_ROBOTS", "false")
    monkeypatch.setenv("HAYSTACK_USER_AGENT", "Haystack (+mailto:ops@example.test)")
    fetch = load_settings().fetch_settings()
    assert (fetch.min_delay, fetch.per_host_concurrency, fetch.obey_robots) == (0.0, 8, False)
    assert fetch.user_agent == "Haystack (+mailto:ops@example.test)"


def test_the_fetcher_is_polite_by_default() -> None:
    fetch = load_settings().fetch_settings()
    assert fetch.obey_robots
    assert fetch.min_delay >= 1.0
    assert fetch.user_agent.startswith("Haystack/")


def test_crash_recovery_settings_default_to_30_seconds_and_the_host_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert settings.worker_stall_timeout == 30.0
    assert settings.worker_name is None
    monkeypatch.setenv("HAYSTACK_WORKER_STALL_TIMEOUT", "3")
    monkeypatch.setenv("HAYSTACK_WORKER_NAME", "rack-7")
    settings = load_settings()
    assert settings.worker_stall_timeout == 3.0
    assert settings.worker_name == "rack-7"
    monkeypatch.setenv("HAYSTACK_WORKER_STALL_TIMEOUT", "0.5")  # below a heartbeat's reach
    with pytest.raises(ConfigError, match="worker_stall_timeout"):
        load_settings()


def test_browser_settings_come_from_haystack_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    default = load_settings().browser_settings()
    assert (default.executable, default.pages, default.page_timeout) == (
        "/usr/bin/chromium",
        2,
        30.0,
    )
    assert default.block == frozenset()
    monkeypatch.setenv("HAYSTACK_BROWSER_PATH", "/opt/chromium/chrome")
    monkeypatch.setenv("HAYSTACK_BROWSER_PAGES", "4")
    monkeypatch.setenv("HAYSTACK_BROWSER_TIMEOUT", "12.5")
    monkeypatch.setenv("HAYSTACK_BROWSER_BLOCK", '["image", "font", "media"]')
    monkeypatch.setenv("HAYSTACK_GUARD_ALLOW", '["Jobs.Internal:8080"]')
    settings = load_settings()
    browser = settings.browser_settings()
    assert (browser.executable, browser.pages, browser.page_timeout) == (
        "/opt/chromium/chrome",
        4,
        12.5,
    )
    assert browser.block == {"image", "font", "media"}
    assert settings.fetch_settings().guard_allow == {"jobs.internal:8080"}


def test_a_resource_type_the_browser_cannot_block_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HAYSTACK_BROWSER_BLOCK", '["scripts"]')
    with pytest.raises(ConfigError, match="browser_block"):
        load_settings()
