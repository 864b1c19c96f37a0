"""Haystack's errors as JSON ``{"detail": ...}`` answers with the status each deserves.

NotFoundError            404
ConfigError              422  (a bad parameter or setting in the request)
IntegrityViolation       409  (a unique or foreign key constraint refused the row)
ValueTooLongError        422
DatabaseConnectionError  503  (with Retry-After)
RateLimitExceeded        429  (with Retry-After)
any other HaystackError  500  (logged; the message is redacted)
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from haystack_collector.errors import (
    ConfigError,
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


def install(app: FastAPI) -> None:
    """Map Haystack's errors on ``app`` (FastAPI already answers bad input with 422)."""
    app.add_exception_handler(HaystackError, haystack_error)
