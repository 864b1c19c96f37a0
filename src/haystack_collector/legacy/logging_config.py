"""The original ``utils.logging_config``, as a thin adapter over ``haystack_collector.logs``.

Old code changes only its import line. Differences from the original:

* Only the ``haystack`` logger tree gets handlers (``get_logger`` names every logger inside it);
  the root logger and other libraries' logging are left alone.
* Importing this module configures nothing; call ``setup_logging``.
* The text file is written whenever a log folder is (``enable_file_logging`` or
  ``enable_json_logging``); console output goes to stderr.
* ``get_correlation_id`` returns ``"no-correlation-id"`` when none is set, as the original did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from haystack_collector import logs
from haystack_collector.logs import ContextFilter, get_logger
from haystack_collector.logs import HumanFormatter as HaystackFormatter
from haystack_collector.logs import JsonFormatter as JSONFormatter

__all__ = [
    "ContextFilter",
    "HaystackFormatter",
    "JSONFormatter",
    "get_correlation_id",
    "get_logger",
    "log_performance",
    "logging_context",
    "set_correlation_id",
    "setup_logging",
]

P = ParamSpec("P")
R = TypeVar("R")

NO_CORRELATION_ID = "no-correlation-id"


def setup_logging(
    log_level: str = "INFO",
    log_dir: str | Path | None = None,
    enable_json_logging: bool = True,
    enable_console_logging: bool = True,
    enable_file_logging: bool = True,
    max_file_size: int = 10 * 1024 * 1024,
    backup_count: int = 5,
) -> logging.Logger:
    """Configure the ``haystack`` logger: console, ``haystack.log`` and JSON files in ``log_dir``
    (``./logs`` when not given). Returns that logger."""
    files = enable_file_logging or enable_json_logging
    directory = (Path.cwd() / "logs" if log_dir is None else Path(log_dir)) if files else None
    logger = logs.setup_logging(
        log_level,
        directory,
        json=enable_json_logging,
        console=enable_console_logging,
        max_bytes=max_file_size,
        backup_count=backup_count,
    )
    logger.getChild("logging").info("logging initialized at level %s", log_level)
    return logger


def set_correlation_id(correlation_id: str | None = None) -> str:
    """Set the correlation id of the current context (a new one if None); returns it."""
    return logs.set_correlation_id(correlation_id)


def get_correlation_id() -> str:
    """The current correlation id, or ``"no-correlation-id"``."""
    return logs.get_correlation_id() or NO_CORRELATION_ID


@contextmanager
def logging_context(
    correlation_id: str | None = None,
    engine_name: str | None = None,
    engine_id: int | None = None,
    operation: str | None = None,
    item_id: int | str | None = None,
    user_id: str | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> Iterator[None]:
    """Add these fields (and a correlation id, if given) to every record logged in the block."""
    fields = {
        key: value
        for key, value in (
            ("engine_id", engine_id),
            ("user_id", user_id),
            ("request_id", request_id),
        )
        if value is not None
    }
    with ExitStack() as stack:
        if correlation_id is not None:
            stack.enter_context(logs.correlation_scope(correlation_id))
        stack.enter_context(
            logs.logging_context(
                engine_name=engine_name, operation=operation, item_id=item_id, **fields, **extra
            )
        )
        yield


def log_performance(
    operation_name: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Log how long each call of the decorated function took (and whether it failed)."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        name = operation_name or f"{func.__module__}.{func.__qualname__}"
        return logs.log_performance(name, level=logging.INFO)(func)

    return decorate
