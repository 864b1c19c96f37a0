"""``haystack token create|list|revoke``: manage the API's bearer tokens from the shell.

``create`` prints the secret as the last word of its output, once; only its hash is stored.
The main CLI mounts the sub-app with ``app.add_typer(make_token_app(get_db), name="token")``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from haystack_collector.errors import HaystackError
from haystack_collector.exits import fail as _fail

if TYPE_CHECKING:
    from haystack_collector.db import Database


NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The token's name.")]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def make_token_app(get_db: Callable[[typer.Context], Database]) -> typer.Typer:
    """The ``token`` sub-app; ``get_db`` opens the (migrated) database for a command."""
    app = typer.Typer(help="Manage API bearer tokens.", no_args_is_help=True)

    @app.command("create")
    def create(ctx: typer.Context, name: NameArgument) -> None:
        """Mint a token and print it (the last word of the output); it is shown only once."""
        try:
            from haystack_collector.store.tokens import create_token  # noqa: PLC0415

            secret = get_db(ctx).run(create_token, name=name)
        except HaystackError as error:
            _fail(error)
        typer.echo(f"Created token {name!r}; store it now, it cannot be shown again: {secret}")

    @app.command("list")
    def list_(
        ctx: typer.Context,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """List tokens: name, created, last used, revoked (never the secrets)."""
        try:
            from haystack_collector.store.tokens import list_tokens  # noqa: PLC0415

            tokens = get_db(ctx).run_read(list_tokens)
        except HaystackError as error:
            _fail(error)
        if json_output:
            payload = [
                {
                    "name": token.name,
                    "created": token.created.isoformat() if token.created else None,
                    "last_used": token.last_used.isoformat() if token.last_used else None,
                    "revoked": token.revoked.isoformat() if token.revoked else None,
                }
                for token in tokens
            ]
            typer.echo(json.dumps(payload, indent=2))
            return
        if not tokens:
            typer.echo("no tokens", err=True)
            return
        for token in tokens:
            state = f"revoked {_when(token.revoked)}" if token.revoked else "active"
            typer.echo(
                f"{token.name}\tcreated {_when(token.created)}\t"
                f"last used {_when(token.last_used)}\t{state}"
            )

    @app.command("revoke")
    def revoke(ctx: typer.Context, name: NameArgument) -> None:
        """Revoke a token: it stops authenticating at once."""
        try:
            from haystack_collector.store.tokens import revoke_token  # noqa: PLC0415

            changed = get_db(ctx).run(revoke_token, name=name)
        except HaystackError as error:
            _fail(error)
        typer.echo(f"Revoked token {name!r}" if changed else f"Token {name!r} was already revoked")

    return app
