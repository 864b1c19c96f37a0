"""The original retry_utils decorators and RateLimiter, on top of haystack_collector.resilience."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from haystack_collector import errors
from haystack_collector.legacy.retry_utils import (
    DatabaseRetryableError,
    NetworkError,
    RateLimiter,
    RateLimitError,
    is_retryable_exception,
    rate_limited,
    robust_database_operation,
    robust_network_operation,
    robust_scraping_operation,
    smart_retry,
)
from haystack_collector.resilience import breakers, limiters


@pytest.fixture(autouse=True)
def _empty_registries() -> Iterator[None]:
    breakers.clear()
    limiters.clear()
    yield
    breakers.clear()
    limiters.clear()


def failing(times: int, error: Callable[[int], BaseException]) -> Callable[[], str]:
    """A function that raises ``error(call)`` on its first ``times`` calls, then succeeds."""
    calls: list[int] = []

    def run() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= times:
            raise error(len(calls))
        return f"ok after {len(calls)} calls"

    run.calls = calls  # type: ignore[attr-defined]
    return run


def calls_of(func: Callable[..., object]) -> int:
    return len(func.__wrapped__.calls)  # type: ignore[attr-defined]


def test_smart_retry_succeeds_after_connection_errors_as_the_original_script_checks() -> None:
    flaky = smart_retry(max_attempts=3, base_delay=0.01)(
        failing(2, lambda n: ConnectionError(f"simulated failure {n}"))
    )

    assert flaky() == "ok after 3 calls"


def test_smart_retry_gives_up_after_max_attempts_with_the_last_error() -> None:
    flaky = smart_retry(max_attempts=3, base_delay=0.01)(
        failing(5, lambda n: TimeoutError(f"failure {n}"))
    )

    with pytest.raises(TimeoutError, match="failure 3"):
        flaky()
    assert calls_of(flaky) == 3


@pytest.mark.parametrize(
    "error", [ValueError("bad input"), TypeError("bug"), KeyError("missing")], ids=repr
)
def test_smart_retry_does_not_retry_errors_that_would_fail_again(error: Exception) -> None:
    broken = smart_retry(max_attempts=3, base_delay=0.01)(failing(5, lambda n: error))

    with pytest.raises(type(error)):
        broken()
    assert calls_of(broken) == 1


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("(2006, 'MySQL server has gone away')"),
        RuntimeError("Deadlock found when trying to get lock"),
        NetworkError("reset by peer"),
        DatabaseRetryableError("pool exhausted"),
        errors.DatabaseConnectionError("dropped"),
    ],
    ids=repr,
)
def test_transient_errors_by_class_or_by_message_are_retried(error: Exception) -> None:
    assert is_retryable_exception(error)
    flaky = smart_retry(max_attempts=2, base_delay=0.01)(failing(1, lambda n: error))

    assert flaky() == "ok after 2 calls"


def test_smart_retry_takes_its_own_retryable_exceptions() -> None:
    flaky = smart_retry(max_attempts=2, base_delay=0.01, retryable_exceptions=[LookupError])(
        failing(1, KeyError)
    )

    assert flaky() == "ok after 2 calls"


def test_the_legacy_errors_are_also_haystack_errors() -> None:
    assert isinstance(NetworkError("x"), errors.NetworkError)
    assert isinstance(DatabaseRetryableError("x"), errors.DatabaseConnectionError)


def test_rate_limiter_allows_max_calls_then_refuses_within_the_timeout() -> None:
    limiter = RateLimiter(max_calls=3, time_window=1.0)

    assert all(limiter.acquire(timeout=1.0) for _ in range(3))
    started = time.monotonic()
    assert limiter.acquire(timeout=0.1) is False
    assert time.monotonic() - started < 0.1  # a token due too late is refused at once


def test_rate_limiter_waits_for_the_window_to_free_a_call() -> None:
    limiter = RateLimiter(max_calls=2, time_window=0.2)
    assert limiter.acquire(timeout=0)
    assert limiter.acquire(timeout=0)

    started = time.monotonic()
    assert limiter.acquire(timeout=1.0) is True
    assert 0.05 < time.monotonic() - started < 0.5


def test_rate_limiter_is_a_context_manager() -> None:
    limiter = RateLimiter(max_calls=1, time_window=10.0)

    with limiter:
        pass

    assert limiter.acquire(timeout=0) is False


@pytest.mark.parametrize(("calls", "window"), [(0, 1.0), (1, 0.0)])
def test_rate_limiter_refuses_an_empty_window(calls: int, window: float) -> None:
    with pytest.raises(ValueError, match="max_calls"):
        RateLimiter(max_calls=calls, time_window=window)


def test_rate_limited_raises_once_no_call_comes_free_in_time() -> None:
    @rate_limited(1, 10.0, timeout=0.01)
    def ping() -> str:
        return "pong"

    assert ping() == "pong"
    with pytest.raises(RateLimitError, match="ping"):
        ping()


def test_robust_database_operation_retries_a_dropped_connection_three_times() -> None:
    flaky = robust_database_operation(failing(2, lambda n: errors.DatabaseConnectionError("gone")))

    assert flaky() == "ok after 3 calls"


def test_robust_database_operation_does_not_retry_a_bad_statement() -> None:
    broken = robust_database_operation(failing(5, lambda n: errors.DatabaseQueryError("syntax")))

    with pytest.raises(errors.DatabaseQueryError):
        broken()
    assert calls_of(broken) == 1


def test_robust_network_operation_retries_and_limits_like_the_original() -> None:
    flaky = robust_network_operation(failing(1, lambda n: ConnectionError("reset")))

    assert flaky() == "ok after 2 calls"
    (limiter,) = limiters.snapshot().values()
    assert (limiter["rate"], limiter["burst"]) == (10 / 60, 10)  # 10 calls a minute, at once
    assert len(breakers.snapshot()) == 1


def test_robust_network_operation_stops_at_an_open_circuit() -> None:
    def down() -> None:
        raise NetworkError("host down")

    guarded = robust_network_operation(down)
    (name,) = limiters.snapshot()
    breaker = breakers.get(name)
    for _ in range(breaker.failure_threshold):
        breaker.record_failure(NetworkError("earlier failure"))

    with pytest.raises(errors.CircuitOpenError):
        guarded()


def test_robust_scraping_operation_takes_a_token_per_call_at_30_a_minute() -> None:
    fetch = robust_scraping_operation(failing(0, lambda n: ConnectionError()))

    assert fetch() == "ok after 1 calls"
    (limiter,) = limiters.snapshot().values()
    assert (limiter["rate"], limiter["burst"]) == (0.5, 30)
    assert limiter["tokens"] == pytest.approx(29, abs=0.1)
