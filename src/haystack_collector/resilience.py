"""Retries, circuit breakers and rate limits around remote sites and the database.

* ``RetryPolicy`` with ``retrying``/``async_retrying``: tenacity with capped exponential backoff,
  full jitter and the server's Retry-After.
* ``CircuitBreaker``: stops calling something that keeps failing, then lets one probe through.
* ``RateLimiter``: a token bucket, so we stay polite to the sites we collect from.

The ``robust_*`` decorators combine them. Breakers and limiters referred to by name live in the
module-level ``breakers`` and ``limiters`` registries, where the API and metrics can read them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import inspect
import logging
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypedDict, TypeVar, cast

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from haystack_collector.errors import (
    RETRYABLE,
    CircuitOpenError,
    DatabaseConnectionError,
    NetworkError,
    RateLimitError,
    RateLimitExceeded,
)

__all__ = [
    "DATABASE_POLICY",
    "NETWORK_POLICY",
    "BreakerRegistry",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "LimiterRegistry",
    "LimiterSnapshot",
    "RateLimiter",
    "RetryPolicy",
    "async_retrying",
    "backoff_delay",
    "breakers",
    "limiters",
    "retrying",
    "robust_database_operation",
    "robust_network_operation",
    "robust_scraping_operation",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
_Item = TypeVar("_Item")

Clock = Callable[[], float]

_log = logging.getLogger("haystack.resilience")


# Retries ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts to make and how long to wait between them (seconds)."""

    attempts: int
    initial: float
    maximum: float
    multiplier: float = 2.0
    jitter: bool = True
    retry_on: tuple[type[BaseException], ...] = RETRYABLE
    # Subclasses of a retryable class that must not be retried (CircuitOpenError is a
    # NetworkError, but retrying it would hammer the site the breaker protects).
    give_up_on: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if not 0 <= self.initial <= self.maximum:
            raise ValueError(f"need 0 <= initial <= maximum, got {self.initial}, {self.maximum}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, not {self.multiplier}")

    def should_retry(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt under this policy."""
        return isinstance(exc, self.retry_on) and not isinstance(exc, self.give_up_on)


NETWORK_POLICY = RetryPolicy(
    attempts=4, initial=0.5, maximum=30.0, retry_on=(NetworkError,), give_up_on=(CircuitOpenError,)
)
DATABASE_POLICY = RetryPolicy(
    attempts=5, initial=0.2, maximum=10.0, retry_on=(DatabaseConnectionError,)
)


def backoff_delay(
    policy: RetryPolicy,
    attempt: int,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (counting from 1)."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    try:
        ceiling = min(policy.maximum, policy.initial * policy.multiplier ** (attempt - 1))
    except OverflowError:
        ceiling = policy.maximum
    # Full jitter (uniform over [0, ceiling]) spreads out workers that failed together, which
    # matters more than the average delay when many of them share one host.
    delay = ceiling * rand() if policy.jitter else ceiling
    if retry_after is not None and retry_after > 0:
        # The server knows when it will recover better than our curve does; the cap still
        # applies so a huge Retry-After cannot park a worker for hours.
        delay = max(delay, retry_after)
    return min(delay, policy.maximum)


def _retry_after(exc: BaseException | None) -> float | None:
    if isinstance(exc, RateLimitError | CircuitOpenError):
        return exc.retry_after
    return None


def _tenacity_options(
    policy: RetryPolicy, name: str | None, rand: Callable[[], float]
) -> dict[str, Any]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return backoff_delay(policy, state.attempt_number, retry_after=_retry_after(exc), rand=rand)

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        # Only the error itself: arguments may carry credentials or whole documents.
        _log.warning(
            "%s: attempt %d of %d failed with %s: %s; retrying in %.2fs",
            name or getattr(state.fn, "__qualname__", "operation"),
            state.attempt_number,
            policy.attempts,
            type(exc).__name__,
            exc,
            state.next_action.sleep if state.next_action else 0.0,
        )

    return {
        "stop": stop_after_attempt(policy.attempts),
        "wait": wait,
        "retry": retry_if_exception(policy.should_retry),
        "before_sleep": log_retry,
        "reraise": True,
    }


def retrying(
    policy: RetryPolicy,
    *,
    name: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> Retrying:
    """A tenacity ``Retrying`` for ``policy``; the last real exception surfaces when it gives up."""
    return Retrying(sleep=sleep, **_tenacity_options(policy, name, rand))


def async_retrying(
    policy: RetryPolicy,
    *,
    name: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> AsyncRetrying:
    """The asyncio twin of ``retrying``."""
    return AsyncRetrying(sleep=sleep, **_tenacity_options(policy, name, rand))


# Circuit breaker ----------------------------------------------------------------------------


class BreakerState(enum.StrEnum):
    """Where a breaker is in its cycle; the values are what the API shows."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerSnapshot(TypedDict):
    """A breaker's state for the API and metrics."""

    name: str
    state: str
    failures: int
    opened_at: float | None  # epoch seconds, None while closed
    retry_after: float  # seconds until a probe may go through, 0 if now


class CircuitBreaker:
    """Refuses calls after repeated failures; after ``recovery_timeout`` one probe may test."""

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        *,
        clock: Clock = time.monotonic,
        expected: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        if failure_threshold < 1 or recovery_timeout < 0:
            raise ValueError("failure_threshold must be >= 1 and recovery_timeout >= 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self.expected = expected
        self._clock = clock
        # No awaits ever happen while holding it, so asyncio callers only block for microseconds.
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._since = 0.0  # clock reading when it opened, or when the probe went out
        self._opened_wall: float | None = None

    @property
    def state(self) -> BreakerState:
        return self._state

    def before_call(self) -> None:
        """Admit a call or raise CircuitOpenError; report every admitted call's outcome."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return
            now = self._clock()
            # While half-open this refuses everyone but the probe. The probe's slot expires
            # too, so a probe that never reports back (a leaked stream, a killed task) cannot
            # wedge the breaker.
            wait = self._since + self.recovery_timeout - now
            if wait > 0:
                raise CircuitOpenError(self.name, retry_after=wait)
            self._state = BreakerState.HALF_OPEN
            self._since = now

    def record_success(self) -> None:
        with self._lock:
            # A straggler admitted before the breaker opened proves little; the probe decides.
            if self._state is not BreakerState.OPEN:
                self._state = BreakerState.CLOSED
                self._failures = 0
                self._opened_wall = None

    def record_failure(self, exc: BaseException) -> None:
        with self._lock:
            if not isinstance(exc, self.expected):
                if self._state is BreakerState.HALF_OPEN:
                    # Says nothing about the remote side: free the probe slot for the next caller
                    # (the recovery timeout has already run out, so it is let straight through).
                    self._state = BreakerState.OPEN
                    self._since -= self.recovery_timeout
                return
            if self._state is BreakerState.OPEN:
                return
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = BreakerState.OPEN
                self._since = self._clock()
                self._opened_wall = time.time()

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        with self:
            return fn(*args, **kwargs)

    async def call_async(
        self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        async with self:
            return await fn(*args, **kwargs)

    def __enter__(self) -> CircuitBreaker:
        self.before_call()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.record_success()
        else:
            self.record_failure(exc)  # CancelledError and friends just release a probe slot

    async def __aenter__(self) -> CircuitBreaker:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            wait = self._since + self.recovery_timeout - self._clock()
            return {
                "name": self.name,
                "state": self._state.value,
                "failures": self._failures,
                "opened_at": self._opened_wall,
                "retry_after": 0.0 if self._state is BreakerState.CLOSED else max(0.0, wait),
            }

    def reset(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._opened_wall = None


# Rate limiter -------------------------------------------------------------------------------

# Refills are float arithmetic; without slack a bucket at 0.9999999999 tokens would ask for
# sleeps too short to move the clock, and spin.
_TOKEN_SLACK = 1e-9


class LimiterSnapshot(TypedDict):
    """A limiter's state for the API and metrics."""

    name: str
    rate: float
    burst: float
    tokens: float


class RateLimiter:
    """Token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(
        self,
        name: str,
        rate: float,
        burst: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number, not {rate}")
        self.name = name
        self.rate = float(rate)
        self.burst = max(1.0, self.rate) if burst is None else float(burst)
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()

    def _refill_locked(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._updated = now

    def take(self) -> float:
        """Take a token and return 0.0, or take nothing and return the seconds until one is due.

        The non-blocking form for callers that refuse rather than wait (the API answers 429).
        """
        with self._lock:
            self._refill_locked()
            if self._tokens >= 1 - _TOKEN_SLACK:
                self._tokens = max(0.0, self._tokens - 1)
                return 0.0
            return (1 - self._tokens) / self.rate

    def _idle_since(self, now: float) -> float | None:
        """When it was last used, or None if it has refilled to the burst by ``now``."""
        with self._lock:
            if self._tokens + max(0.0, now - self._updated) * self.rate >= self.burst:
                return None
            return self._updated

    def _check_deadline(self, wait: float, deadline: float | None, timeout: float | None) -> None:
        # Give up as soon as the token is known to arrive too late, rather than at the deadline.
        if deadline is not None and self._clock() + wait > deadline:
            raise RateLimitExceeded(self.name, timeout=timeout or 0.0)

    def try_acquire(self) -> bool:
        return self.take() == 0.0

    def acquire(self, timeout: float | None = None) -> None:
        """Block until a token is taken; RateLimitExceeded if not within ``timeout`` seconds."""
        deadline = None if timeout is None else self._clock() + timeout
        while (wait := self.take()) > 0:
            self._check_deadline(wait, deadline, timeout)
            self._sleep(wait)

    async def acquire_async(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else self._clock() + timeout
        while (wait := self.take()) > 0:
            self._check_deadline(wait, deadline, timeout)
            await asyncio.sleep(wait)

    def snapshot(self) -> LimiterSnapshot:
        with self._lock:
            self._refill_locked()
            return {
                "name": self.name,
                "rate": self.rate,
                "burst": self.burst,
                "tokens": self._tokens,
            }


# Registries ---------------------------------------------------------------------------------


class _Registry(Generic[_Item]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, _Item] = {}

    def _get_or_create(self, name: str, create: Callable[[], _Item]) -> _Item:
        # Lock-free when it exists (a dict read is atomic): the API looks one up per request.
        item = self._items.get(name)
        if item is not None:
            return item
        with self._lock:
            item = self._items.get(name)
            if item is None:
                self._make_room()
                item = self._items[name] = create()
            return item

    def _make_room(self) -> None:
        """Called with the lock held before an entry is added; unbounded by default."""

    def _all(self) -> list[tuple[str, _Item]]:
        with self._lock:
            return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def clear(self) -> None:
        """Forget every entry (tests, configuration reloads)."""
        with self._lock:
            self._items.clear()


class BreakerRegistry(_Registry[CircuitBreaker]):
    """Circuit breakers by name (e.g. one per host), created on first use with these defaults."""

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        *,
        clock: Clock = time.monotonic,
        expected: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        super().__init__()
        self._create = functools.partial(
            CircuitBreaker,
            failure_threshold=failure_threshold,
            recovery_timeout=recovery_timeout,
            clock=clock,
            expected=expected,
        )

    def get(self, name: str) -> CircuitBreaker:
        return self._get_or_create(name, lambda: self._create(name))

    def snapshot(self) -> dict[str, BreakerSnapshot]:
        return {name: breaker.snapshot() for name, breaker in self._all()}


class LimiterRegistry(_Registry[RateLimiter]):
    """Rate limiters by name, created on first use.

    With ``max_entries`` it never holds more: a new name first evicts the limiters that have
    refilled to their burst (the same as having none), else the least recently used one. The
    API keys one per client, and clients are many.
    """

    def __init__(
        self,
        rate: float = 1.0,
        burst: float | None = None,
        *,
        max_entries: int | None = None,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        super().__init__()
        self.rate, self.burst, self.max_entries = rate, burst, max_entries
        self._clock, self._sleep = clock, sleep

    def _make_room(self) -> None:
        if self.max_entries is None or len(self._items) < self.max_entries:
            return
        now = self._clock()
        idle = {name: limiter._idle_since(now) for name, limiter in self._items.items()}
        for name in [name for name, since in idle.items() if since is None]:
            del self._items[name]
        if len(self._items) >= self.max_entries:  # all busy: drop the oldest rather than grow
            del self._items[min(self._items, key=lambda name: idle[name] or 0.0)]

    def get(self, name: str, rate: float | None = None, burst: float | None = None) -> RateLimiter:
        """The limiter called ``name``; asking for a different rate than it has is an error."""
        limiter = self._get_or_create(
            name,
            lambda: RateLimiter(
                name,
                self.rate if rate is None else rate,
                self.burst if burst is None else burst,
                clock=self._clock,
                sleep=self._sleep,
            ),
        )
        # Two callers silently disagreeing about a site's rate would be a politeness bug.
        if (rate is not None and limiter.rate != rate) or (
            burst is not None and limiter.burst != burst
        ):
            raise ValueError(
                f"rate limiter {name!r} exists with rate={limiter.rate}, burst={limiter.burst}; "
                f"asked for rate={rate}, burst={burst}"
            )
        return limiter

    def snapshot(self) -> dict[str, LimiterSnapshot]:
        return {name: limiter.snapshot() for name, limiter in self._all()}


# Only remote-side trouble should trip a shared breaker: a parser bug raising ValueError on one
# page says nothing about whether the host is up.
breakers = BreakerRegistry(expected=(NetworkError,))
limiters = LimiterRegistry()


# Decorators ---------------------------------------------------------------------------------


def _robust(
    name: str | None,
    policy: RetryPolicy,
    breaker: CircuitBreaker | str | None,
    rate_limit: float | None,
    *,
    own_breaker: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    if breaker is not None or own_breaker:
        # A breaker's refusal is a decision, not a glitch: stop at once instead of retrying.
        policy = dataclasses.replace(policy, give_up_on=(*policy.give_up_on, CircuitOpenError))

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        # Callable objects and partials have no __qualname__ of their own.
        qualname = getattr(fn, "__qualname__", type(fn).__qualname__)
        op = name or f"{getattr(fn, '__module__', __name__)}.{qualname}"

        # Looked up on every attempt, so the registries stay the single source of truth
        # (and clearing them takes effect).
        def guards() -> tuple[RateLimiter | None, CircuitBreaker | None]:
            limiter = None if rate_limit is None else limiters.get(op, rate=rate_limit)
            if isinstance(breaker, CircuitBreaker):
                return limiter, breaker
            breaker_name = op if breaker is None and own_breaker else breaker
            return limiter, None if breaker_name is None else breakers.get(breaker_name)

        if inspect.iscoroutinefunction(fn):
            coro_fn = cast(Callable[P, Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async for attempt in async_retrying(policy, name=op):
                    with attempt:
                        limiter, guard = guards()
                        if limiter is not None:
                            await limiter.acquire_async()
                        if guard is None:
                            return await coro_fn(*args, **kwargs)
                        return await guard.call_async(coro_fn, *args, **kwargs)
                raise AssertionError("unreachable: tenacity re-raises the last error")

            return cast(Callable[P, R], run_async)

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in retrying(policy, name=op):
                with attempt:
                    limiter, guard = guards()
                    if limiter is not None:
                        limiter.acquire()
                    if guard is None:
                        return fn(*args, **kwargs)
                    return guard.call(fn, *args, **kwargs)
            raise AssertionError("unreachable: tenacity re-raises the last error")

        return run

    return decorate


def robust_network_operation(
    name: str | None = None,
    *,
    policy: RetryPolicy = NETWORK_POLICY,
    breaker: CircuitBreaker | str | None = None,
    rate_limit: float | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry transient network errors, optionally behind a named breaker and a rate limit."""
    return _robust(name, policy, breaker, rate_limit)


def robust_database_operation(
    *, policy: RetryPolicy = DATABASE_POLICY
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry dropped or unreachable database connections."""
    return _robust(None, policy, None, None)


def robust_scraping_operation(
    name: str | None = None,
    *,
    policy: RetryPolicy = NETWORK_POLICY,
    breaker: CircuitBreaker | str | None = None,
    rate_limit: float | None = 1.0,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Network retries where every attempt takes a token, then passes a breaker (per name).

    An open circuit ends the retries at once with CircuitOpenError.
    """
    return _robust(name, policy, breaker, rate_limit, own_breaker=True)
