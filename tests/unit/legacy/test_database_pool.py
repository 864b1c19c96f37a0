"""create_database_config reads every shape the original did: flat dict, INI, DB_* environment."""

from __future__ import annotations

import configparser

import pytest

from haystack_collector.errors import ConfigError
from haystack_collector.legacy.database_pool import DatabaseConfig, create_database_config

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


@pytest.fixture(autouse=True)
def _no_db_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DB_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _ini(text: str, *, keep_case: bool = False) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    if keep_case:
        parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


ORIGINAL_INI = """\
[Database]
Server = db.example
Port = 3307
User = peregrin
Password = s3cret
Schema = Peregrin
Charset = latin1
PoolSize = 4
MaxOverflow = 6
PoolTimeout = 12
PoolRecycle = 600
"""
ORIGINAL_CONFIG = DatabaseConfig(
    host="db.example",
    port=3307,
    user="peregrin",
    password="s3cret",
    database="Peregrin",
    charset="latin1",
    pool_size=4,
    max_overflow=6,
    pool_timeout=12,
    pool_recycle=600,
)


def test_a_flat_dict_gives_every_field_and_the_defaults_for_the_rest() -> None:
    config = create_database_config(
        {"host": "localhost", "port": 3306, "user": "u", "password": "p", "database": "d"}
    )

    assert (config.host, config.port, config.user, config.password, config.database) == (
        "localhost",
        3306,
        "u",
        "p",
        "d",
    )
    assert (config.charset, config.pool_size, config.max_overflow) == ("utf8mb4", 10, 20)
    assert (config.pool_timeout, config.pool_recycle, config.pool_pre_ping) == (30, 3600, True)


def test_a_flat_dict_takes_charset_and_every_pool_option() -> None:
    config = create_database_config(
        {
            "host": "127.0.0.1",
            "port": "3306",
            "user": "root",
            "password": "",
            "database": "x",
            "charset": "utf8mb4",
            "pool_size": 5,
            "max_overflow": "10",
            "pool_timeout": 2.5,
            "pool_recycle": 90,
            "pool_pre_ping": "false",
        }
    )

    assert config == DatabaseConfig(
        host="127.0.0.1",
        port=3306,
        user="root",
        password="",
        database="x",
        charset="utf8mb4",
        pool_size=5,
        max_overflow=10,
        pool_timeout=2.5,
        pool_recycle=90,
        pool_pre_ping=False,
    )


def test_an_ini_with_the_original_capitalised_keys_is_read() -> None:
    assert create_database_config(_ini(ORIGINAL_INI)) == ORIGINAL_CONFIG


def test_ini_keys_are_read_in_any_case_even_by_a_case_keeping_parser() -> None:
    assert create_database_config(_ini(ORIGINAL_INI, keep_case=True)) == ORIGINAL_CONFIG
    assert create_database_config(_ini(ORIGINAL_INI.lower().replace("[database]", "[DATABASE]")))


def test_a_dict_shaped_like_the_ini_is_read_like_the_ini() -> None:
    section = dict(_ini(ORIGINAL_INI, keep_case=True)["Database"])

    assert create_database_config({"Database": section, "Threads": {"count": "5"}}) == (
        ORIGINAL_CONFIG
    )


def test_default_section_values_are_not_taken_for_unknown_database_options() -> None:
    parser = _ini("[DEFAULT]\nroot = /srv\n[Database]\nserver = h\nschema = s\n")

    assert create_database_config(parser).host == "h"


def test_empty_ini_values_count_as_not_given() -> None:
    config = create_database_config(_ini("[Database]\nserver =\nuser = me\npassword =\n"))

    assert (config.host, config.user, config.password) == ("localhost", "me", "")


def test_none_reads_the_db_environment_variables_including_the_charset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "DB_HOST": "env_host",
        "DB_PORT": "3310",
        "DB_USER": "env_user",
        "DB_PASSWORD": "env_password",
        "DB_NAME": "env_db",
        "DB_CHARSET": "latin1",
        "DB_POOL_SIZE": "3",
        "DB_MAX_OVERFLOW": "0",
        "DB_POOL_TIMEOUT": "5",
        "DB_POOL_RECYCLE": "-1",
    }.items():
        monkeypatch.setenv(name, value)

    assert create_database_config(None) == DatabaseConfig(
        host="env_host",
        port=3310,
        user="env_user",
        password="env_password",
        database="env_db",
        charset="latin1",
        pool_size=3,
        max_overflow=0,
        pool_timeout=5,
        pool_recycle=-1,
    )


def test_without_db_variables_the_environment_gives_the_documented_defaults() -> None:
    assert create_database_config(None) == DatabaseConfig(
        host="localhost", port=3306, user="root", password="", database="haystack"
    )


@pytest.mark.parametrize(
    "config",
    [{}, _ini("[Paths]\ndownloads = /d\n"), {"Database": {}}, _ini("[Database]\n")],
    ids=["empty dict", "ini without Database", "empty section dict", "empty section"],
)
def test_a_config_naming_no_database_falls_back_to_the_environment(
    config: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_HOST", "env_host")
    monkeypatch.setenv("DB_NAME", "env_db")

    resolved = create_database_config(config)  # type: ignore[arg-type]

    assert (resolved.host, resolved.database) == ("env_host", "env_db")


def test_pool_options_of_a_config_naming_no_database_still_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_HOST", "env_host")
    monkeypatch.setenv("DB_POOL_SIZE", "7")

    resolved = create_database_config({"Database": {"PoolSize": "3"}})

    assert (resolved.host, resolved.pool_size) == ("env_host", 3)


def test_a_config_naming_a_database_does_not_mix_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_HOST", "env_host")
    monkeypatch.setenv("DB_CHARSET", "latin1")

    resolved = create_database_config({"database": "mine"})

    assert (resolved.host, resolved.database, resolved.charset) == ("localhost", "mine", "utf8mb4")


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"host": "h", "charsett": "utf8"}, "'charsett'"),
        (_ini("[Database]\nServer = h\nPoolSise = 3\n"), "'poolsise'"),
        ({"Database": {"Server": "h", "Drvier": "x"}}, "'Drvier'"),
    ],
    ids=["flat", "ini", "ini-shaped dict"],
)
def test_an_unknown_option_is_one_error_that_names_it(config: object, named: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown option {named}"):
        create_database_config(config)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"host": "h", "port": "mysql"}, "port must be a port number"),
        ({"host": "h", "port": 70000}, "port must be a port number"),
        (_ini("[Database]\nServer = h\nPoolSize = 0\n"), r"(?i)\[Database\] PoolSize must be"),
        ({"host": "h", "pool_timeout": "soon"}, "pool_timeout must be a number"),
        ({"host": "h", "pool_pre_ping": "maybe"}, "pool_pre_ping must be true or false"),
        ({"host": 42}, "host must be text"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_option(config: object, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        create_database_config(config)  # type: ignore[arg-type]


def test_a_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PORT", "three")

    with pytest.raises(ConfigError, match="DB_PORT must be a port number"):
        create_database_config(None)


def test_flat_keys_and_a_database_section_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="not both"):
        create_database_config({"host": "h", "Database": {"Server": "other"}})


def test_the_url_carries_driver_charset_and_an_escaped_password() -> None:
    config = DatabaseConfig(
        host="h", user="u", password="p@ss/word", database="d", charset="latin1"
    )

    assert config.url.render_as_string(hide_password=False) == (
        "mysql+pymysql://u:p%40ss%2Fword@h:3306/d?charset=latin1"
    )


def test_the_password_stays_out_of_the_repr() -> None:
    assert "s3cret" not in repr(ORIGINAL_CONFIG)
