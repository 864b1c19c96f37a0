"""The original ``utils.retry_utils``, as a thin adapter over ``haystack_collector.resilience``.

Old code changes only its import line: ``smart_retry``, ``database_retry``, ``network_retry``,
``RateLimiter``, ``rate_limited`` and the bare decorators ``robust_network_operation``,
``robust_database_operation`` and ``robust_scraping_operation`` keep their names, arguments
and attempt counts. Underneath, retries are ``resilience.retrying`` (capped exponential
backoff with full jitter), limits are ``resilience.RateLimiter`` token buckets, and breakers
are ``resilience.breakers``. Differences from the original:

* Only transient errors are retried: ``ConnectionError``, ``TimeoutError``, Haystack's retryable
  errors (``NetworkError``, ``DatabaseConnectionError``), this module's ``RetryableError``
  family, and errors whose message says the connection dropped, timed out, deadlocked or the
  server has gone away. The original also retried any other exception (a ``KeyError`` three
  times), which only delayed the same failure; ``ValueError`` and ``TypeError`` were, and are,
  never retried.
* ``RateLimiter(max_calls, time_window)`` is a token bucket: ``max_calls`` at once, then one
  every ``time_window / max_calls`` seconds (the same rate, spread out).
* An open circuit raises ``CircuitOpenError`` at once instead of being retried.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import ParamSpec, TypeVar

from haystack_collector import errors, resilience
from haystack_collector.resilience import RetryPolicy

__all__ = [
    "NON_RETRYABLE_EXCEPTIONS",
    "RETRYABLE_EXCEPTIONS",
    "DatabaseRetryableError",
    "NetworkError",
    "RateLimitError",
    "RateLimiter",
    "RetryableError",
    "database_retry",
    "is_retryable_exception",
    "network_retry",
    "rate_limited",
    "robust_database_operation",
    "robust_network_operation",
    "robust_scraping_operation",
    "smart_retry",
]

P = ParamSpec("P")
R = TypeVar("R")


class RetryableError(Exception):
    """An error the retry decorators try again."""


class NetworkError(RetryableError, errors.NetworkError):
    """A network failure worth retrying (also a Haystack ``NetworkError``, so breakers count it)."""


class DatabaseRetryableError(RetryableError, errors.DatabaseConnectionError):
    """A database failure worth retrying (also a Haystack ``DatabaseConnectionError``)."""


class RateLimitError(RetryableError):
    """A rate limiter had no call to spare within its timeout."""


RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    RetryableError,
    *errors.RETRYABLE,
)
NON_RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    KeyboardInterrupt,
    SystemExit,
    ValueError,
    TypeError,
)
# What drivers say when a connection or lock, not the statement, was at fault.
_TRANSIENT_MESSAGE = re.compile(
    r"connection|timed? ?out|temporar|deadlock|lock wait timeout|server has gone away"
    r"|too many connections",
    re.IGNORECASE,
)


def is_retryable_exception(
    exception: BaseException,
    retryable: Sequence[type[BaseException]] = RETRYABLE_EXCEPTIONS,
) -> bool:
    """Whether another attempt may succeed: a transient class or a transient message."""
    if isinstance(exception, NON_RETRYABLE_EXCEPTIONS):
        return False
    if isinstance(exception, tuple(retryable)):
        return True
    return isinstance(exception, Exception) and bool(_TRANSIENT_MESSAGE.search(str(exception)))


@dataclasses.dataclass(frozen=True, slots=True)
class _LegacyPolicy(RetryPolicy):
    """A RetryPolicy that also retries errors whose message says they were transient."""

    def should_retry(self, exc: BaseException) -> bool:
        return not isinstance(exc, self.give_up_on) and is_retryable_exception(exc, self.retry_on)


def _policy(
    attempts: int,
    base_delay: float,
    max_delay: float,
    multiplier: float = 2.0,
    jitter: bool = True,
    retryable: Sequence[type[BaseException]] | None = None,
) -> RetryPolicy:
    return _LegacyPolicy(
        attempts=attempts,
        initial=min(base_delay, max_delay),
        maximum=max_delay,
        multiplier=multiplier,
        jitter=jitter,
        retry_on=RETRYABLE_EXCEPTIONS if retryable is None else tuple(retryable),
    )


def smart_retry(
    max_attempts: int = 3,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    exponential_base: float = 2.0,
    jitter: bool = True,
    retryable_exceptions: Sequence[type[BaseException]] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry the decorated function on transient errors, with exponential backoff."""
    policy = _policy(
        max_attempts, base_delay, max_delay, exponential_base, jitter, retryable_exceptions
    )

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        name = f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in resilience.retrying(policy, name=name):
                with attempt:
                    return func(*args, **kwargs)
            raise AssertionError("unreachable: retrying() re-raises the last error")

        return run

    return decorate


def database_retry(
    max_attempts: int = 3, base_delay: float = 0.5
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``smart_retry`` tuned for database calls (delays capped at 10 s)."""
    return smart_retry(max_attempts=max_attempts, base_delay=base_delay, max_delay=10.0)


def network_retry(
    max_attempts: int = 5, base_delay: float = 1.0
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``smart_retry`` tuned for network calls (delays capped at 30 s)."""
    return smart_retry(max_attempts=max_attempts, base_delay=base_delay, max_delay=30.0)


class RateLimiter:
    """At most ``max_calls`` calls per ``time_window`` seconds, shared by threads."""

    def __init__(self, max_calls: int, time_window: float) -> None:
        if max_calls < 1 or not time_window > 0:
            raise ValueError(
                f"need max_calls >= 1 and time_window > 0, got {max_calls}, {time_window}"
            )
        self.max_calls = max_calls
        self.time_window = time_window
        self._bucket = resilience.RateLimiter(
            f"legacy.{id(self):x}", rate=max_calls / time_window, burst=max_calls
        )

    def acquire(self, timeout: float | None = None) -> bool:
        """Take a call; False if none is free within ``timeout`` seconds (None waits)."""
        try:
            self._bucket.acquire(timeout=timeout)
        except errors.RateLimitExceeded:
            return False
        return True

    def __enter__(self) -> RateLimiter:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def rate_limited(
    max_calls: int, time_window: float, *, timeout: float = 30.0
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Limit the decorated function's calls; RateLimitError after ``timeout`` s without one."""
    limiter = RateLimiter(max_calls, time_window)

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if not limiter.acquire(timeout=timeout):
                raise RateLimitError(f"rate limit exceeded for {func.__qualname__}")
            return func(*args, **kwargs)

        return run

    return decorate


def _operation(kind: str, func: Callable[..., object]) -> str:
    return f"legacy.{kind}.{func.__module__}.{func.__qualname__}"


def _burst_limiter(name: str, *, calls: int, per: float) -> None:
    """Register the decorator's limiter with the original's burst: ``calls`` at once, then
    the same rate spread out (the registry would otherwise allow one call at a time)."""
    resilience.limiters.get(name, rate=calls / per, burst=calls)


def robust_database_operation(func: Callable[P, R]) -> Callable[P, R]:
    """3 attempts on transient database errors (0.5 s backoff, at most 10 s)."""
    decorate: Callable[[Callable[P, R]], Callable[P, R]] = resilience.robust_database_operation(
        policy=_policy(3, 0.5, 10.0)
    )
    return decorate(func)


def robust_network_operation(func: Callable[P, R]) -> Callable[P, R]:
    """5 attempts on transient network errors (1 s backoff, at most 30 s), at most 10 calls a
    minute, behind the function's own circuit breaker."""
    name = _operation("network", func)
    _burst_limiter(name, calls=10, per=60.0)
    decorate: Callable[[Callable[P, R]], Callable[P, R]] = resilience.robust_network_operation(
        name, policy=_policy(5, 1.0, 30.0), breaker=name, rate_limit=10 / 60
    )
    return decorate(func)


def robust_scraping_operation(func: Callable[P, R]) -> Callable[P, R]:
    """3 attempts on transient errors (2 s backoff, at most 60 s), at most 30 calls a minute,
    behind the function's own circuit breaker."""
    name = _operation("scraping", func)
    _burst_limiter(name, calls=30, per=60.0)
    decorate: Callable[[Callable[P, R]], Callable[P, R]] = resilience.robust_scraping_operation(
        name, policy=_policy(3, 2.0, 60.0), rate_limit=30 / 60
    )
    return decorate(func)
