"""Haystack's errors as JSON ``{"detail": ...}`` answers with the status each deserves.

NotFoundError            404
ConfigError              422  (a bad parameter or setting in the request)
IntegrityViolation       409  (a unique or foreign key constraint refused the row)
ConflictError            409  (a change the current state does not allow)
ValueTooLongError        422
DatabaseConnectionError  503  (with Retry-After)
RateLimitExceeded        429  (with Retry-After)
any other HaystackError  500  (logged; the message is redacted)
RequestValidationError   422  (``loc``/``msg``/``type`` of each problem; never the input)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from haystack_collector.errors import (
    ConfigError,
    ConflictError,
    DatabaseConnectionError,
    HaystackError,
    IntegrityViolation,
    NotFoundError,
    RateLimitExceeded,
    ValueTooLongError,
)
from haystack_collector.logs import get_logger, redact

log = get_logger("haystack.api")

_STATUS: tuple[tuple[type[HaystackError], int], ...] = (
    (NotFoundError, 404),
    (IntegrityViolation, 409),
    (ConflictError, 409),
    (ConfigError, 422),
    (ValueTooLongError, 422),
    (DatabaseConnectionError, 503),
    (RateLimitExceeded, 429),
)


def status_for(error: HaystackError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


async def haystack_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HaystackError)
    status = status_for(error)
    headers = {"Retry-After": "5"} if status in (429, 503) else None
    if status == 500:
        log.error("%s %s failed: %s", request.method, request.url.path, redact(str(error)))
        return JSONResponse({"detail": "internal error"}, status_code=500, headers=headers)
    return JSONResponse({"detail": redact(str(error))}, status_code=status, headers=headers)


_LOC_PART_MAX = 100  # a body's key names come back in ``loc``; a long one is cut


def validation_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's validation errors as ``loc``/``msg``/``type`` only: never the input (which
    echoed a whole body back) or its ``ctx`` values."""
    return [
        {
            "loc": [
                part[:_LOC_PART_MAX] if isinstance(part, str) else part
                for part in error.get("loc", ())
            ],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": validation_problems(error.errors())}, status_code=422)


def install(app: FastAPI) -> None:
    """Map Haystack's errors on ``app``, and answer bad input 422 without echoing it."""
    app.add_exception_handler(HaystackError, haystack_error)
    app.add_exception_handler(RequestValidationError, validation_error)
