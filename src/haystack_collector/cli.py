"""The ``haystack`` command line: schema upgrades, the Config table and a status summary.

Every command reports a failure as one ``error: ...`` line on stderr and an exit code:
0 success, 1 runtime failure (database unreachable, key missing, schema not ready; ``db status``
also uses 1 for "upgrades pending"), 2 usage or configuration error. Secrets never reach the
screen: database URLs are shown masked and error text is redacted.

Only ``init`` and ``db upgrade`` migrate a MariaDB or PostgreSQL database; a SQLite database
(the default ``./haystack.db``) is created and migrated by whichever command first opens it,
because that is what someone trying Haystack out expects.
"""

from __future__ import annotations

import functools
import json as jsonlib
import logging
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec

import typer

from haystack_collector import __version__
from haystack_collector.api.tokens_cli import make_token_app
from haystack_collector.errors import (
    ConfigError,
    DatabaseConnectionError,
    DatabaseError,
    ExtractionError,
    HaystackError,
    NotFoundError,
)
from haystack_collector.exits import EXIT_FAILURE, EXIT_USAGE
from haystack_collector.logs import correlation_scope, redact, setup_logging
from haystack_collector.memory import limit_malloc_arenas
from haystack_collector.revisit_cli import make_revisit_command
from haystack_collector.versions_cli import make_versions_app
from haystack_collector.watch.cli import make_watch_app

# Each command imports what it needs when it runs: `haystack --version`, `--help` and the
# commands that never serve the API (crawl, worker) start without the database layer, the
# engines or the API stack (tests/unit/test_cli_imports.py, tests/e2e/test_cli_imports.py).
if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.engine import URL

    from haystack_collector.db import Database, migrate
    from haystack_collector.engines.base import ActionResult, Engine
    from haystack_collector.settings import Settings

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "app", "main"]

P = ParamSpec("P")

EXIT_OK = 0

# How long the reachability probe waits for a server's answers; a URL's own value wins.
PROBE_TIMEOUT_S = 5

# For one-shot commands the console shows only errors unless a level was asked for: the
# database layer logs a warning for each failure, which would repeat the final error line.
_QUIET_CONSOLE_LEVEL = "ERROR"

# The global options, by the setting each one overrides.
_OPTIONS = {"database_url": "--database-url", "log_level": "--log-level", "config_file": "--config"}

app = typer.Typer(
    name="haystack",
    help="Haystack: a self-hosted web collector that harvests the web into a database you own.",
    epilog="Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks with locals would print URLs and passwords held in variables.
    pretty_exceptions_show_locals=False,
    # Plain help: typer's rich formatter alone costs a third of the 0.3 s `--help` budget.
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Inspect and upgrade the database schema.", no_args_is_help=True)
config_app = typer.Typer(
    help="Read and change the Config table (changes are recorded as Status rows).",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
engines_app = typer.Typer(help="List the installed engines.", no_args_is_help=True)
schedule_app = typer.Typer(
    help="Recurring runs of an engine's start actions (fired by workers).", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(engines_app, name="engines")
app.add_typer(schedule_app, name="schedule")

# Tasks (claimed events) a worker runs at once; None: the setting (HAYSTACK_WORKER_CONCURRENCY,
# [Threads] count).
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        "-c",
        min=1,
        help="Tasks run at the same time (default: HAYSTACK_WORKER_CONCURRENCY).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object, for scripts.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="An engine setting (repeatable); VALUE is read as JSON when it parses.",
    ),
]


# --- per-invocation state ------------------------------------------------------------------


@dataclass
class _State:
    """What the global options asked for, and what was built from it (lazily)."""

    overrides: dict[str, Any]
    settings: Settings | None = None
    database: Database | None = None
    secrets: list[str] = field(default_factory=list)


def _state(ctx: typer.Context) -> _State:
    state = ctx.find_root().obj
    assert isinstance(state, _State), "the root callback sets the state"
    return state


def _settings(ctx: typer.Context) -> Settings:
    """Load the settings on first use, so `--help` works even when a setting is broken."""
    from haystack_collector.engines.defaults import (  # noqa: PLC0415
        EngineDefaults,
        configure_defaults,
    )
    from haystack_collector.settings import load_settings  # noqa: PLC0415
    from haystack_collector.store import versions  # noqa: PLC0415

    state = _state(ctx)
    if state.settings is None:
        try:
            settings = load_settings(**state.overrides)
        except ConfigError as error:
            raise _blame_option(error, state.overrides) from None
        password = settings.url.password
        state.secrets = [str(password)] if password else []
        _setup_logging(settings)
        state.settings = settings
        # Engines fall back on these folders and depth; the next command reads its own.
        configure_defaults(EngineDefaults.of(settings))
        ctx.find_root().call_on_close(lambda: configure_defaults(None))
        # Every write of item data applies the version retention (store/versions.py).
        versions.configure_retention(
            versions.retention_of(settings.versions_keep, settings.versions_max_age)
        )
        ctx.find_root().call_on_close(lambda: versions.configure_retention(None))
    return state.settings


def _blame_option(error: ConfigError, overrides: dict[str, Any]) -> ConfigError:
    """Name the command-line option, not the variable, when a bad value came from an option.

    load_settings writes ``setting (WHERE): problem`` and cannot know about our options.
    """
    setting = error.setting
    prefix = f"{setting} ("
    if setting not in overrides or not error.message.startswith(prefix):
        return error
    where_ends = error.message.find("): ", len(prefix))
    if where_ends < 0:
        return error
    option = _OPTIONS[setting]
    return ConfigError(f"{prefix}{option}{error.message[where_ends:]}", setting=setting)


def _setup_logging(settings: Settings) -> None:
    try:
        logger = setup_logging(
            settings.log_level,
            settings.log_dir,
            settings.log_json,
            console=True,
            max_bytes=settings.log_max_bytes,
            backup_count=settings.log_backup_count,
        )
    except OSError as exc:
        raise ConfigError(
            f"log_dir: cannot write logs to {settings.log_dir}: {exc.strerror}", setting="log_dir"
        ) from exc
    if "log_level" not in settings.model_fields_set:
        for handler in logger.handlers:
            if not isinstance(handler, logging.FileHandler):  # the console; files keep the level
                handler.setLevel(_QUIET_CONSOLE_LEVEL)


def _database(ctx: typer.Context) -> Database:
    """The database the settings name, checked reachable and disposed when the command ends."""
    state = _state(ctx)
    if state.database is None:
        settings = _settings(ctx)
        if settings.url.get_backend_name() != "sqlite":
            _check_reachable(settings)
        database = _open(settings, settings.url)
        ctx.find_root().call_on_close(database.dispose)
        state.database = database
    return state.database


def _check_reachable(settings: Settings) -> None:
    """Fail fast on a server that accepts connections but never answers.

    PyMySQL waits for the server's greeting without a timeout, so a URL pointing at the wrong
    port (say PostgreSQL's) hangs until that service gives up, a minute later. A throwaway
    connection with read timeouts answers in seconds; the real pool has no read timeout, so a
    long migration is never cut off half-way.
    """
    probe = _open(
        settings.model_copy(update={"pool_size": 1, "max_overflow": 0}),
        _with_probe_timeouts(settings.url),
    )
    try:
        health = probe.health_check()
    finally:
        probe.dispose()
    if not health.ok:
        raise DatabaseConnectionError(health.error or "the database did not answer")


def _open(settings: Settings, url: URL) -> Database:
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from haystack_collector.db import Database  # noqa: PLC0415

    try:
        return Database.from_settings(
            settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)})
        )
    except (SQLAlchemyError, ImportError) as exc:  # e.g. an unknown driver in the URL
        raise ConfigError(f"database_url: {exc}", setting="database_url") from exc


def _with_probe_timeouts(url: URL) -> URL:
    """Add short timeouts the URL does not set itself (both drivers read them from the query)."""
    wanted = {"connect_timeout": str(PROBE_TIMEOUT_S)}
    if url.get_backend_name() in ("mysql", "mariadb"):
        wanted |= {"read_timeout": str(PROBE_TIMEOUT_S), "write_timeout": str(PROBE_TIMEOUT_S)}
    missing = {key: value for key, value in wanted.items() if key not in url.query}
    return url.update_query_dict(missing) if missing else url


# --- errors and output ---------------------------------------------------------------------


def _reports_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Turn Haystack's errors into one ``error:`` line and an exit code (2 for configuration)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except HaystackError as error:
            _fail(error, kwargs.get("ctx"))
        except Exception as error:
            # Migrations run outside Database's error mapping. Only a command that loaded
            # SQLAlchemy can raise its errors: it is not imported just to check.
            sa_exc = sys.modules.get("sqlalchemy.exc")
            if sa_exc is None or not isinstance(error, sa_exc.SQLAlchemyError):
                raise
            from haystack_collector.db import map_db_error  # noqa: PLC0415

            _fail(map_db_error(error), kwargs.get("ctx"))

    return wrapper


def _fail(error: HaystackError, ctx: object) -> NoReturn:
    state = ctx.find_root().obj if isinstance(ctx, typer.Context) else None
    # Drivers do not print passwords, but a literal one is masked too, should one ever do so.
    secrets = state.secrets if isinstance(state, _State) else []
    message = " ".join(redact(str(error)).split())  # one line, whatever the driver said
    for secret in secrets:
        message = message.replace(secret, "***")
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILURE) from None


def _note(message: str) -> None:
    """Side information on stderr, so stdout stays parseable."""
    typer.echo(message, err=True)


def _print_json(payload: dict[str, Any]) -> None:
    typer.echo(jsonlib.dumps(payload, indent=2, default=str))


# --- schema --------------------------------------------------------------------------------


def _ready_database(ctx: typer.Context) -> Database:
    """The database with an up-to-date schema; only SQLite is migrated without being asked."""
    from haystack_collector.db import migrate  # noqa: PLC0415

    db = _database(ctx)
    current = migrate.status(db)
    if current.up_to_date:
        return db
    if db.dialect == "sqlite":
        after = migrate.upgrade(db)
        for line in _upgrade_lines(current, after):
            _note(line)
        return db
    raise DatabaseError(_not_ready_reason(current) + ": run `haystack db upgrade`")


def _not_ready_reason(current: migrate.MigrationStatus) -> str:
    if current.legacy_unversioned:
        return "existing Peregrin database not adopted yet"
    if current.current is None:
        return "database not initialised"
    return f"database schema at revision {current.current}, {', '.join(current.pending)} pending"


def _upgrade_lines(before: migrate.MigrationStatus, after: migrate.MigrationStatus) -> list[str]:
    from haystack_collector.db import migrate  # noqa: PLC0415

    lines = []
    if before.legacy_unversioned:
        lines.append(
            f"adopted the existing Peregrin database at revision {migrate.PEREGRIN_BASELINE}"
        )
    if before.pending:
        lines.append(f"applied {', '.join(before.pending)}")
    if before.up_to_date:
        lines.append(f"database already at revision {after.current}")
    else:
        lines.append(f"database upgraded to revision {after.current}")
    return lines


# --- global options ------------------------------------------------------------------------


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"haystack {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="Database URL (overrides HAYSTACK_DATABASE_URL); default sqlite:///./haystack.db.",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            metavar="LEVEL",
            help="DEBUG, INFO, WARNING, ERROR or CRITICAL (overrides HAYSTACK_LOG_LEVEL);"
            " when neither is given the console shows errors only.",
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Legacy Peregrin INI file (same as HAYSTACK_CONFIG_FILE).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Haystack: a self-hosted web collector that harvests the web into a database you own."""
    overrides: dict[str, Any] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    if log_level is not None:
        overrides["log_level"] = log_level.upper()
    if config_file is not None:
        overrides["config_file"] = config_file
    ctx.obj = _State(overrides)
    # Scoped, not set: the id must not outlive the command (CliRunner reuses the context).
    ctx.with_resource(correlation_scope())


# --- db ------------------------------------------------------------------------------------


@db_app.command("upgrade")
@_reports_errors
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations; an existing Peregrin database is adopted in place first."""
    from haystack_collector.db import migrate  # noqa: PLC0415

    db = _database(ctx)
    before = migrate.status(db)
    after = migrate.upgrade(db)
    for line in _upgrade_lines(before, after):
        typer.echo(line)


@db_app.command("status")
@_reports_errors
def db_status(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the current and head revisions and what is pending; never changes the database.

    Exit code 0 when the schema is up to date, 1 when an upgrade is pending (or on failure).
    """
    from haystack_collector.db import migrate  # noqa: PLC0415

    settings = _settings(ctx)
    current = migrate.status(_database(ctx))
    if json_output:
        _print_json(
            {
                "database": settings.safe_database_url,
                "current": current.current,
                "head": current.head,
                "pending": list(current.pending),
                "legacy_unversioned": current.legacy_unversioned,
                "up_to_date": current.up_to_date,
            }
        )
    else:
        typer.echo(f"database: {settings.safe_database_url}")
        typer.echo(f"current:  {current.current or 'none'}")
        typer.echo(f"head:     {current.head}")
        typer.echo(f"pending:  {', '.join(current.pending) or 'none'}")
        if current.legacy_unversioned:
            typer.echo("note:     an existing Peregrin database; `haystack db upgrade` adopts it")
    raise typer.Exit(EXIT_OK if current.up_to_date else EXIT_FAILURE)


# --- config --------------------------------------------------------------------------------


@config_app.command("get")
@_reports_errors
def config_get(
    ctx: typer.Context, key: Annotated[str, typer.Argument(metavar="KEY", help="Config name.")]
) -> None:
    """Print a config value (exit 1 when the key does not exist)."""
    from haystack_collector.store import all_config  # noqa: PLC0415

    with _ready_database(ctx).read() as conn:
        values = all_config(conn)
    if key not in values:
        raise NotFoundError(f"no config key named {key!r}")
    typer.echo(values[key] or "")


@config_app.command("set")
@_reports_errors
def config_set(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="Config name; created when new.")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="New value.")],
) -> None:
    """Set a config value; a change is recorded as a Status row."""
    from haystack_collector.store import set_config  # noqa: PLC0415

    with _ready_database(ctx).transaction() as conn:
        changed = set_config(conn, name=key, value=value)
    typer.echo(f"{key}={value}" + ("" if changed else " (unchanged)"))


@config_app.command("list")
@_reports_errors
def config_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Print every config key as KEY=VALUE, sorted by name."""
    from haystack_collector.store import all_config  # noqa: PLC0415

    with _ready_database(ctx).read() as conn:
        values = all_config(conn)
    if json_output:
        _print_json(dict(values))
        return
    for key, value in values.items():
        typer.echo(f"{key}={value or ''}")


# --- status, init, run ---------------------------------------------------------------------


def _status_summary(ctx: typer.Context, db: Database) -> dict[str, Any]:
    from haystack_collector.db import migrate  # noqa: PLC0415
    from haystack_collector.store import event_counts  # noqa: PLC0415
    from haystack_collector.store.admin import table_counts  # noqa: PLC0415
    from haystack_collector.store.runs import run_counts  # noqa: PLC0415
    from haystack_collector.store.schedules import list_schedules  # noqa: PLC0415
    from haystack_collector.store.workers import recent_workers  # noqa: PLC0415

    health = db.health_check()
    if not health.ok:
        raise DatabaseConnectionError(health.error or "the database did not answer")
    schema = migrate.status(db)
    with db.read() as conn:
        counts = table_counts(conn)
        events = event_counts(conn)
        runs = run_counts(conn)
        schedules = list_schedules(conn)
        workers = recent_workers(conn)
    return {
        "version": __version__,
        "database": _settings(ctx).safe_database_url,
        "dialect": db.dialect,
        "health": {"ok": health.ok, "latency_ms": health.latency_ms},
        "schema": {"current": schema.current, "head": schema.head, "up_to_date": schema.up_to_date},
        "pool": db.pool_status().as_dict(),
        "counts": counts,
        "events": events,
        "runs": runs,
        "schedules": {
            "enabled": sum(1 for each in schedules if each.enabled),
            "disabled": sum(1 for each in schedules if not each.enabled),
        },
        # Seen in the last minute: running, or stopped just now.
        "workers": [
            {"owner": w.owner, "host": w.host, "pid": w.pid, "state": w.state} for w in workers
        ],
    }


def _workers_line(workers: list[dict[str, Any]]) -> str:
    running = [w for w in workers if w["state"] == "running"]
    if not running:
        return "none running (start one: `haystack worker`, or `haystack serve`)"
    owners = ", ".join(w["owner"] for w in running[:3]) + (", ..." if len(running) > 3 else "")
    return f"{len(running)} running ({owners})"


def _print_status(summary: dict[str, Any]) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    overview = Table(title=f"Haystack {summary['version']}", show_header=False)
    overview.add_column(style="bold")
    overview.add_column()
    schema = summary["schema"]
    rows = {
        "Database": summary["database"],
        "Dialect": summary["dialect"],
        "Health": f"ok ({summary['health']['latency_ms']:.1f} ms)",
        "Schema": f"{schema['current']} "
        + ("(up to date)" if schema["up_to_date"] else f"(upgrade to {schema['head']} pending)"),
        "Pool": ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in summary["pool"].items()),
        "Events": ", ".join(f"{state} {n}" for state, n in summary["events"].items()),
        "Runs": ", ".join(f"{state} {n}" for state, n in summary["runs"].items()),
        "Schedules": f"{summary['schedules']['enabled']} enabled,"
        f" {summary['schedules']['disabled']} disabled",
        "Workers": _workers_line(summary["workers"]),
    }
    for name, value in rows.items():
        overview.add_row(name, Text(value))  # Text: a URL like [::1] is not rich markup
    counts = Table(title="Peregrin tables")
    counts.add_column("Table")
    counts.add_column("Rows", justify="right")
    for table, n in summary["counts"].items():
        counts.add_row(Text(table), str(n))
    Console().print(overview, counts)


def _show_status(ctx: typer.Context, db: Database, *, json_output: bool) -> None:
    summary = _status_summary(ctx, db)
    if json_output:
        _print_json(summary)
    else:
        _print_status(summary)


@app.command()
@_reports_errors
def status(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Database health, pool, row counts, events, runs, schedules and running workers.

    A SQLite database (the default ./haystack.db) is created and migrated on first use; a MariaDB
    or PostgreSQL database must be upgraded with `haystack db upgrade` first.
    """
    _show_status(ctx, _ready_database(ctx), json_output=json_output)


@app.command()
@_reports_errors
def init(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Create or upgrade the schema on any database, then print the status."""
    from haystack_collector.db import migrate  # noqa: PLC0415

    db = _database(ctx)
    before = migrate.status(db)
    after = migrate.ensure_schema(db)
    for line in _upgrade_lines(before, after):
        _note(line)
    _show_status(ctx, db, json_output=json_output)


@app.command()
@_reports_errors
def run(
    ctx: typer.Context,
    engine: Annotated[
        str | None,
        typer.Argument(
            metavar="[ENGINE]",
            help="Run this engine's start actions, then drain its queued work.",
            show_default=False,
        ),
    ] = None,
    *,
    set_values: SetOption = None,
    no_drain: Annotated[
        bool, typer.Option("--no-drain", help="Only run the start actions; leave work queued.")
    ] = False,
    concurrency: ConcurrencyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Without ENGINE: prepare the database and print the status. With ENGINE: run it once.

    ENGINE's settings come from --set key=value (values read as JSON when they parse, else as
    strings). Its start actions run once, then unless --no-drain a worker for that engine alone
    runs until nothing it can do is due. Exit code 1 when a start action failed.

    A SQLite database (the default ./haystack.db) is created and migrated on first use; a MariaDB
    or PostgreSQL database must be upgraded with `haystack db upgrade` first.
    """
    from haystack_collector.engines.base import run_start_actions  # noqa: PLC0415
    from haystack_collector.runtime import RUN, Runtime  # noqa: PLC0415

    if engine is None:
        if set_values or no_drain:
            raise ConfigError("--set and --no-drain need an ENGINE")
        db = _ready_database(ctx)
        _note(
            "no ENGINE: the database is ready; `haystack run ENGINE` runs one engine now,"
            " `haystack worker` works the queue and the schedules,"
            " `haystack serve` serves the API and UI with a worker"
        )
        _show_status(ctx, db, json_output=json_output)
        return
    engine_class = _known_engine(engine)
    settings = _engine_settings(engine_class, set_values)
    runtime = Runtime.from_settings(
        _settings(ctx),
        db=_ready_database(ctx),
        parts=replace(RUN, worker=not no_drain),
        engines=[engine_class],
        concurrency=concurrency,
        drain=True,
    )
    results = run_start_actions(engine_class, runtime.db, settings, fetchers=runtime.fetchers)
    failed = [result for result in results if not result.ok]
    if not json_output:
        for result in results:
            typer.echo(_action_line(result))
    stats: dict[str, Any] | None = None
    if runtime.worker is not None:
        the_worker = runtime.worker
        done = runtime.run()
        stats = {"owner": the_worker.owner, **done.as_dict()}
        if not json_output:
            typer.echo(f"worker {the_worker.owner} done: {done.line()}")
    if json_output:
        _print_json(
            {
                "engine": engine_class.name,
                "version": engine_class.version,
                "actions": [_action_dict(result) for result in results],
                "worker": stats,
            }
        )
    if failed:
        _note(f"error: {len(failed)} of {len(results)} start actions of {engine!r} failed")
        raise typer.Exit(EXIT_FAILURE)


def _known_engine(name: str) -> type[Engine]:
    """The engine named ``name``; an unknown name is a usage error (exit 2)."""
    from haystack_collector.engines.registry import get_engine  # noqa: PLC0415

    try:
        return get_engine(name)
    except NotFoundError as error:
        raise ConfigError(str(error)) from None


def _parse_sets(values: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs as settings; a value is JSON when it parses, else a string."""
    settings: dict[str, Any] = {}
    for pair in values or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        try:
            settings[key] = jsonlib.loads(raw)
        except ValueError:
            settings[key] = raw
    return settings


def _engine_settings(engine: type[Engine], values: list[str] | None) -> BaseModel:
    """The --set values checked against the engine's settings model; an unknown key fails too
    (a model that ignores extra keys would otherwise drop a misspelt setting silently)."""
    settings = _parse_sets(values)
    model = engine.Settings
    if model.model_config.get("extra") != "allow":
        for key in settings:
            if key not in model.model_fields:
                known = ", ".join(sorted(model.model_fields)) or "none"
                raise ConfigError(
                    f"engine {engine.name!r} has no setting {key!r} (settings: {known})"
                )
    return engine.validate_settings(settings)


def _action_dict(result: ActionResult) -> dict[str, Any]:
    return {
        "action": result.action,
        "ok": result.ok,
        "duration": round(result.duration, 3),
        "items_stored": result.items_stored,
        "events_enqueued": result.events_enqueued,
        "error": result.error,
    }


def _action_line(result: ActionResult) -> str:
    outcome = "ok" if result.ok else f"failed: {' '.join((result.error or '').split())}"
    return (
        f"{result.engine}:{result.action} {outcome} (items stored {result.items_stored},"
        f" events queued {result.events_enqueued}, {result.duration:.2f} s)"
    )


# --- engines -------------------------------------------------------------------------------


@engines_app.command("list")
@_reports_errors
def engines_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every engine installed (built in or by entry point), its actions and database state."""
    from haystack_collector.engines.registry import all_engines  # noqa: PLC0415
    from haystack_collector.store import list_engines  # noqa: PLC0415

    found = all_engines()
    with _ready_database(ctx).read() as conn:
        rows = list_engines(conn)
    entries: list[dict[str, Any]] = []
    for engine in found:
        same_name = [row for row in rows if row.name == engine.name]
        exact = [row for row in same_name if row.version == engine.version]
        matches = exact or same_name
        row = matches[-1] if matches else None
        entries.append(
            {
                "name": engine.name,
                "version": engine.version,
                "description": engine.description,
                "actions": [
                    {"name": spec.name, "kind": spec.kind, "description": spec.description}
                    for spec in engine.actions().values()
                ],
                "registered": row is not None,
                "enabled": row is not None and not row.disabled,
                "settings_schema": engine.settings_schema(),
            }
        )
    if json_output:
        _print_json({"engines": entries})
        return
    for entry in entries:
        state = "not registered"
        if entry["registered"]:
            state = "enabled" if entry["enabled"] else "disabled"
        description = f": {entry['description']}" if entry["description"] else ""
        typer.echo(f"{entry['name']} {entry['version']} ({state}){description}")
        for action in entry["actions"]:
            typer.echo(f"  {action['kind']:<5} {action['name']}")


# --- postings ------------------------------------------------------------------------------


def postings_command(
    ctx: typer.Context,
    *,
    q: Annotated[
        str | None,
        typer.Option("--q", "--keyword", help="Every word in the title, company or description."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Only postings this source (engine or site) found."),
    ] = None,
    location: Annotated[
        str | None, typer.Option("--location", help="Only postings with this text in the location.")
    ] = None,
    compensation: Annotated[
        bool | None,
        typer.Option(
            "--compensation/--no-compensation",
            help="Only postings that state (do not state) a compensation.",
            show_default=False,
        ),
    ] = None,
    min_compensation: Annotated[
        float | None,
        typer.Option(
            "--min-compensation",
            min=0,
            metavar="N",
            help="Only postings that can pay at least N per year (see docs/postings.md).",
        ),
    ] = None,
    posted_since: Annotated[
        str | None,
        typer.Option("--posted-since", metavar="YYYY-MM-DD", help="Posted on or after this day."),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only postings in this status (repeat for several)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many postings.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many first.")] = 0,
    set_status: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--set-status",
            metavar="FINGERPRINT STATUS",
            help="Move one posting to STATUS (new, seen, applied, interviewing, offer,"
            " rejected, archived, ignored) instead of listing.",
        ),
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="A note recorded with --set-status.")
    ] = None,
    csv_output: Annotated[
        bool, typer.Option("--csv", help="Print every matching posting as CSV (no paging).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """The postings board: job postings from every source, one per job, newest first.

    Filters combine; --set-status moves one posting through the workflow
    (new -> seen -> applied -> interviewing -> offer/rejected, or archived/ignored).
    """
    from datetime import date  # noqa: PLC0415

    from haystack_collector.extract.records import to_jsonable  # noqa: PLC0415
    from haystack_collector.store.postings import (  # noqa: PLC0415
        POSTING_STATUSES,
        PostingFilter,
        iter_postings,
        list_postings,
        set_posting_status,
    )

    def checked(value: str, option: str) -> Any:
        if value not in POSTING_STATUSES:
            raise ConfigError(
                f"{option}: not a posting status: {value!r} (one of {', '.join(POSTING_STATUSES)})",
                setting=option,
            )
        return value

    db = _ready_database(ctx)
    if set_status is not None:
        fingerprint, target = set_status
        change = db.run(
            set_posting_status,
            fingerprint=fingerprint,
            status=checked(target, "--set-status"),
            note=note,
            by="cli",
        )
        if json_output:
            _print_json({"change": to_jsonable(change)})
        elif change.changed:
            typer.echo(f"{fingerprint}: {change.previous} -> {change.status}")
        else:
            typer.echo(f"{fingerprint}: already {change.status}")
        return
    try:
        since = date.fromisoformat(posted_since) if posted_since else None
    except ValueError:
        raise ConfigError(
            f"--posted-since: not a date (YYYY-MM-DD): {posted_since!r}", setting="--posted-since"
        ) from None
    where = PostingFilter(
        q=q or None,
        source=source,
        location=location,
        compensation=compensation,
        min_compensation=min_compensation,
        posted_since=since,
        status=tuple(checked(value, "--status") for value in status) if status else None,
    )
    if csv_output:
        from haystack_collector.csv_export import (  # noqa: PLC0415
            POSTING_FIELDS,
            csv_pieces,
            posting_rows,
        )

        postings = db.run_read(lambda conn: list(iter_postings(conn, where=where)))
        for piece in csv_pieces(POSTING_FIELDS, posting_rows(postings)):
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    page = db.run_read(list_postings, where=where, limit=limit, offset=offset)
    if json_output:
        _print_json(
            {
                "postings": [to_jsonable(posting) for posting in page.postings],
                "total": page.total,
                "counts": page.counts,
            }
        )
        return
    _print_postings(page.postings, page.total)


def _print_postings(postings: list[Any], total: int) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table(
        "status", "title", "company", "location", "posted", "sources", "fingerprint", box=None
    )
    for posting in postings:
        posted = posting.posted.isoformat() if posting.posted else ""
        status = posting.status + (" (gone)" if posting.gone else "")
        table.add_row(
            status,
            Text(posting.title or ""),  # Text: scraped strings are never read as rich markup
            Text(posting.company or ""),
            Text(posting.location or ""),
            posted,
            Text(", ".join(posting.sources)),
            posting.fingerprint,
        )
    Console().print(table)
    typer.echo(f"{len(postings)} of {total} posting(s)")


# `haystack jobs` was the command's name before postings had a board: kept, hidden, as an alias.
app.command("postings")(_reports_errors(postings_command))
app.command("jobs", hidden=True)(_reports_errors(postings_command))


# --- schedules -----------------------------------------------------------------------------


@schedule_app.command("add")
@_reports_errors
def schedule_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Unique schedule name.")],
    *,
    engine: Annotated[
        str, typer.Option("--engine", "-e", metavar="ENGINE", help="The engine to run.")
    ],
    every: Annotated[
        int | None,
        typer.Option("--every", metavar="SECONDS", help="Run every SECONDS seconds."),
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option("--cron", metavar="EXPR", help="Five-field cron expression, in UTC."),
    ] = None,
    set_values: SetOption = None,
    missed: Annotated[
        str,
        typer.Option(
            "--missed", metavar="once|skip", help="Runs missed while down: one catch-up or none."
        ),
    ] = "once",
    disabled: Annotated[bool, typer.Option("--disabled", help="Store it disabled.")] = False,
) -> None:
    """Run ENGINE's start actions every SECONDS seconds or on a cron expression."""
    from haystack_collector.scheduler import schedule_engine  # noqa: PLC0415
    from haystack_collector.store.schedules import (  # noqa: PLC0415
        MISSED_POLICIES,
        MissedPolicy,
        get_schedule,
        list_schedules,
        validate_timing,
    )

    if missed not in MISSED_POLICIES:
        raise ConfigError(f"--missed must be one of {', '.join(MISSED_POLICIES)}, not {missed!r}")
    policy: MissedPolicy = "once" if missed == "once" else "skip"
    try:
        validate_timing(interval=every, cron=cron)
    except ValueError as error:
        message = str(error)
        if (every is None) == (cron is None):
            message = "give exactly one of --every SECONDS and --cron EXPR"
        raise ConfigError(message) from None
    engine_class = _known_engine(engine)
    settings = _parse_sets(set_values)
    _engine_settings(engine_class, set_values)
    db = _ready_database(ctx)
    with db.read() as conn:
        if name in {row.name for row in list_schedules(conn)}:
            raise HaystackError(f"a schedule named {name!r} already exists")
    schedule_engine(
        db,
        engine_class,
        name=name,
        interval=every,
        cron=cron,
        settings=settings,
        missed_policy=policy,
        enabled=not disabled,
    )
    with db.read() as conn:
        row = get_schedule(conn, name=name)
    typer.echo(f"schedule {name!r} added: {engine}, next run {row.next_run.isoformat()}")


@schedule_app.command("list")
@_reports_errors
def schedule_list(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Every schedule: engine, timing, next and last run, enabled, missed-run policy."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from haystack_collector.store import list_engines  # noqa: PLC0415
    from haystack_collector.store.schedules import list_schedules  # noqa: PLC0415

    with _ready_database(ctx).read() as conn:
        names = {row.engine_id: row.name for row in list_engines(conn)}
        rows = list_schedules(conn)
    entries: list[dict[str, Any]] = [
        {
            "name": row.name,
            "engine": names.get(row.engine_id, str(row.engine_id)),
            "interval": row.interval,
            "cron": row.cron,
            "next_run": row.next_run.isoformat(),
            "last_run": row.last_run.isoformat() if row.last_run else None,
            "enabled": row.enabled,
            "missed_policy": row.missed_policy,
            "settings": row.settings,
        }
        for row in rows
    ]
    if json_output:
        _print_json({"schedules": entries})
        return
    if not entries:
        _note("no schedules")
        return
    table = Table()
    for column in ("Name", "Engine", "Timing", "Next run", "Last run", "Enabled", "Missed"):
        table.add_column(column)
    for entry in entries:
        timing = f"every {entry['interval']} s" if entry["interval"] else f"cron {entry['cron']}"
        table.add_row(
            Text(entry["name"]),
            Text(entry["engine"]),
            Text(timing),
            entry["next_run"],
            entry["last_run"] or "never",
            "yes" if entry["enabled"] else "no",
            entry["missed_policy"],
        )
    Console(width=200).print(table)


ScheduleName = Annotated[str, typer.Argument(metavar="NAME", help="The schedule's name.")]


@schedule_app.command("remove")
@_reports_errors
def schedule_remove(ctx: typer.Context, name: ScheduleName) -> None:
    """Delete a schedule (exit 1 when there is none of that name)."""
    from haystack_collector.store.schedules import remove_schedule  # noqa: PLC0415

    _ready_database(ctx).run(remove_schedule, name=name)
    typer.echo(f"schedule {name!r} removed")


@schedule_app.command("enable")
@_reports_errors
def schedule_enable(ctx: typer.Context, name: ScheduleName) -> None:
    """Enable a schedule; runs missed while it was disabled follow its missed policy."""
    from haystack_collector.store.schedules import set_schedule_enabled  # noqa: PLC0415

    _ready_database(ctx).run(set_schedule_enabled, name=name, enabled=True)
    typer.echo(f"schedule {name!r} enabled")


@schedule_app.command("disable")
@_reports_errors
def schedule_disable(ctx: typer.Context, name: ScheduleName) -> None:
    """Disable a schedule without deleting it."""
    from haystack_collector.store.schedules import set_schedule_enabled  # noqa: PLC0415

    _ready_database(ctx).run(set_schedule_enabled, name=name, enabled=False)
    typer.echo(f"schedule {name!r} disabled")


# --- worker --------------------------------------------------------------------------------


@app.command()
@_reports_errors
def worker(
    ctx: typer.Context,
    *,
    concurrency: ConcurrencyOption = None,
    engine: Annotated[
        list[str] | None,
        typer.Option("--engine", "-e", metavar="NAME", help="Run only this engine (repeatable)."),
    ] = None,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain",
            help=(
                "Exit once nothing is due and nothing runs: no queued event and no run queued"
                " through the API (an engine start) is left, and none is running here or held"
                " by another running worker. Events due"
                " later (retries in backoff) and runs of disabled engines are not awaited."
            ),
        ),
    ] = False,
    stats_interval: Annotated[
        float,
        typer.Option("--stats-interval", min=0.1, metavar="S", help="Seconds between stats lines."),
    ] = 10.0,
    lease: Annotated[
        float | None,
        typer.Option("--lease", min=1.0, metavar="S", help="Seconds a claim lasts (default 300)."),
    ] = None,
    grace: Annotated[
        float,
        typer.Option("--grace", min=0.0, metavar="S", help="Seconds running tasks get on stop."),
    ] = 10.0,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Do not fire due schedules from this worker.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Claim queued events and run their engines' actions until SIGINT/SIGTERM (or --drain).

    Runs queued through the API (engine starts, POST /api/runs/scrape) run beside them; with
    --drain the worker exits once neither events nor such runs are left to run.
    Any number of workers, on any number of machines, may share a MariaDB or PostgreSQL
    database. Unless --no-scheduler, the worker also fires due schedules every few seconds.
    A first SIGINT/SIGTERM stops claiming and lets running tasks finish (--grace); a second
    cancels them. Either way what is held is released and the exit code is 0.
    A worker killed outright is judged dead by the others once it missed its heartbeats for
    HAYSTACK_WORKER_STALL_TIMEOUT seconds (30): they release what it held and run it.
    Every few seconds the worker reads the Config rows MaxConcurrentJobs (at most this many
    tasks at once, never more than -c) and DefaultDelay (seconds between requests to a host,
    instead of HAYSTACK_DOWNLOAD_DELAY); empty rows change nothing.
    """
    from haystack_collector.engines.registry import all_engines, get_engine  # noqa: PLC0415
    from haystack_collector.runtime import WORKER, Runtime  # noqa: PLC0415

    db = _ready_database(ctx)
    engines = [get_engine(name) for name in engine] if engine else all_engines()
    # Runs queued through the API (start an engine, run an action) run beside the item actions;
    # a drain waits for them too, and for the events they queue.
    runtime = Runtime.from_settings(
        _settings(ctx),
        db=db,
        parts=replace(WORKER, scheduler=not no_scheduler),
        engines=engines,
        concurrency=concurrency,
        drain=drain,
        lease=lease,
        grace=grace,
    )
    stats = runtime.run(stats_interval=stats_interval)
    the_worker = runtime.worker
    assert the_worker is not None  # every engine was asked for: the worker is on
    if json_output:
        _print_json({"owner": the_worker.owner, **stats.as_dict()})
    else:
        typer.echo(f"worker {the_worker.owner} done: {stats.line()}")


# --- crawl ---------------------------------------------------------------------------------


def _render_options(
    *,
    render: bool,
    selector: str | None,
    idle: bool,
    delay: float,
    timeout: float,
    scroll: int,
    snapshot: str | None = None,
) -> dict[str, Any]:
    """``CrawlOptions``' rendering choices from ``haystack crawl``'s options."""
    from haystack_collector.fetch.browser import require_playwright  # noqa: PLC0415
    from haystack_collector.fetch.render_options import (  # noqa: PLC0415
        ScrollOptions,
        WaitOptions,
    )

    asked = selector is not None or idle or delay or scroll
    if not render:
        if asked:
            raise typer.BadParameter("the wait and scroll options need --render")
        if snapshot:
            raise typer.BadParameter("--snapshot needs --render: snapshots are of rendered pages")
        return {}
    from haystack_collector.snapshots import parse_kinds  # noqa: PLC0415

    try:
        kinds = tuple(parse_kinds(snapshot))
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--snapshot") from None
    require_playwright()  # a missing extra is said before any work
    wait = WaitOptions(selector=selector, network_idle=idle, delay=delay, timeout=timeout)
    return {
        "render": True,
        "wait": wait if (selector is not None or idle or delay) else None,
        "scroll": ScrollOptions(max_scrolls=scroll) if scroll else None,
        "snapshot": kinds,
    }


@app.command()
@_reports_errors
def crawl(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="Where the crawl starts.")],
    *,
    max_depth: Annotated[
        int | None,
        typer.Option(
            "--max-depth",
            min=0,
            metavar="D",
            help="Links followed from URL (default: HAYSTACK_WEB_SCRAPER_DEPTH, 3).",
            show_default=False,
        ),
    ] = None,
    max_pages: Annotated[
        int, typer.Option("--max-pages", min=1, metavar="N", help="Pages queued at most.")
    ] = 10_000,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            metavar="C",
            help="Pages fetched at once, also per host (default: the per-host setting).",
        ),
    ] = None,
    delay: Annotated[
        float | None,
        typer.Option(
            "--delay",
            min=0.0,
            metavar="S",
            help="Seconds between requests to a host (default: the download delay setting).",
        ),
    ] = None,
    allow_domain: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-domain", metavar="D", help="Also crawl this domain and its subdomains."
        ),
    ] = None,
    ignore_robots: Annotated[
        bool, typer.Option("--ignore-robots", help="Do not obey robots.txt.")
    ] = False,
    render: Annotated[
        bool,
        typer.Option(
            "--render", help="Render each page in the browser (the [browser] extra) first."
        ),
    ] = False,
    wait_selector: Annotated[
        str | None,
        typer.Option(
            "--wait-selector", metavar="CSS", help="With --render: wait until this appears."
        ),
    ] = None,
    wait_idle: Annotated[
        bool, typer.Option("--wait-idle", help="With --render: wait until the network is idle.")
    ] = False,
    wait_delay: Annotated[
        float,
        typer.Option("--wait-delay", min=0.0, metavar="S", help="With --render: then wait S s."),
    ] = 0.0,
    wait_timeout: Annotated[
        float,
        typer.Option(
            "--wait-timeout", min=0.1, metavar="S", help="With --render: each wait's limit."
        ),
    ] = 10.0,
    scroll: Annotated[
        int,
        typer.Option(
            "--scroll", min=0, metavar="N", help="With --render: scroll down N times at most."
        ),
    ] = 0,
    snapshot: Annotated[
        str | None,
        typer.Option(
            "--snapshot",
            metavar="KINDS",
            help="With --render: keep html,png,pdf of each page (under the downloads folder).",
        ),
    ] = None,
    main_text: Annotated[
        bool,
        typer.Option(
            "--main-text",
            help="Keep each page's main text (searchable, diffed between versions).",
        ),
    ] = False,
    stats_interval: Annotated[
        float,
        typer.Option("--stats-interval", min=0.1, metavar="S", help="Seconds between stats lines."),
    ] = 10.0,
    revisit_every: Annotated[
        str | None,
        typer.Option(
            "--revisit-every",
            metavar="DURATION",
            help="Re-visit the crawl's pages this often (24h, 1d12h); a worker runs it.",
        ),
    ] = None,
    revisit_older_than: Annotated[
        str | None,
        typer.Option(
            "--revisit-older-than",
            metavar="DURATION",
            help="Only pages last looked at longer ago (default: half of --revisit-every).",
        ),
    ] = None,
) -> None:
    """Crawl URL's site (depth- and page-limited, trap-resistant), storing every page.

    The frontier is kept in the database: a crawl stopped in any way is finished by running
    the same command again (or `haystack worker --drain`), without fetching stored pages
    again. The last stdout line is `pages=<n> seconds=<s> pages_per_s=<r>` for this run.
    """
    from haystack_collector.crawl import (  # noqa: PLC0415
        CrawlOptions,
        crawl_fetch_settings,
        crawl_runtime,
    )
    from haystack_collector.crawl import crawl as run_runtime_crawl  # noqa: PLC0415
    from haystack_collector.engines.web_scraper import CrawlSpec  # noqa: PLC0415
    from haystack_collector.revisits import parse_duration  # noqa: PLC0415

    settings = _settings(ctx)
    if revisit_older_than is not None and revisit_every is None:
        raise ConfigError("--revisit-older-than needs --revisit-every")
    options = CrawlOptions(
        url=url,
        max_depth=settings.web_scraper_depth if max_depth is None else max_depth,
        max_pages=max_pages,
        concurrency=concurrency or settings.per_host_concurrency,
        delay=delay,
        allowed_domains=tuple(allow_domain or ()),
        obey_robots=not ignore_robots,
        main_text=main_text,
        revisit_every=None if revisit_every is None else parse_duration(revisit_every),
        revisit_older_than=(
            None if revisit_older_than is None else parse_duration(revisit_older_than)
        ),
        **_render_options(
            render=render,
            selector=wait_selector,
            idle=wait_idle,
            delay=wait_delay,
            timeout=wait_timeout,
            scroll=scroll,
            snapshot=snapshot,
        ),
    )
    CrawlSpec.from_settings(options.scraper_settings())  # a bad URL fails before any database work
    runtime = crawl_runtime(
        _ready_database(ctx),
        options,
        crawl_fetch_settings(settings.fetch_settings(), options),
        settings=settings,
    )
    result = run_runtime_crawl(runtime, options, stats_interval=stats_interval)
    if result.total_pages != result.pages:
        _note(f"crawl item {result.root_id}: {result.total_pages} pages stored in all runs")
    typer.echo(result.line())


@app.command()
@_reports_errors
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Listen address (default: HAYSTACK_API_HOST).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=0, max=65535, help="Port (default: HAYSTACK_API_PORT)."),
    ] = None,
    no_worker: Annotated[
        bool,
        typer.Option("--no-worker", help="API and UI only: no worker, scheduler or run executor."),
    ] = False,
    api_processes: Annotated[
        int | None,
        typer.Option(
            "--api-processes",
            min=1,
            max=64,
            help="Processes answering the API on the port (default: HAYSTACK_API_PROCESSES).",
        ),
    ] = None,
) -> None:
    """Serve the API and the web UI; unless --no-worker, also collect in the same process.

    The embedded worker, scheduler and run executor run every engine on the configured database.
    With --api-processes N, N processes answer API requests on the one port (one per core
    serves the most); only the first collects. SIGINT/SIGTERM stop everything cleanly (exit 0).
    """
    from haystack_collector.serve import serve as serve_api  # noqa: PLC0415

    settings = _settings(ctx)
    if api_processes is not None:
        settings = settings.model_copy(update={"api_processes": api_processes})
    db = _ready_database(ctx)
    chosen_host, chosen_port = (
        host or settings.api_host,
        settings.api_port if port is None else port,
    )
    shown = f"[{chosen_host}]" if ":" in chosen_host else chosen_host
    _note(f"serving http://{shown}:{chosen_port}/ (API docs at /docs); Ctrl-C stops")
    serve_api(settings, host=chosen_host, port=chosen_port, worker=not no_worker, db=db)


@app.command()
@_reports_errors
def extract(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Argument(
            help="craigslist-search, craigslist-posting, feed, bookmarks, page or site:NAME."
        ),
    ],
    file: Annotated[Path, typer.Argument(help="A saved page, feed or bookmark file.")],
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", metavar="URL", help="Resolve relative URLs against this."),
    ] = None,
) -> None:
    """Run one extractor on a saved file; print one JSON object per record (JSON lines).

    Nothing but records reaches stdout, and zero records is still success (exit 0; a file
    that is not of KIND at all says why on stderr). An unreadable file or an unknown kind is
    one `error:` line and exit 2.
    """
    from haystack_collector.extract.kinds import extract as extract_records  # noqa: PLC0415
    from haystack_collector.extract.records import to_json  # noqa: PLC0415

    data = _read_regular_file(file)
    try:
        found = extract_records(kind, data, base_url=base_url)
    except ExtractionError as error:
        _note(f"note: no records: {error}")  # a readable file with nothing of KIND in it
        return
    for record in found:
        typer.echo(to_json(record))


def _read_regular_file(file: Path) -> bytes:
    """The bytes of ``file``; a ConfigError unless it is a readable regular file.

    Opened without blocking, then checked: reading a FIFO (or a device such as /dev/zero)
    would wait for a writer, or never end.
    """
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(f"cannot read {str(file)!r}: {reason}", setting="file") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"cannot read {str(file)!r}: not a regular file", setting="file")
    with os.fdopen(fd, "rb") as opened:
        try:
            return opened.read()
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise ConfigError(f"cannot read {str(file)!r}: {reason}", setting="file") from None


# `haystack token create|list|revoke`: API bearer tokens (only their hashes are stored).
app.add_typer(make_token_app(_ready_database), name="token")
app.add_typer(make_watch_app(_ready_database), name="watch")
# `haystack versions prune`: the version retention applied to every item.
app.add_typer(make_versions_app(_ready_database, _settings), name="versions")
# `haystack revisit ENGINE --every 24h --older-than 12h`, `--list`: re-visit policies.
app.command("revisit")(
    make_revisit_command(_ready_database, lambda ctx: _settings(ctx).revisit_batch)
)


def main() -> None:
    """Entry point of the ``haystack`` console script."""
    limit_malloc_arenas()  # before any thread allocates: workers parse pages in threads
    app(prog_name="haystack")
