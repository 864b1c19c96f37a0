"""``haystack watch add|list|remove|test``: watches from the shell (see docs/watching.md).

Channels are shown masked; ``test`` sends a sample message to each channel of a watch. The main
CLI mounts the sub-app with ``app.add_typer(make_watch_app(get_db), name="watch")``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from haystack_collector.errors import HaystackError
from haystack_collector.exits import EXIT_FAILURE
from haystack_collector.exits import fail as _fail

if TYPE_CHECKING:
    from haystack_collector.db import Database


NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The watch's name.")]


def make_watch_app(get_db: Callable[[typer.Context], Database]) -> typer.Typer:
    """The ``watch`` sub-app; ``get_db`` opens the (migrated) database for a command."""
    app = typer.Typer(help="Watch searches, pages and postings; be told.", no_args_is_help=True)
    _add_command(app, get_db)
    _list_command(app, get_db)
    _remove_command(app, get_db)
    _test_command(app, get_db)
    return app


DbGetter = Callable[[typer.Context], "Database"]


def _add_command(app: typer.Typer, get_db: DbGetter) -> None:
    @app.command("add")
    def add(
        ctx: typer.Context,
        name: NameArgument,
        *,
        channel: Annotated[
            list[str],
            typer.Option(
                "--channel",
                "-c",
                metavar="URL",
                help="An Apprise URL to notify (mailto://, json://, discord://, ntfy://...);"
                " repeat for several.",
            ),
        ],
        event: Annotated[
            list[str] | None,
            typer.Option("--event", metavar="new|changed|gone", help="Repeatable; default new."),
        ] = None,
        engine: Annotated[str | None, typer.Option(help="Items of this engine.")] = None,
        key: Annotated[str | None, typer.Option(help="Items with this data key.")] = None,
        value: Annotated[str | None, typer.Option(help="...whose value is this.")] = None,
        q: Annotated[str | None, typer.Option("--q", help="Words in the item's data.")] = None,
        state: Annotated[list[str] | None, typer.Option(help="Item states (repeatable).")] = None,
        site: Annotated[str | None, typer.Option(help="Items on this host.")] = None,
        url_prefix: Annotated[
            str | None, typer.Option(help="Items whose URI starts with this.")
        ] = None,
        keyword: Annotated[
            str | None, typer.Option(help="Postings with these words in title or company.")
        ] = None,
        location: Annotated[str | None, typer.Option(help="Postings in this place.")] = None,
        source: Annotated[str | None, typer.Option(help="Postings found by this source.")] = None,
        min_compensation: Annotated[
            float | None, typer.Option(help="Postings paying at least this (first figure).")
        ] = None,
        compensation: Annotated[
            bool, typer.Option("--compensation", help="Postings that state their pay.")
        ] = False,
        ignore: Annotated[
            list[str] | None,
            typer.Option(
                "--ignore", metavar="REGEX", help="Text a change is judged without (repeatable)."
            ),
        ] = None,
        drop: Annotated[
            list[str] | None,
            typer.Option("--drop", metavar="CSS", help="Markup left out of a change (repeatable)."),
        ] = None,
        keep: Annotated[
            list[str] | None,
            typer.Option("--keep", metavar="CSS", help="Markup that alone counts (repeatable)."),
        ] = None,
        alerts: Annotated[
            bool, typer.Option("--alerts", help="Send the system alerts to its channels too.")
        ] = False,
    ) -> None:
        """Add a watch: a filter, the events to tell, the channels to tell them to."""
        from haystack_collector.watch.manage import create_watch, view  # noqa: PLC0415

        filter_: dict[str, Any] = {
            "engine": engine,
            "key": key,
            "value": value,
            "q": q,
            "state": state or [],
            "site": site,
            "url_prefix": url_prefix,
            "keyword": keyword,
            "location": location,
            "source": source,
            "min_compensation": min_compensation,
            "compensation": compensation,
        }
        try:
            row = create_watch(
                get_db(ctx),
                name=name,
                filter={k: v for k, v in filter_.items() if v not in (None, [], False)},
                events=event or ["new"],
                channels_=channel,
                volatile={"ignore": ignore or [], "drop": drop or [], "keep": keep or []},
                alerts=alerts,
            )
        except HaystackError as error:
            _fail(error)
        shown = view(row)
        typer.echo(
            f"watch {name!r} added: {', '.join(shown.events)} of {shown.described},"
            f" to {', '.join(shown.channels)}"
        )


def _list_command(app: typer.Typer, get_db: DbGetter) -> None:
    @app.command("list")
    def list_(
        ctx: typer.Context,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Every watch: filter, events, channels (masked), and its notifications by status."""
        try:
            from haystack_collector.store import watches as store  # noqa: PLC0415
            from haystack_collector.watch.manage import view  # noqa: PLC0415

            db = get_db(ctx)
            rows = [view(row) for row in db.run_read(store.list_watches)]
            counts = db.run_read(store.status_counts)
        except HaystackError as error:
            _fail(error)
        entries = [
            {
                "name": each.name,
                "filter": each.filter,
                "events": list(each.events),
                "channels": each.channels,
                "alerts": each.alerts,
                "enabled": each.enabled,
                "notifications": counts.get(each.watch_id, {}),
            }
            for each in rows
        ]
        if json_output:
            typer.echo(json.dumps({"watches": entries}, indent=2))
            return
        if not entries:
            typer.echo("no watches", err=True)
            return
        for each in rows:
            counted = sorted(counts.get(each.watch_id, {}).items())
            told = ", ".join(f"{n} {status}" for status, n in counted)
            typer.echo(
                f"{each.name}: {', '.join(each.events)} of {each.described}"
                f" -> {', '.join(each.channels)}"
                f"{' (+alerts)' if each.alerts else ''}{'' if each.enabled else ' [disabled]'}"
                f"; notifications: {told or 'none'}"
            )


def _remove_command(app: typer.Typer, get_db: DbGetter) -> None:
    @app.command("remove")
    def remove(ctx: typer.Context, name: NameArgument) -> None:
        """Delete a watch and its notifications."""
        try:
            from haystack_collector.store import watches as store  # noqa: PLC0415

            db = get_db(ctx)
            row = db.run_read(store.get_watch, name=name)
            db.run(store.delete_watch, watch_id=row.watch_id)
        except HaystackError as error:
            _fail(error)
        typer.echo(f"watch {name!r} removed")


def _test_command(app: typer.Typer, get_db: DbGetter) -> None:
    @app.command("test")
    def test(ctx: typer.Context, name: NameArgument) -> None:
        """Send a sample message to each of the watch's channels (exit 1 if one fails)."""
        try:
            from haystack_collector.store import watches as store  # noqa: PLC0415
            from haystack_collector.watch.manage import send_sample  # noqa: PLC0415

            row = get_db(ctx).run_read(store.get_watch, name=name)
            results = send_sample(row)
        except HaystackError as error:
            _fail(error)
        failed = False
        for channel, problem in results:
            if problem is None:
                typer.echo(f"sent to {channel}")
            else:
                failed = True
                typer.echo(f"failed: {problem}", err=True)
        if failed:
            raise typer.Exit(EXIT_FAILURE)
