"""Haystack's settings: one pydantic-settings model fed by HAYSTACK_* variables, `.env`,
the original deployment's DB_* variables and its legacy INI file.

Precedence, highest first: arguments, ``HAYSTACK_*``/``DB_*`` environment, ``.env``, the INI file
named by ``HAYSTACK_CONFIG_FILE``, defaults. ``DB_HOST`` (or an INI ``[Database] server``) builds a
MariaDB URL, used only when ``HAYSTACK_DATABASE_URL`` is not given.
"""

from __future__ import annotations

import configparser
import dataclasses
import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import URL, make_url

from haystack_collector.errors import ConfigError
from haystack_collector.fetch.settings import BrowserSettings, FetchSettings

DEFAULT_DATABASE_URL = "sqlite:///./haystack.db"

# The legacy INI file's (section, option) for each setting it can carry.
_INI_KEYS: dict[str, tuple[str, str]] = {
    "db_host": ("Database", "server"),
    "db_user": ("Database", "user"),
    "db_password": ("Database", "password"),
    "db_name": ("Database", "schema"),
    "db_port": ("Database", "port"),
    "pool_size": ("Database", "PoolSize"),
    "max_overflow": ("Database", "MaxOverflow"),
    "pool_timeout": ("Database", "PoolTimeout"),
    "pool_recycle": ("Database", "PoolRecycle"),
    "downloads_dir": ("Paths", "downloads"),
    "data_dir": ("Paths", "haystack"),
    "worker_concurrency": ("Threads", "count"),
    "web_scraper_depth": ("Depths", "webScraper"),
}


def _env(name: str, *legacy: str) -> AliasChoices:
    return AliasChoices(f"HAYSTACK_{name}", *legacy)


class Settings(BaseSettings):
    """Everything Haystack can be told; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    database_url: str | None = Field(
        default=None, validation_alias=_env("DATABASE_URL"), repr=False
    )
    db_host: str | None = Field(default=None, validation_alias=_env("DB_HOST", "DB_HOST"))
    db_port: int = Field(default=3306, ge=1, le=65535, validation_alias=_env("DB_PORT", "DB_PORT"))
    db_name: str = Field(default="haystack", validation_alias=_env("DB_NAME", "DB_NAME"))
    db_user: str = Field(default="root", validation_alias=_env("DB_USER", "DB_USER"))
    db_password: SecretStr = Field(
        default=SecretStr(""), validation_alias=_env("DB_PASSWORD", "DB_PASSWORD")
    )

    pool_size: int = Field(default=10, ge=1, validation_alias=_env("POOL_SIZE", "DB_POOL_SIZE"))
    max_overflow: int = Field(
        default=20, ge=0, validation_alias=_env("MAX_OVERFLOW", "DB_MAX_OVERFLOW")
    )
    pool_timeout: float = Field(
        default=30.0, gt=0, validation_alias=_env("POOL_TIMEOUT", "DB_POOL_TIMEOUT")
    )
    pool_recycle: int = Field(
        default=3600, ge=-1, validation_alias=_env("POOL_RECYCLE", "DB_POOL_RECYCLE")
    )
    pool_pre_ping: bool = Field(default=True, validation_alias=_env("POOL_PRE_PING"))
    db_connect_timeout: float = Field(
        default=10.0, gt=0, validation_alias=_env("DB_CONNECT_TIMEOUT")
    )
    sqlite_busy_timeout: float = Field(
        default=30.0, ge=0, validation_alias=_env("SQLITE_BUSY_TIMEOUT")
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", validation_alias=_env("LOG_LEVEL")
    )
    log_dir: Path | None = Field(default=None, validation_alias=_env("LOG_DIR"))
    log_json: bool = Field(default=True, validation_alias=_env("LOG_JSON"))
    log_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, validation_alias=_env("LOG_MAX_BYTES")
    )
    log_backup_count: int = Field(default=5, ge=0, validation_alias=_env("LOG_BACKUP_COUNT"))

    downloads_dir: Path = Field(default=Path("downloads"), validation_alias=_env("DOWNLOADS_DIR"))
    data_dir: Path = Field(default=Path("."), validation_alias=_env("DATA_DIR"))
    worker_concurrency: int = Field(
        default=4, ge=1, le=1000, validation_alias=_env("WORKER_CONCURRENCY")
    )
    web_scraper_depth: int = Field(
        default=3, ge=0, le=100, validation_alias=_env("WEB_SCRAPER_DEPTH")
    )
    # Earlier versions of each item kept when its meaning changes (store/versions.py): the
    # newest this many (0: keep none, and read nothing to decide), none older than this many
    # days (unset: no age limit; an item's newest earlier version is always kept).
    versions_keep: int = Field(default=50, ge=0, le=100_000, validation_alias=_env("VERSIONS_KEEP"))
    versions_max_age: float | None = Field(
        default=None, gt=0, validation_alias=_env("VERSIONS_MAX_AGE")
    )
    # Seconds a worker may miss its heartbeats before any other worker judges it dead and
    # releases its claims (crash recovery; see worker.py). The same on every worker.
    worker_stall_timeout: float = Field(
        default=30.0, ge=1.0, le=3600.0, validation_alias=_env("WORKER_STALL_TIMEOUT")
    )
    # The host part of a worker's owner id (name:pid:token) and of its Workers row; default:
    # the machine's host name. Lets containers sharing a host name tell their workers apart.
    worker_name: str | None = Field(
        default=None, min_length=1, max_length=100, validation_alias=_env("WORKER_NAME")
    )
    # Items one re-visit policy's tick queues at most, unless the policy sets its own batch.
    revisit_batch: int = Field(
        default=500, ge=1, le=1_000_000, validation_alias=_env("REVISIT_BATCH")
    )

    # The fetcher (see fetch/settings.py for what each does and the rest of its knobs).
    user_agent: str | None = Field(default=None, validation_alias=_env("USER_AGENT"))
    obey_robots: bool = Field(default=True, validation_alias=_env("OBEY_ROBOTS"))
    allow_private_addresses: bool = Field(
        default=True, validation_alias=_env("ALLOW_PRIVATE_ADDRESSES")
    )
    per_host_concurrency: int = Field(
        default=2, ge=1, le=100, validation_alias=_env("PER_HOST_CONCURRENCY")
    )
    download_delay: float = Field(default=1.0, ge=0, validation_alias=_env("DOWNLOAD_DELAY"))
    autothrottle: bool = Field(default=False, validation_alias=_env("AUTOTHROTTLE"))
    connect_timeout: float = Field(default=10.0, gt=0, validation_alias=_env("CONNECT_TIMEOUT"))
    read_timeout: float = Field(default=30.0, gt=0, validation_alias=_env("READ_TIMEOUT"))
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, validation_alias=_env("MAX_BODY_BYTES")
    )
    # Hosts ("host:port") that work through the API may reach although they are private (a
    # JSON list): a service of the operator's own; everything else private stays refused.
    guard_allow: list[str] = Field(default_factory=list, validation_alias=_env("GUARD_ALLOW"))

    # The browser fetcher (fetch/browser.py; the "browser" extra).
    browser_path: str = Field(default="/usr/bin/chromium", validation_alias=_env("BROWSER_PATH"))
    browser_pages: int = Field(default=2, ge=1, le=64, validation_alias=_env("BROWSER_PAGES"))
    browser_timeout: float = Field(default=30.0, gt=0, validation_alias=_env("BROWSER_TIMEOUT"))
    # Resource types a rendered page never loads (a JSON list of image, font, media, stylesheet).
    browser_block: list[Literal["image", "font", "media", "stylesheet"]] = Field(
        default_factory=list, validation_alias=_env("BROWSER_BLOCK")
    )

    # The API and UI (``haystack serve``).
    api_host: str = Field(default="127.0.0.1", validation_alias=_env("API_HOST"))
    api_port: int = Field(default=8000, ge=1, le=65535, validation_alias=_env("API_PORT"))
    # Processes answering API requests on that one port: one per core serves the most requests
    # (only the first runs the embedded worker; the rate limit counts per process).
    api_processes: int = Field(default=1, ge=1, le=64, validation_alias=_env("API_PROCESSES"))
    # Item reads (lists, searches, details) an API process runs at once; None: 1 on SQLite
    # (its reads are CPU work in this process: side by side they only contend for the GIL),
    # the pool size on MariaDB/PostgreSQL (their reads wait on the server).
    api_read_threads: int | None = Field(
        default=None, ge=1, le=256, validation_alias=_env("API_READ_THREADS")
    )
    # Who may read without a token: "loopback" (clients on 127.0.0.1/::1), "open", or "token".
    api_read_access: Literal["loopback", "open", "token"] = Field(
        default="loopback", validation_alias=_env("API_READ_ACCESS")
    )
    cors_origins: list[str] = Field(default_factory=list, validation_alias=_env("CORS_ORIGINS"))
    # Per-client request budget: a token bucket refilled at ``rate`` per second up to ``burst``.
    api_rate_limit: float = Field(default=50.0, gt=0, validation_alias=_env("API_RATE_LIMIT"))
    api_rate_burst: int = Field(default=200, ge=1, validation_alias=_env("API_RATE_BURST"))
    # URLs that arrive through the API may not target private, loopback or link-local hosts
    # unless this allows it (the command line trusts its own user; see allow_private_addresses).
    api_allow_private: bool = Field(default=False, validation_alias=_env("API_ALLOW_PRIVATE"))
    # The largest request body the API reads (413 beyond it): its JSON bodies are small.
    api_max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=1024**3, validation_alias=_env("API_MAX_BODY_BYTES")
    )
    # Host header names answered besides localhost, 127.0.0.1, [::1] and api_host (a JSON
    # list; "*" allows any, turning the DNS-rebinding check off). See docs/security.md.
    allowed_hosts: list[str] = Field(default_factory=list, validation_alias=_env("ALLOWED_HOSTS"))
    # Proxy addresses whose X-Forwarded-For/-Proto uvicorn believes (a JSON list of IPs or
    # networks, "*" for any); empty: the headers are ignored and the socket's peer is the client.
    forwarded_allow_ips: list[str] = Field(
        default_factory=list, validation_alias=_env("FORWARDED_ALLOW_IPS")
    )
    # Live streams (/api/stream) open at once, per client (token, else address) and in all,
    # per API process; 429 beyond either.
    api_max_streams_per_client: int = Field(
        default=8, ge=1, le=1000, validation_alias=_env("API_MAX_STREAMS_PER_CLIENT")
    )
    api_max_streams: int = Field(
        default=64, ge=1, le=10_000, validation_alias=_env("API_MAX_STREAMS")
    )
    # Folders, besides the downloads and data folders, that path settings arriving through the
    # API may name (a JSON list); the command line is not confined (see paths.py).
    api_path_roots: list[Path] = Field(
        default_factory=list, validation_alias=_env("API_PATH_ROOTS")
    )

    # Watches and notifications (see docs/watching.md): seconds between the notifier's passes
    # (evaluate the watches, record alerts, deliver); 0 turns the notifier off in this process.
    notify_every: float = Field(
        default=60.0, ge=0, le=86_400, validation_alias=_env("NOTIFY_EVERY")
    )
    # 0: one digest per watch per pass; N: at most one digest per watch every N seconds.
    notify_digest_interval: float = Field(
        default=0.0, ge=0, le=7 * 86_400, validation_alias=_env("NOTIFY_DIGEST_INTERVAL")
    )
    # Attempts to send a notification before it is marked failed; the first retry waits
    # notify_backoff seconds, each next one twice as long (at most an hour).
    notify_max_attempts: int = Field(
        default=5, ge=1, le=100, validation_alias=_env("NOTIFY_MAX_ATTEMPTS")
    )
    notify_backoff: float = Field(
        default=30.0, ge=0, le=3600, validation_alias=_env("NOTIFY_BACKOFF")
    )
    # A notification still "sending" after this many seconds lost its sender: it becomes
    # "uncertain" and is not sent again on its own (see docs/watching.md).
    notify_lease: float = Field(
        default=300.0, ge=5, le=86_400, validation_alias=_env("NOTIFY_LEASE")
    )
    # Apprise URLs told directly when the database is unreachable (a JSON list; secret), at
    # most once per notify_db_alert_every seconds per process, besides the alert watches'.
    notify_alert_channels: list[str] = Field(
        default_factory=list, validation_alias=_env("NOTIFY_ALERT_CHANNELS"), repr=False
    )
    notify_db_alert_every: float = Field(
        default=900.0, ge=0, le=86_400, validation_alias=_env("NOTIFY_DB_ALERT_EVERY")
    )
    # Rows written less than this many seconds ago wait for the next pass: an id is handed out
    # when a row is inserted, so a row committed late can have a lower id than one already read.
    notify_settle: float = Field(default=5.0, ge=0, le=600, validation_alias=_env("NOTIFY_SETTLE"))
    # A host's circuit breaker open this many seconds raises a system alert.
    notify_breaker_alert_after: float = Field(
        default=600.0, ge=0, le=86_400, validation_alias=_env("NOTIFY_BREAKER_ALERT_AFTER")
    )

    config_file: Path | None = Field(default=None, validation_alias=_env("CONFIG_FILE"))

    @field_validator("allowed_hosts", mode="after")
    @classmethod
    def _check_allowed_hosts(cls, names: list[str]) -> list[str]:
        return [_host_name(name) for name in names]

    @field_validator("forwarded_allow_ips", mode="after")
    @classmethod
    def _check_forwarded_allow_ips(cls, addresses: list[str]) -> list[str]:
        for address in addresses:
            if address != "*":
                try:
                    ipaddress.ip_network(address, strict=False)
                except ValueError:
                    raise ValueError(
                        f"forwarded_allow_ips: {address!r} is not an IP address or network"
                    ) from None
        return addresses

    @model_validator(mode="after")
    def _check_database_url(self) -> Settings:
        try:
            make_url(self.url.render_as_string(hide_password=False))
        except Exception as exc:
            raise ValueError(f"database_url: not a database URL ({exc})") from None
        if self.url.get_backend_name() not in {"sqlite", "mysql", "mariadb", "postgresql"}:
            raise ValueError(
                f"database_url: unsupported database {self.url.get_backend_name()!r};"
                " use sqlite, mysql/mariadb or postgresql"
            )
        return self

    @property
    def url(self) -> URL:
        """The database URL, built from DB_* parts when no URL was given."""
        if self.database_url:
            return make_url(self.database_url)
        if self.db_host:
            return URL.create(
                "mysql+pymysql",
                username=self.db_user,
                password=self.db_password.get_secret_value() or None,
                host=self.db_host,
                port=self.db_port,
                database=self.db_name,
                query={"charset": "utf8mb4"},
            )
        return make_url(DEFAULT_DATABASE_URL)

    def fetch_settings(self) -> FetchSettings:
        """The fetcher's settings, from these (its other knobs keep their defaults)."""
        fetch = FetchSettings(
            obey_robots=self.obey_robots,
            allow_private=self.allow_private_addresses,
            api_allow_private=self.api_allow_private,
            per_host_concurrency=self.per_host_concurrency,
            min_delay=self.download_delay,
            autothrottle=self.autothrottle,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_body_bytes=self.max_body_bytes,
            guard_allow=frozenset(name.strip().lower() for name in self.guard_allow),
        )
        return dataclasses.replace(fetch, user_agent=self.user_agent) if self.user_agent else fetch

    def browser_settings(self) -> BrowserSettings:
        """The browser fetcher's settings, from these."""
        return BrowserSettings(
            executable=self.browser_path,
            pages=self.browser_pages,
            page_timeout=self.browser_timeout,
            block=frozenset(self.browser_block),
        )

    @property
    def safe_database_url(self) -> str:
        """The database URL with its password masked, for logs and screens."""
        return self.url.render_as_string(hide_password=True)

    def __repr_args__(self) -> Any:
        yield "database_url", self.safe_database_url
        for name, value in super().__repr_args__():
            if name != "database_url":
                yield name, value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            LegacyIniSource(settings_cls, init_settings, env_settings, dotenv_settings),
            file_secret_settings,
        )


def _host_name(name: str) -> str:
    """A Host header name as compared: lower case, IPv6 without brackets; ValueError if it
    is not a bare name (a port, a scheme or a path)."""
    host = name.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "*":
        return host
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or not all(
        part and part.replace("-", "").replace("_", "").isalnum() for part in host.split(".")
    ):
        raise ValueError(f"allowed_hosts: {name!r} is not a host name (no port or scheme)")
    return host


class LegacyIniSource(PydanticBaseSettingsSource):
    """Reads the original deployment's INI file named by ``config_file``."""

    def __init__(
        self, settings_cls: type[BaseSettings], *sources_naming_the_file: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self._sources = sources_naming_the_file

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads the whole file at once

    def _config_file(self) -> Path | None:
        for source in self._sources:
            data = source()
            for key in ("config_file", "HAYSTACK_CONFIG_FILE"):
                if data.get(key):
                    return Path(data[key])
        return None

    def __call__(self) -> dict[str, Any]:
        path = self._config_file()
        if path is None:
            return {}
        return read_legacy_ini(path)


def read_legacy_ini(path: Path) -> dict[str, Any]:
    """Map the original INI file's options onto setting names."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep 'PoolSize' as written
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError(
            f"config_file: cannot read {path}: {exc.strerror}", setting="config_file"
        ) from exc
    except configparser.Error as exc:
        raise ConfigError(
            f"config_file: {path} is not a valid INI file: {exc}", setting="config_file"
        ) from exc
    return legacy_ini_values(parser)


def legacy_ini_values(parser: configparser.RawConfigParser) -> dict[str, Any]:
    """The settings an original INI file carries, by setting name (empty options skipped)."""
    values: dict[str, Any] = {}
    for name, (section, option) in _INI_KEYS.items():
        found = _ini_option(parser, section, option)
        if found:
            values[name] = found
    return values


def _ini_option(parser: configparser.RawConfigParser, section: str, option: str) -> str | None:
    # The original files were hand-edited; accept any case for section and option names.
    for sec in parser.sections():
        if sec.lower() == section.lower():
            for opt, value in parser.items(sec):
                if opt.lower() == option.lower():
                    return value.strip()
    return None


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning a validation failure into a ConfigError that names the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        field = _field_for(error["loc"][0] if error["loc"] else "", message)
        message = message.removeprefix(f"{field}: ")
        where = _where_set(field)
        shown = "" if field in _SECRET_FIELDS else f" (got {error.get('input')!r})"
        raise ConfigError(f"{where}: {message}{shown}", setting=field or None) from None


_SECRET_FIELDS = frozenset({"database_url", "db_password"})


def _field_for(loc: object, message: str) -> str:
    """The field name behind a validation error location (which may be an alias)."""
    for name, info in Settings.model_fields.items():
        aliases = getattr(info.validation_alias, "choices", [])
        if loc == name or loc in aliases:
            return name
    head = message.split(":", 1)[0]
    return head if head in Settings.model_fields else ""


def _where_set(field: str) -> str:
    """Name a setting the way the user wrote it: the variable they set, or the INI option."""
    if not field:
        return "settings"
    aliases = getattr(Settings.model_fields[field].validation_alias, "choices", [])
    for alias in aliases:
        if alias in os.environ:
            return f"{field} ({alias})"
    if field in _INI_KEYS:
        section, option = _INI_KEYS[field]
        return f"{field} (HAYSTACK_{field.upper()} or INI [{section}] {option})"
    return f"{field} (HAYSTACK_{field.upper()})"
