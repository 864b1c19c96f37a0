"""``haystack revisit``: set, list, remove and fire re-visit policies from the shell.

The main CLI mounts it with ``app.command("revisit")(make_revisit_command(get_db))``; the
policies themselves are ``store.revisits``'s, fired by a worker's scheduler (revisits.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from haystack_collector.errors import ConfigError, HaystackError, NotFoundError
from haystack_collector.exits import fail as _fail

if TYPE_CHECKING:
    from haystack_collector.db import Database
    from haystack_collector.store.revisits import RevisitPolicy

__all__ = ["make_revisit_command"]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def make_revisit_command(
    get_db: Callable[[typer.Context], Database], get_batch: Callable[[typer.Context], int]
) -> Callable[..., None]:
    """The ``revisit`` command; ``get_db`` opens the (migrated) database, ``get_batch`` reads
    ``HAYSTACK_REVISIT_BATCH`` (for ``--now``)."""

    def revisit(
        ctx: typer.Context,
        engine: Annotated[
            str | None,
            typer.Argument(metavar="[ENGINE]", help="The engine whose items are re-visited."),
        ] = None,
        *,
        every: Annotated[
            str | None,
            typer.Option("--every", metavar="DURATION", help="How often: 90, 30m, 24h, 1d12h."),
        ] = None,
        older_than: Annotated[
            str | None,
            typer.Option(
                "--older-than",
                metavar="DURATION",
                help="Only items last looked at longer ago (default: half of --every).",
            ),
        ] = None,
        batch: Annotated[
            int | None,
            typer.Option(
                "--batch",
                min=1,
                metavar="N",
                help="Items queued per tick at most (default: HAYSTACK_REVISIT_BATCH).",
            ),
        ] = None,
        site: Annotated[
            str | None,
            typer.Option("--site", metavar="NAME", help="sites only: one site definition."),
        ] = None,
        remove: Annotated[bool, typer.Option("--remove", help="Remove the policy.")] = False,
        now: Annotated[
            bool, typer.Option("--now", help="Queue the policy's due items now, once.")
        ] = False,
        disabled: Annotated[bool, typer.Option("--disabled", help="Store it disabled.")] = False,
        list_policies: Annotated[
            bool, typer.Option("--list", help="List the re-visit policies.")
        ] = False,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON (--list).")] = False,
    ) -> None:
        """Re-visit ENGINE's collected items on a schedule: pages with conditional GETs,
        feeds by polling, postings re-checked, files rescanned; each visit records
        unchanged, changed or gone.

        `haystack revisit webScraper --every 24h --older-than 12h` sets a policy;
        `haystack revisit --list` shows them; `--remove` drops one; `--now` fires one at
        once. A worker (`haystack worker`, `haystack serve`) runs the ticks.
        """
        try:
            if list_policies or engine is None:
                if engine is not None or every or remove or now:
                    raise ConfigError("--list takes no ENGINE and no other option")
                _list(get_db(ctx), json_output=json_output)
                return
            name = _policy_name(engine, site)
            if remove:
                _remove(get_db(ctx), name)
            elif every is not None:
                _set(
                    get_db(ctx),
                    engine,
                    name,
                    every=every,
                    older_than=older_than,
                    batch=batch,
                    site=site,
                    enabled=not disabled,
                )
            elif not now:
                raise ConfigError("give --every DURATION (or --remove, --now, --list)")
            if now:
                _fire(get_db(ctx), name, get_batch(ctx))
        except HaystackError as error:
            _fail(error)

    return revisit


def _policy_name(engine: str, site: str | None) -> str:
    from haystack_collector.store.revisits import REVISIT_PREFIX  # noqa: PLC0415

    if site is not None and engine != "sites":
        raise ConfigError("--site applies to the sites engine only")
    return f"{REVISIT_PREFIX}{engine}" + (f":{site}" if site else "")


def _set(
    db: Database,
    engine: str,
    name: str,
    *,
    every: str,
    older_than: str | None,
    batch: int | None,
    site: str | None,
    enabled: bool,
) -> None:
    from haystack_collector.engines.registry import get_engine  # noqa: PLC0415
    from haystack_collector.revisits import format_duration, parse_duration  # noqa: PLC0415
    from haystack_collector.store.revisits import (  # noqa: PLC0415
        RevisitPolicy,
        set_revisit_policy,
    )

    try:
        engine_class = get_engine(engine)
    except NotFoundError as error:
        raise ConfigError(str(error)) from None
    if engine_class.revisit is None:
        raise ConfigError(f"engine {engine!r} does not re-visit what it collects")
    period = parse_duration(every)
    if period < 1:
        raise ConfigError("--every must be at least 1 second")
    age = period // 2 if older_than is None else parse_duration(older_than)
    registered = engine_class.register(db)
    policy = RevisitPolicy(
        name=name,
        engine_id=registered.engine_id,
        every=period,
        older_than=age,
        batch=batch,
        site=site,
        enabled=enabled,
    )
    db.run(set_revisit_policy, policy=policy)
    typer.echo(
        f"re-visit policy {name!r}: every {format_duration(period)},"
        f" items older than {format_duration(age)}"
        + ("" if batch is None else f", at most {batch} per tick")
        + ("" if enabled else " (disabled)")
    )


def _remove(db: Database, name: str) -> None:
    from haystack_collector.store.revisits import remove_revisit_policy  # noqa: PLC0415

    if not db.run(remove_revisit_policy, name=name):
        raise NotFoundError(f"no re-visit policy named {name!r}")
    typer.echo(f"re-visit policy {name!r} removed")


def _fire(db: Database, name: str, batch: int) -> None:
    from haystack_collector.engines.registry import all_engines  # noqa: PLC0415
    from haystack_collector.revisits import Revisiter, RevisitsOff  # noqa: PLC0415
    from haystack_collector.store.schedules import get_schedule  # noqa: PLC0415

    schedule = db.run_read(get_schedule, name=name)
    try:
        queued = Revisiter(db, all_engines(), batch=batch).fire(schedule)
    except RevisitsOff as off:
        raise HaystackError(str(off)) from None
    typer.echo(f"re-visit policy {name!r}: queued {queued} item(s)")


def _row(policy: RevisitPolicy, engines: dict[int, str]) -> dict[str, Any]:
    from haystack_collector.revisits import format_duration  # noqa: PLC0415

    return {
        "name": policy.name,
        "engine": engines.get(policy.engine_id, str(policy.engine_id)),
        "every": format_duration(policy.every),
        "older_than": format_duration(policy.older_than),
        "batch": policy.batch,
        "site": policy.site,
        "crawl": policy.crawl,
        "enabled": policy.enabled,
        "next_run": policy.next_run.isoformat() if policy.next_run else None,
        "last_run": policy.last_run.isoformat() if policy.last_run else None,
    }


def _list(db: Database, *, json_output: bool) -> None:
    from haystack_collector import store  # noqa: PLC0415
    from haystack_collector.store.revisits import list_revisit_policies  # noqa: PLC0415

    policies = db.run_read(list_revisit_policies)
    engines = {row.engine_id: row.name for row in db.run_read(store.list_engines)}
    rows = [_row(policy, engines) for policy in policies]
    if json_output:
        typer.echo(json.dumps({"policies": rows}, indent=2))
        return
    if not rows:
        typer.echo("no re-visit policies")
        return
    for row, policy in zip(rows, policies, strict=True):
        batch = "" if row["batch"] is None else f" batch {row['batch']}"
        state = "" if row["enabled"] else " (disabled)"
        typer.echo(
            f"{row['name']}  {row['engine']}  every {row['every']}"
            f"  older than {row['older_than']}{batch}"
            f"  next {_when(policy.next_run)}  last {_when(policy.last_run)}{state}"
        )
