"""The command line's exit codes, and how its sub-commands report an error and exit."""

from __future__ import annotations

from typing import NoReturn

import typer

from haystack_collector.errors import ConfigError, HaystackError
from haystack_collector.logs import redact

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "fail"]

EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad input: a setting, an argument, a name that is not there to use


def fail(error: HaystackError) -> NoReturn:
    """``error`` on one line of stderr, secrets redacted; exit 2 for bad input, else 1."""
    typer.echo(f"error: {' '.join(redact(str(error)).split())}", err=True)
    raise typer.Exit(EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILURE)
