"""Haystack's exceptions.

Library exceptions (httpx, SQLAlchemy, pydantic) are mapped to these at the boundary, with
the original chained as ``__cause__``, so callers only ever catch Haystack's own tree::

    HaystackError
    ├── ConfigError                    a setting is missing or has a bad value
    ├── NetworkError                   talking to a remote site failed       (retryable)
    │   ├── RateLimitError             the site said slow down (429/503 + Retry-After)
    │   └── CircuitOpenError           a breaker refuses calls for now
    ├── DatabaseError                  the database failed
    │   ├── DatabaseConnectionError    server unreachable, dropped, restarted (retryable)
    │   └── DatabaseQueryError         the statement itself failed (not retryable)
    │       └── IntegrityViolation     a unique or foreign key constraint refused the row
    ├── ValueTooLongError              a value exceeds its column; nothing is truncated silently
    ├── NotFoundError                  an item, engine, action or config key does not exist
    ├── ConflictError                  a change the thing's current state does not allow
    ├── ExtractionError                a page or file could not be turned into records
    └── RateLimitExceeded              a local limiter gave up waiting for a token

``RETRYABLE`` lists the classes the retry policies treat as transient.
"""

from __future__ import annotations

from typing import Any


class HaystackError(Exception):
    """Root of every error Haystack raises on purpose."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class ConfigError(HaystackError):
    """A setting is missing or has a value that cannot be used."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message, setting=setting)
        self.setting = setting


class NetworkError(HaystackError):
    """A request to a remote site failed in a way that may succeed later."""


class RateLimitError(NetworkError):
    """The remote site asked us to slow down; ``retry_after`` is in seconds if it said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **context: Any) -> None:
        super().__init__(message, retry_after=retry_after, **context)
        self.retry_after = retry_after


class CircuitOpenError(NetworkError):
    """A circuit breaker is open; ``retry_after`` says when it lets a probe through."""

    def __init__(self, name: str, *, retry_after: float) -> None:
        super().__init__(
            f"circuit {name!r} is open; next probe in {retry_after:.1f}s",
            breaker=name,
            retry_after=retry_after,
        )
        self.breaker = name
        self.retry_after = retry_after


class DatabaseError(HaystackError):
    """The database failed."""


class DatabaseConnectionError(DatabaseError):
    """The database could not be reached or dropped the connection; worth retrying."""


class DatabaseQueryError(DatabaseError):
    """A statement failed for a reason retrying will not fix."""


class IntegrityViolation(DatabaseQueryError):
    """A unique or foreign-key constraint refused the change."""


class ValueTooLongError(HaystackError, ValueError):
    """A value is longer than its column allows; we refuse rather than truncate."""

    def __init__(self, field: str, *, length: int, limit: int) -> None:
        super().__init__(
            f"{field} is {length} characters long; the limit is {limit}",
            field=field,
            length=length,
            limit=limit,
        )
        self.field = field
        self.length = length
        self.limit = limit


class NotFoundError(HaystackError, LookupError):
    """The thing asked for does not exist."""


class ConflictError(HaystackError):
    """A change the current state does not allow (a posting status move that is not allowed)."""


class ExtractionError(HaystackError):
    """A page, feed or file could not be turned into records."""


class RateLimitExceeded(HaystackError):
    """A local rate limiter could not hand out a token within the caller's timeout."""

    def __init__(self, name: str, *, timeout: float) -> None:
        super().__init__(f"rate limiter {name!r}: no token within {timeout:.2f}s", limiter=name)
        self.limiter = name
        self.timeout = timeout


RETRYABLE: tuple[type[BaseException], ...] = (NetworkError, DatabaseConnectionError)
