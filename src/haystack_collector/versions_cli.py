"""``haystack versions prune``: apply the version retention to every item at once.

Writes apply it to the items they change; this is for a retention just lowered, or for items
that change no more. The main CLI mounts the sub-app with
``app.add_typer(make_versions_app(get_db, get_settings), name="versions")``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from haystack_collector.db import Database
    from haystack_collector.settings import Settings


def make_versions_app(
    get_db: Callable[[typer.Context], Database], get_settings: Callable[[typer.Context], Settings]
) -> typer.Typer:
    """The ``versions`` sub-app; ``get_db`` opens the (migrated) database for a command."""
    app = typer.Typer(help="Item versions: the values items had before they changed.")

    @app.command("prune")
    def prune(
        ctx: typer.Context,
        keep: Annotated[
            int | None,
            typer.Option(
                "--keep",
                min=0,
                metavar="N",
                help="Versions kept per item (default: HAYSTACK_VERSIONS_KEEP).",
                show_default=False,
            ),
        ] = None,
        max_age: Annotated[
            float | None,
            typer.Option(
                "--max-age",
                min=0.0,
                metavar="DAYS",
                help="Drop versions older than this (default: HAYSTACK_VERSIONS_MAX_AGE).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Delete the versions the retention no longer keeps, of every item."""
        from haystack_collector.store import versions  # noqa: PLC0415

        settings = get_settings(ctx)
        days = settings.versions_max_age if max_age is None else max_age
        age = timedelta(days=days) if days else None
        count = settings.versions_keep if keep is None else keep
        dropped = get_db(ctx).run(versions.prune_versions, keep=count, max_age=age)
        typer.echo(
            f"{dropped} versions pruned (keeping {count} per item"
            + (f", none older than {days:g} days)" if age else ")")
        )

    return app
