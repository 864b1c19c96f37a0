"""The original ``db.database_pool`` config: ``DatabaseConfig`` and ``create_database_config``.

``create_database_config`` reads every shape the original did, and one more (a config with no
database at all falls back to the environment instead of failing):

* a flat dict: ``host``, ``port``, ``user``, ``password``, ``database``, ``charset``,
  ``pool_size``, ``max_overflow``, ``pool_timeout``, ``pool_recycle``, ``pool_pre_ping``;
* a ConfigParser (or a dict shaped like one) whose ``[Database]`` section has ``Server``,
  ``Port``, ``User``, ``Password``, ``Schema``, ``Charset``, ``PoolSize``, ``MaxOverflow``,
  ``PoolTimeout``, ``PoolRecycle`` (``PoolPrePing``); names in any case;
* ``None``, or a config naming no database: the ``DB_*`` environment variables (``DB_HOST``,
  ``DB_PORT``, ``DB_USER``, ``DB_PASSWORD``, ``DB_NAME``, ``DB_CHARSET``, ``DB_POOL_SIZE``,
  ``DB_MAX_OVERFLOW``, ``DB_POOL_TIMEOUT``, ``DB_POOL_RECYCLE``).

An unknown key, or a value that is not a number where one is needed, is a ``ConfigError`` that
names the key as it was written. The pool itself is today's ``haystack_collector.db.Database``;
``PeregrinDB.connect_db`` opens it from this config.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import URL

from haystack_collector.errors import ConfigError

__all__ = [
    "CONNECTION_FIELDS",
    "DatabaseConfig",
    "create_database_config",
    "database_config_parts",
    "ini_sections",
]

DEFAULT_PORT = 3306
DEFAULT_CHARSET = "utf8mb4"

# Field name -> the [Database] option and the environment variable that carry it.
_INI_OPTIONS = {
    "host": "Server",
    "port": "Port",
    "user": "User",
    "password": "Password",
    "database": "Schema",
    "charset": "Charset",
    "pool_size": "PoolSize",
    "max_overflow": "MaxOverflow",
    "pool_timeout": "PoolTimeout",
    "pool_recycle": "PoolRecycle",
    "pool_pre_ping": "PoolPrePing",
}
_ENV_VARIABLES = {
    "host": "DB_HOST",
    "port": "DB_PORT",
    "user": "DB_USER",
    "password": "DB_PASSWORD",
    "database": "DB_NAME",
    "charset": "DB_CHARSET",
    "pool_size": "DB_POOL_SIZE",
    "max_overflow": "DB_MAX_OVERFLOW",
    "pool_timeout": "DB_POOL_TIMEOUT",
    "pool_recycle": "DB_POOL_RECYCLE",
}
CONNECTION_FIELDS = frozenset({"host", "port", "user", "password", "database"})
"""The fields that say which database to open; a config without any of them names none."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclasses.dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """A MariaDB/MySQL database and its pool, as the original configured them."""

    host: str = "localhost"
    port: int = DEFAULT_PORT
    user: str = "root"
    password: str = dataclasses.field(default="", repr=False)
    database: str = "haystack"
    charset: str = DEFAULT_CHARSET
    pool_size: int = 10
    max_overflow: int = 20
    pool_timeout: float = 30
    pool_recycle: int = 3600
    pool_pre_ping: bool = True

    @property
    def url(self) -> URL:
        """The SQLAlchemy URL of this database (PyMySQL driver, the charset as a query)."""
        return URL.create(
            "mysql+pymysql",
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=self.database,
            query={"charset": self.charset},
        )


def create_database_config(
    config_source: Mapping[str, Any] | configparser.RawConfigParser | None = None,
) -> DatabaseConfig:
    """A DatabaseConfig from a flat dict, an INI config, or (None) the ``DB_*`` environment."""
    parts = database_config_parts(config_source)
    if not CONNECTION_FIELDS & parts.keys():
        parts = {**_from_environment(), **parts}
    return DatabaseConfig(**parts)


def database_config_parts(
    config_source: Mapping[str, Any] | configparser.RawConfigParser | None,
) -> dict[str, Any]:
    """The DatabaseConfig fields the source gives, converted and checked (nothing defaulted).

    A dict whose values are dicts is read as INI sections; only its ``[Database]`` section is
    read here (the other sections are the rest of the original INI file).
    """
    if config_source is None:
        return {}
    if isinstance(config_source, configparser.RawConfigParser):
        return _from_ini(_database_section(ini_sections(config_source)))
    flat = {k: v for k, v in config_source.items() if not isinstance(v, Mapping)}
    sections = {str(k): v for k, v in config_source.items() if isinstance(v, Mapping)}
    section = _database_section(sections)
    if flat and section:
        raise ConfigError(
            "database config: give either flat keys (host, user, ...) or a [Database] section,"
            f" not both (got {sorted(map(str, flat))[0]!r} and a Database section)",
            setting=str(sorted(map(str, flat))[0]),
        )
    return _from_ini(section) if section else _from_flat(flat)


def ini_sections(parser: configparser.RawConfigParser) -> dict[str, Mapping[str, Any]]:
    """Each section's own options, as a dict of dicts."""
    # items() mixes the [DEFAULT] section into every section; those keys are not the section's.
    defaults = parser.defaults()
    return {
        name: {
            key: value
            for key, value in parser.items(name, raw=True)
            if key not in defaults or defaults[key] != value
        }
        for name in parser.sections()
    }


def _database_section(sections: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    for name, section in sections.items():
        if name.lower() == "database":
            return section
    return {}


def _from_flat(flat: Mapping[Any, Any]) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for key, value in flat.items():
        if key in _INI_OPTIONS and _blank(key, value):
            continue
        if key not in _INI_OPTIONS:
            raise ConfigError(
                f"database config: unknown option {key!r}; known: {', '.join(_INI_OPTIONS)}",
                setting=str(key),
            )
        parts[key] = _convert(key, key, value)
    return parts


def _from_ini(section: Mapping[str, Any]) -> dict[str, Any]:
    by_option = {option.lower(): field for field, option in _INI_OPTIONS.items()}
    parts: dict[str, Any] = {}
    for option, value in section.items():
        field = by_option.get(str(option).lower())
        if field is None:
            raise ConfigError(
                f"database config: unknown option {option!r} in [Database]; known: "
                + ", ".join(_INI_OPTIONS.values()),
                setting=str(option),
            )
        if not _blank(field, value):
            parts[field] = _convert(field, f"[Database] {option}", value)
    return parts


def _from_environment() -> dict[str, Any]:
    return {
        field: _convert(field, variable, os.environ[variable])
        for field, variable in _ENV_VARIABLES.items()
        if not _blank(field, os.environ.get(variable))
    }


def _blank(field: str, value: Any) -> bool:
    """An empty value is no value (hand-edited INI files leave options empty), but for a
    password, where empty means none."""
    if field == "password":
        return value is None
    return value is None or (isinstance(value, str) and not value.strip())


def _convert(field: str, written: str, value: Any) -> Any:
    """The field's value from a config value (INI values are strings), or a ConfigError."""
    if field == "password":
        return "" if value is None else str(value)
    convert: Callable[[Any], Any] = _CONVERTERS.get(field, _text)
    try:
        converted = convert(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"database config: {written} must be {_KIND.get(field, 'text')}, not {value!r}",
            setting=written,
        ) from None
    low, high = _RANGES.get(field, (None, None))
    if (low is not None and converted < low) or (high is not None and converted > high):
        raise ConfigError(
            f"database config: {written} must be {_KIND[field]}, not {value!r}", setting=written
        )
    return converted


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(value)
    return value.strip()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(value)


def _whole(value: Any) -> int:
    return int(value)


def _number(value: Any) -> float:
    return float(value)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "port": _whole,
    "pool_size": _whole,
    "max_overflow": _whole,
    "pool_recycle": _whole,
    "pool_timeout": _number,
    "pool_pre_ping": _boolean,
}
_KIND = {
    "port": "a port number (1-65535)",
    "pool_size": "a whole number of at least 1",
    "max_overflow": "a whole number of at least 0",
    "pool_recycle": "a whole number of seconds (-1 for never)",
    "pool_timeout": "a number of seconds above 0",
    "pool_pre_ping": "true or false",
}
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "port": (1, 65535),
    "pool_size": (1, None),
    "max_overflow": (0, None),
    "pool_recycle": (-1, None),
    "pool_timeout": (1e-9, None),
}
