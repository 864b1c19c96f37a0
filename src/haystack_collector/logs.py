"""Haystack's logging: one ``haystack`` logger tree, context fields, correlation ids, JSON files.

``setup_logging`` installs handlers on the ``haystack`` logger only, so other libraries' logging
is left as it was. Every record that reaches one of those handlers is enriched with the current
correlation id and ``logging_context`` fields (both kept in ``contextvars``, so they follow
asyncio tasks), has secrets redacted, and is written as a human line and/or JSON::

    [2025-08-03 13:50:27.376] INFO [91207f18] [craigslist:scrape] haystack.engines.craigslist: ...

Enrichment happens in handler filters, so a record for a disabled level is never built, formatted
or enriched.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json as jsonlib
import logging
import logging.handlers
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import IO, Any, ParamSpec, Self, TypeVar, overload

from haystack_collector.errors import ConfigError
from haystack_collector.masking import REDACTED, mask_text
from haystack_collector.masking import SECRET_NAME as _SECRET_NAME

__all__ = [
    "ROOT_LOGGER",
    "ContextFilter",
    "HumanFormatter",
    "JsonFormatter",
    "RedactionFilter",
    "correlation_scope",
    "get_correlation_id",
    "get_log_context",
    "get_logger",
    "log_performance",
    "logging_context",
    "new_correlation_id",
    "redact",
    "reset_logging",
    "set_correlation_id",
    "setup_logging",
]

ROOT_LOGGER = "haystack"
LOG_FILE = "haystack.log"
JSON_FILE = "haystack.json"
ERRORS_FILE = "haystack_errors.json"

P = ParamSpec("P")
R = TypeVar("R")

# Handlers we install carry this name prefix, which is how a second setup_logging (or
# reset_logging) finds and replaces exactly ours and nobody else's.
_HANDLER_PREFIX = "haystack:"
_setup_lock = threading.Lock()

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "haystack_correlation_id", default=None
)
# The stored mapping is never mutated, so a record can keep a reference to it instead of a copy.
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "haystack_log_context", default=_EMPTY
)

# Attributes every LogRecord has (plus the ones formatters and we add); anything else on a
# record came from ``extra=``.
_RESERVED_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName", "correlation_id", "haystack_context", "haystack_redacted"}
)

_MAX_REDACT_DEPTH = 6

_LEVEL_COLOURS = {
    logging.DEBUG: "\x1b[36m",
    logging.INFO: "\x1b[32m",
    logging.WARNING: "\x1b[33m",
    logging.ERROR: "\x1b[31m",
    logging.CRITICAL: "\x1b[1;31m",
}
_RESET = "\x1b[0m"
_PLAIN_FORMATTER = logging.Formatter()


# --- loggers -------------------------------------------------------------------------------


def get_logger(name: str) -> logging.Logger:
    """Return the logger for ``name`` inside the ``haystack`` tree."""
    if name == "haystack_collector" or name.startswith("haystack_collector."):
        name = ROOT_LOGGER + name[len("haystack_collector") :]
    elif not (name == ROOT_LOGGER or name.startswith(ROOT_LOGGER + ".")):
        name = f"{ROOT_LOGGER}.{name}" if name else ROOT_LOGGER
    return logging.getLogger(name)


# --- correlation ids and context -----------------------------------------------------------


def new_correlation_id() -> str:
    """Return a fresh short correlation id (8 hex characters)."""
    return uuid.uuid4().hex[:8]


def set_correlation_id(cid: str | None = None) -> str:
    """Set the correlation id for the current context (a new one if ``cid`` is None)."""
    if cid is None:
        cid = new_correlation_id()
    _correlation_id.set(cid)
    return cid


def get_correlation_id() -> str | None:
    """Return the current context's correlation id, if any."""
    return _correlation_id.get()


@contextlib.contextmanager
def correlation_scope(cid: str | None = None) -> Iterator[str]:
    """Use ``cid`` (or a new id) as the correlation id inside the block, then restore."""
    if cid is None:
        cid = new_correlation_id()
    token = _correlation_id.set(cid)
    try:
        yield cid
    finally:
        _correlation_id.reset(token)


def get_log_context() -> Mapping[str, Any]:
    """Return the fields ``logging_context`` has set for the current context (read-only)."""
    return _context.get()


@contextlib.contextmanager
def logging_context(
    engine_name: str | None = None,
    operation: str | None = None,
    item_id: str | int | None = None,
    **extra: Any,
) -> Iterator[Mapping[str, Any]]:
    """Add fields to every record logged inside the block; nested blocks add or override."""
    fields = dict(_context.get())
    for key, value in (
        ("engine_name", engine_name),
        ("operation", operation),
        ("item_id", item_id),
    ):
        if value is not None:
            fields[key] = value
    fields.update(extra)
    merged: Mapping[str, Any] = MappingProxyType(fields)
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


# --- redaction -----------------------------------------------------------------------------


def redact(text: str) -> str:
    """Mask URL credentials, token-like strings and secret ``key=value`` (see ``masking``)."""
    return mask_text(text)


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth >= _MAX_REDACT_DEPTH or not isinstance(value, Mapping | list | tuple):
        return value
    try:
        if isinstance(value, Mapping):
            return {
                key: REDACTED
                if _SECRET_NAME.search(_safe_str(key))
                else _redact_value(item, depth + 1)
                for key, item in value.items()
            }
        # Plain lists and tuples whatever the subclass: a namedtuple cannot be rebuilt from one
        # iterable, and JSON writes both as arrays anyway.
        items = [_redact_value(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    except Exception:  # a container that fails to iterate must not break the log call
        return REDACTED


def _safe_str(value: object) -> str:
    """Stringify anything; logging must not fail because a value's ``__str__`` does."""
    try:
        return str(value)
    except Exception:  # any failure just means we describe the value instead
        return f"<unprintable {type(value).__name__}>"


# --- filters -------------------------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Put the correlation id and ``logging_context`` fields on each record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        # A record passes through several handlers; the first one to see it decides, so every
        # output shows the same values.
        if not hasattr(record, "haystack_context"):
            record.haystack_context = _context.get()
            if not hasattr(record, "correlation_id"):
                record.correlation_id = _correlation_id.get()
        return True


class RedactionFilter(logging.Filter):
    """Mask secrets in the message, exception text, context fields and ``extra=`` fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "haystack_redacted", False):
            return True
        record.haystack_redacted = True
        try:
            message = record.getMessage()
        except Exception:  # the handler reports the bad format string itself
            message = None
        if message is not None:
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_text is None:
            # Formatters reuse exc_text, so caching the redacted traceback covers every handler.
            record.exc_text = redact(_PLAIN_FORMATTER.formatException(record.exc_info))
        context = getattr(record, "haystack_context", None)
        if context:
            record.haystack_context = MappingProxyType(_redact_fields(context))
        for key, value in list(record.__dict__.items()):
            if key not in _RESERVED_ATTRS:
                setattr(record, key, REDACTED if _SECRET_NAME.search(key) else _redact_value(value))
        return True


def _redact_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: REDACTED if _SECRET_NAME.search(key) else _redact_value(value)
        for key, value in fields.items()
    }


# --- formatters ----------------------------------------------------------------------------


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Context fields overlaid with the record's own ``extra=`` fields."""
    fields = dict(getattr(record, "haystack_context", None) or {})
    fields.update((k, v) for k, v in record.__dict__.items() if k not in _RESERVED_ATTRS)
    return fields


def _exception_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_text is None:
        record.exc_text = redact(_PLAIN_FORMATTER.formatException(record.exc_info))
    return record.exc_text


class HumanFormatter(logging.Formatter):
    """``[local time.ms] LEVEL [cid] [engine:operation] logger: message``, optionally coloured."""

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        level = record.levelname
        if self.colour:
            level = f"{_LEVEL_COLOURS.get(record.levelno, '')}{level}{_RESET}"
        cid = getattr(record, "correlation_id", None) or "-"
        context = getattr(record, "haystack_context", None) or _EMPTY
        engine = record.__dict__.get("engine_name") or context.get("engine_name")
        operation = record.__dict__.get("operation") or context.get("operation")
        scope = ":".join(str(part) for part in (engine, operation) if part)
        scope = f"[{scope}] " if scope else ""
        line = (
            f"[{stamp}.{int(record.msecs):03d}] {level} [{cid}] {scope}{record.name}: "
            f"{record.message}"
        )
        exc_text = _exception_text(record)
        if exc_text:
            line = f"{line}\n{exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: core fields, correlation id, context, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(int(record.created), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        payload: dict[str, Any] = {
            "timestamp": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None),
        }
        for key, value in _record_fields(record).items():
            # Core keys win: a stray extra named "level" must not hide the real level.
            payload.setdefault(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            payload["exception"] = _exception_payload(record.exc_info[1], _exception_text(record))
        if record.stack_info:
            payload["stack_info"] = record.stack_info
        return _dumps(payload)


def _exception_payload(exc: BaseException, stack: str | None) -> dict[str, Any]:
    cls = type(exc)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    payload: dict[str, Any] = {
        "type": name,
        "message": redact(_safe_str(exc)),
        "stack": stack or "".join(traceback.format_exception(exc)),
    }
    # HaystackError carries structured context; keep it machine-readable.
    context = getattr(exc, "context", None)
    if isinstance(context, Mapping) and context:
        payload["context"] = _redact_fields({str(k): v for k, v in context.items()})
    return payload


def _dumps(payload: dict[str, Any]) -> str:
    try:
        return jsonlib.dumps(payload, default=_safe_str, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        # Circular structures or non-string keys: fall back to each value's string form.
        flat = {
            key: value if isinstance(value, str) else _safe_str(value)
            for key, value in payload.items()
        }
        return jsonlib.dumps(flat, default=_safe_str, ensure_ascii=False)


# --- setup ---------------------------------------------------------------------------------


def _parse_level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelNamesMapping().get(level.strip().upper())
    if value is None:
        raise ConfigError(f"unknown log level {level!r}", setting="log_level")
    return value


def _is_tty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


def _prepare(handler: logging.Handler, name: str, formatter: logging.Formatter) -> logging.Handler:
    handler.set_name(_HANDLER_PREFIX + name)
    handler.setFormatter(formatter)
    # Context first so redaction also sees the context fields.
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactionFilter())
    return handler


def _remove_installed(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if (handler.get_name() or "").startswith(_HANDLER_PREFIX):
            logger.removeHandler(handler)
            handler.close()


def setup_logging(
    level: int | str = "INFO",
    log_dir: str | os.PathLike[str] | None = None,
    json: bool = True,
    console: bool = True,
    *,
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 5,
) -> logging.Logger:
    """Configure the ``haystack`` logger; calling again replaces the handlers it installed."""
    numeric_level = _parse_level(level)
    handlers: list[logging.Handler] = []
    if console:
        stream = sys.stderr
        handlers.append(
            _prepare(
                logging.StreamHandler(stream), "console", HumanFormatter(colour=_is_tty(stream))
            )
        )
    if log_dir is not None:
        directory = Path(log_dir)
        directory.mkdir(parents=True, exist_ok=True)

        def rotating(filename: str) -> logging.handlers.RotatingFileHandler:
            return logging.handlers.RotatingFileHandler(
                directory / filename,
                maxBytes=max_bytes,
                backupCount=backup_count,
                encoding="utf-8",
                delay=True,  # no empty files (e.g. an errors file) until something is written
            )

        handlers.append(_prepare(rotating(LOG_FILE), "file", HumanFormatter(colour=False)))
        if json:
            handlers.append(_prepare(rotating(JSON_FILE), "json", JsonFormatter()))
            errors = _prepare(rotating(ERRORS_FILE), "errors", JsonFormatter())
            errors.setLevel(logging.ERROR)
            handlers.append(errors)

    logger = logging.getLogger(ROOT_LOGGER)
    with _setup_lock:
        _remove_installed(logger)
        logger.setLevel(numeric_level)
        for handler in handlers:
            logger.addHandler(handler)
        # Once we write haystack's records ourselves, also passing them to the root logger would
        # print them twice wherever the application configured root handlers too.
        logger.propagate = not handlers
    return logger


def reset_logging() -> None:
    """Remove and close the handlers ``setup_logging`` installed and restore the defaults."""
    logger = logging.getLogger(ROOT_LOGGER)
    with _setup_lock:
        _remove_installed(logger)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


# --- performance ---------------------------------------------------------------------------


class _PerformanceLog:
    """Times a block or each call of a function and logs the duration under ``operation``."""

    __slots__ = ("_level", "_logger", "_name", "_starts")

    def __init__(self, name: str, logger: logging.Logger, level: int) -> None:
        self._name = name
        self._logger = logger
        self._level = level
        self._starts: list[float] = []

    def __enter__(self) -> Self:
        self._starts.append(time.perf_counter())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish(self._starts.pop(), exc)

    @overload
    def __call__(
        self, func: Callable[P, Coroutine[Any, Any, R]]
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def __call__(self, func: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, func: Callable[P, Any]) -> Callable[P, Any]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                start = time.perf_counter()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    self._finish(start, exc)
                    raise
                self._finish(start, None)
                return result

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            start = time.perf_counter()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._finish(start, exc)
                raise
            self._finish(start, None)
            return result

        return wrapper

    def _finish(self, start: float, exc: BaseException | None) -> None:
        duration_ms = round((time.perf_counter() - start) * 1000, 3)
        # stacklevel 3 points the record at whoever ran the block or called the function.
        if exc is None:
            if self._logger.isEnabledFor(self._level):
                self._logger.log(
                    self._level,
                    "%s took %.2f ms",
                    self._name,
                    duration_ms,
                    extra={"operation": self._name, "duration_ms": duration_ms},
                    stacklevel=3,
                )
        # Cancellation and interpreter exit are not failures of the operation being timed.
        elif isinstance(exc, Exception) and self._logger.isEnabledFor(logging.WARNING):
            self._logger.warning(
                "%s failed after %.2f ms: %s: %s",
                self._name,
                duration_ms,
                type(exc).__name__,
                _safe_str(exc),
                extra={
                    "operation": self._name,
                    "duration_ms": duration_ms,
                    "error": _safe_str(exc),
                    "error_type": type(exc).__name__,
                },
                stacklevel=3,
            )


def log_performance(
    name: str, *, logger: logging.Logger | str | None = None, level: int = logging.DEBUG
) -> _PerformanceLog:
    """Time a function (sync or async, as a decorator) or a ``with`` block and log it."""
    if logger is None:
        resolved = get_logger("haystack.performance")
    elif isinstance(logger, str):
        resolved = get_logger(logger)
    else:
        resolved = logger
    return _PerformanceLog(name, resolved, level)
