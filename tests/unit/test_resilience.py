"""Specification of retries, circuit breakers, rate limits and the robust_* decorators."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from haystack_collector import resilience
from haystack_collector.errors import (
    CircuitOpenError,
    DatabaseConnectionError,
    DatabaseQueryError,
    NetworkError,
    RateLimitError,
    RateLimitExceeded,
)
from haystack_collector.resilience import (
    DATABASE_POLICY,
    NETWORK_POLICY,
    BreakerRegistry,
    BreakerState,
    CircuitBreaker,
    LimiterRegistry,
    RateLimiter,
    RetryPolicy,
    async_retrying,
    backoff_delay,
    breakers,
    limiters,
    retrying,
    robust_database_operation,
    robust_network_operation,
    robust_scraping_operation,
)

# Helpers ------------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when told to; its ``sleep`` advances it instead."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Flaky:
    """Fails ``failures`` times with a fresh ``error()``, then returns ``result``."""

    def __init__(self, failures: int, error: Callable[[], BaseException], result: str = "ok"):
        self.failures = failures
        self.error = error
        self.result = result
        self.calls = 0
        self.raised: list[BaseException] = []

    def __call__(self, *args: object, **kwargs: object) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            exc = self.error()
            self.raised.append(exc)
            raise exc
        return self.result

    async def acall(self, *args: object, **kwargs: object) -> str:
        await asyncio.sleep(0)
        return self(*args, **kwargs)


ALWAYS = 1_000_000


def network_error() -> NetworkError:
    return NetworkError("connection reset")


class SleepRecorder:
    """Stands in for time.sleep / asyncio.sleep so retries take no time."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.delays.append(seconds)


def no_jitter(policy: RetryPolicy) -> RetryPolicy:
    return dataclasses.replace(policy, jitter=False)


# Zero delays: decorators use real sleeps, so their tests use policies that never wait.
FAST_NETWORK = dataclasses.replace(NETWORK_POLICY, initial=0.0, maximum=0.0)
FAST_DATABASE = dataclasses.replace(DATABASE_POLICY, initial=0.0, maximum=0.0)


@pytest.fixture(autouse=True)
def _empty_registries() -> Iterator[None]:
    breakers.clear()
    limiters.clear()
    yield
    breakers.clear()
    limiters.clear()


# Retry policies and backoff -----------------------------------------------------------------

CURVE = RetryPolicy(attempts=10, initial=0.5, maximum=4.0, multiplier=2.0, jitter=False)
JITTERED = dataclasses.replace(CURVE, jitter=True)


@pytest.mark.parametrize(
    ("policy", "attempt", "rand", "retry_after", "expected"),
    [
        pytest.param(CURVE, 1, 0.5, None, 0.5, id="first retry waits initial"),
        pytest.param(CURVE, 2, 0.5, None, 1.0, id="then doubles"),
        pytest.param(CURVE, 3, 0.5, None, 2.0, id="and doubles again"),
        pytest.param(CURVE, 4, 0.5, None, 4.0, id="reaches the cap"),
        pytest.param(CURVE, 5, 0.5, None, 4.0, id="stays at the cap"),
        pytest.param(CURVE, 10_000, 0.5, None, 4.0, id="huge attempt does not overflow"),
        pytest.param(
            dataclasses.replace(CURVE, multiplier=3.0), 3, 0.5, None, 4.0, id="multiplier"
        ),
        pytest.param(JITTERED, 1, 0.0, None, 0.0, id="full jitter lower bound is zero"),
        pytest.param(JITTERED, 3, 0.0, None, 0.0, id="lower bound zero at any attempt"),
        pytest.param(JITTERED, 3, 1.0, None, 2.0, id="upper bound is the curve"),
        pytest.param(JITTERED, 3, 0.25, None, 0.5, id="jitter scales the curve"),
        pytest.param(JITTERED, 9, 1.0, None, 4.0, id="jitter upper bound is capped"),
        pytest.param(JITTERED, 1, 0.0, 3.0, 3.0, id="retry-after is a floor"),
        pytest.param(JITTERED, 3, 1.0, 1.0, 2.0, id="longer backoff beats short retry-after"),
        pytest.param(JITTERED, 1, 0.0, 120.0, 4.0, id="retry-after is capped"),
        pytest.param(CURVE, 1, 0.0, 0.0, 0.5, id="zero retry-after is ignored"),
        pytest.param(CURVE, 1, 0.0, -5.0, 0.5, id="negative retry-after is ignored"),
        pytest.param(CURVE, 1, 0.0, float("nan"), 0.5, id="nan retry-after is ignored"),
        pytest.param(CURVE, 1, 0.0, float("inf"), 4.0, id="infinite retry-after is capped"),
    ],
)
def test_backoff_delay(
    policy: RetryPolicy, attempt: int, rand: float, retry_after: float | None, expected: float
) -> None:
    delay = backoff_delay(policy, attempt, retry_after=retry_after, rand=lambda: rand)
    assert delay == pytest.approx(expected)


@pytest.mark.parametrize("attempt", [1, 2, 3, 6, 50])
def test_jittered_delay_stays_within_zero_and_the_capped_curve(attempt: int) -> None:
    ceiling = backoff_delay(CURVE, attempt)
    for _ in range(200):
        assert 0.0 <= backoff_delay(JITTERED, attempt) <= ceiling


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        backoff_delay(CURVE, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"attempts": 0, "initial": 1, "maximum": 2}, id="no attempts"),
        pytest.param({"attempts": 3, "initial": -1, "maximum": 2}, id="negative initial"),
        pytest.param({"attempts": 3, "initial": 5, "maximum": 2}, id="initial above cap"),
        pytest.param({"attempts": 3, "initial": 1, "maximum": 2, "multiplier": 0.5}, id="shrinks"),
    ],
)
def test_retry_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_policies_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        NETWORK_POLICY.attempts = 10  # type: ignore[misc]


def test_default_policy_parameters() -> None:
    assert (NETWORK_POLICY.attempts, NETWORK_POLICY.initial, NETWORK_POLICY.maximum) == (4, 0.5, 30)
    assert (DATABASE_POLICY.attempts, DATABASE_POLICY.initial, DATABASE_POLICY.maximum) == (
        5,
        0.2,
        10,
    )


@pytest.mark.parametrize(
    ("policy", "error", "retried"),
    [
        (NETWORK_POLICY, NetworkError("reset"), True),
        (NETWORK_POLICY, RateLimitError("slow down", retry_after=2), True),
        (NETWORK_POLICY, CircuitOpenError("host", retry_after=2), False),
        (NETWORK_POLICY, DatabaseConnectionError("gone"), False),
        (NETWORK_POLICY, ValueError("bug"), False),
        (DATABASE_POLICY, DatabaseConnectionError("gone"), True),
        (DATABASE_POLICY, DatabaseQueryError("syntax"), False),
        (DATABASE_POLICY, NetworkError("reset"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_what_each_policy_retries(policy: RetryPolicy, error: BaseException, retried: bool) -> None:
    assert policy.should_retry(error) is retried


# retrying / async_retrying -------------------------------------------------------------------


def test_retrying_recovers_from_transient_errors_with_growing_delays() -> None:
    flaky, sleep = Flaky(2, network_error), SleepRecorder()

    result = retrying(NETWORK_POLICY, sleep=sleep, rand=lambda: 1.0)(flaky)

    assert result == "ok"
    assert flaky.calls == 3
    assert sleep.delays == [0.5, 1.0]


def test_retrying_gives_up_after_the_last_attempt_with_the_original_exception() -> None:
    flaky, sleep = Flaky(ALWAYS, network_error), SleepRecorder()

    with pytest.raises(NetworkError) as caught:
        retrying(NETWORK_POLICY, sleep=sleep, rand=lambda: 1.0)(flaky)

    assert caught.value is flaky.raised[-1]  # not tenacity's RetryError
    assert flaky.calls == NETWORK_POLICY.attempts
    assert sleep.delays == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "error",
    [ValueError("bug"), CircuitOpenError("host", retry_after=5), DatabaseQueryError("bad sql")],
    ids=lambda e: type(e).__name__,
)
def test_non_retryable_errors_surface_at_once(error: BaseException) -> None:
    flaky, sleep = Flaky(1, lambda: error), SleepRecorder()

    with pytest.raises(type(error)) as caught:
        retrying(NETWORK_POLICY, sleep=sleep)(flaky)

    assert caught.value is error
    assert flaky.calls == 1
    assert sleep.delays == []


def test_retrying_waits_for_the_servers_retry_after() -> None:
    flaky = Flaky(1, lambda: RateLimitError("429", retry_after=7.0))
    sleep = SleepRecorder()

    assert retrying(NETWORK_POLICY, sleep=sleep, rand=lambda: 0.0)(flaky) == "ok"
    assert sleep.delays == [7.0]


def test_retrying_also_works_as_an_iterator() -> None:
    flaky, sleep = Flaky(2, lambda: DatabaseConnectionError("restarting")), SleepRecorder()

    for attempt in retrying(no_jitter(DATABASE_POLICY), sleep=sleep):
        with attempt:
            flaky()

    assert flaky.calls == 3
    assert sleep.delays == pytest.approx([0.2, 0.4])


def test_each_retry_is_logged_without_the_arguments(caplog: pytest.LogCaptureFixture) -> None:
    flaky = Flaky(1, network_error)
    caplog.set_level(logging.WARNING, logger="haystack.resilience")

    retrying(no_jitter(NETWORK_POLICY), name="fetch", sleep=SleepRecorder())(flaky, "hunter2")

    [record] = caplog.records
    assert record.name == "haystack.resilience"
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "fetch" in message
    assert "attempt 1 of 4" in message
    assert "NetworkError: connection reset" in message
    assert "0.50s" in message
    assert "hunter2" not in message


async def test_async_retrying_recovers_without_really_sleeping() -> None:
    flaky, sleep = Flaky(3, network_error), SleepRecorder()

    result: str = await async_retrying(NETWORK_POLICY, sleep=sleep.asleep, rand=lambda: 1.0)(
        flaky.acall
    )

    assert result == "ok"
    assert flaky.calls == 4
    assert sleep.delays == [0.5, 1.0, 2.0]


async def test_async_retrying_reraises_the_original_exception() -> None:
    flaky, sleep = Flaky(ALWAYS, lambda: DatabaseConnectionError("down")), SleepRecorder()

    with pytest.raises(DatabaseConnectionError) as caught:
        await async_retrying(DATABASE_POLICY, sleep=sleep.asleep)(flaky.acall)

    assert caught.value is flaky.raised[-1]
    assert flaky.calls == 5


async def test_async_retrying_does_not_retry_other_errors() -> None:
    flaky, sleep = Flaky(1, lambda: KeyError("x")), SleepRecorder()

    with pytest.raises(KeyError):
        await async_retrying(NETWORK_POLICY, sleep=sleep.asleep)(flaky.acall)

    assert flaky.calls == 1


# Circuit breaker ----------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("example.org", failure_threshold=3, recovery_timeout=30.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(NetworkError):
            breaker.call(Flaky(ALWAYS, network_error))


def test_breaker_stays_closed_below_the_threshold(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.call(lambda: "through") == "through"


def test_a_success_resets_the_consecutive_failure_count(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.call(lambda: None)
    fail(breaker, 2)

    assert breaker.state is BreakerState.CLOSED


def test_breaker_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 3)

    assert breaker.state is BreakerState.OPEN
    assert breaker.snapshot()["state"] == "open"


def test_open_breaker_refuses_calls_and_says_when_to_come_back(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(10)
    fn = Flaky(0, network_error)

    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(fn)

    assert fn.calls == 0
    assert caught.value.breaker == "example.org"
    assert caught.value.retry_after == pytest.approx(20.0)


def test_after_recovery_timeout_one_probe_goes_through_and_others_wait(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(30)

    breaker.before_call()  # the probe, still in flight

    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_probe_success_closes_the_breaker(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(30)

    assert breaker.call(lambda: "back") == "back"

    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot()["failures"] == 0
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED  # a full threshold is needed again


def test_probe_failure_reopens_for_a_full_recovery_timeout(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(31)

    fail(breaker, 1)

    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call()
    assert caught.value.retry_after == pytest.approx(30.0)


def test_unexpected_exceptions_pass_through_without_counting(clock: FakeClock) -> None:
    breaker = CircuitBreaker("h", failure_threshold=1, clock=clock, expected=(NetworkError,))

    for _ in range(5):
        with pytest.raises(ValueError, match="parser bug"):
            breaker.call(Flaky(1, lambda: ValueError("parser bug")))

    assert breaker.state is BreakerState.CLOSED


def test_unexpected_exception_in_the_probe_frees_the_slot(clock: FakeClock) -> None:
    breaker = CircuitBreaker("h", failure_threshold=1, clock=clock, expected=(NetworkError,))
    fail(breaker)
    clock.advance(30)

    with pytest.raises(ValueError, match="parser bug"):
        breaker.call(Flaky(1, lambda: ValueError("parser bug")))

    assert breaker.call(lambda: "next caller probes") == "next caller probes"
    assert breaker.state is BreakerState.CLOSED


def test_a_probe_that_never_reports_back_expires(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(30)
    breaker.before_call()  # leaked: no record_success / record_failure follows

    clock.advance(29)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call()
    assert caught.value.retry_after == pytest.approx(1.0)

    clock.advance(1)
    breaker.before_call()
    assert breaker.state is BreakerState.HALF_OPEN


def test_primitives_for_streaming(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure(NetworkError("stream cut"))

    assert breaker.state is BreakerState.OPEN


def test_context_manager_records_the_outcome(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        with pytest.raises(NetworkError), breaker:
            raise NetworkError("stream cut")

    assert breaker.snapshot()["state"] == "open"
    breaker.reset()
    with breaker:
        pass
    assert breaker.state is BreakerState.CLOSED


def test_reset_closes_the_breaker(breaker: CircuitBreaker) -> None:
    fail(breaker, 3)

    breaker.reset()

    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot()["failures"] == 0


def test_snapshot_reports_state_for_the_api(breaker: CircuitBreaker, clock: FakeClock) -> None:
    assert breaker.snapshot() == {
        "name": "example.org",
        "state": "closed",
        "failures": 0,
        "opened_at": None,
        "retry_after": 0.0,
    }
    before = time.time()
    fail(breaker, 3)
    clock.advance(12)

    snap = breaker.snapshot()

    assert snap["state"] == "open"
    assert snap["failures"] == 3
    assert snap["opened_at"] is not None
    assert before <= snap["opened_at"] <= time.time()  # wall-clock epoch seconds
    assert snap["retry_after"] == pytest.approx(18.0)


def test_only_one_of_many_threads_gets_the_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(30)
    start = threading.Barrier(16)
    admitted: list[bool] = []

    def knock() -> None:
        start.wait()
        try:
            breaker.before_call()
        except CircuitOpenError:
            admitted.append(False)
        else:
            admitted.append(True)

    threads = [threading.Thread(target=knock) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert admitted.count(True) == 1
    assert admitted.count(False) == 15


async def test_concurrent_async_callers_are_refused_while_the_probe_is_in_flight(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(30)
    release = asyncio.Event()

    async def slow_probe() -> str:
        await release.wait()
        return "recovered"

    probe = asyncio.create_task(breaker.call_async(slow_probe))
    await asyncio.sleep(0)  # let the probe get admitted

    with pytest.raises(CircuitOpenError):
        await breaker.call_async(slow_probe)
    release.set()

    assert await probe == "recovered"
    assert breaker.state is BreakerState.CLOSED


async def test_cancelled_probe_frees_the_slot(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(30)
    probe = asyncio.create_task(breaker.call_async(asyncio.sleep, 60))
    await asyncio.sleep(0)

    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe

    async with breaker:  # the next caller is the probe now
        pass
    assert breaker.state is BreakerState.CLOSED


async def test_call_async_counts_failures(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        with pytest.raises(NetworkError):
            await breaker.call_async(Flaky(ALWAYS, network_error).acall)

    assert breaker.state is BreakerState.OPEN


@pytest.mark.parametrize(
    "kwargs", [{"failure_threshold": 0}, {"recovery_timeout": -1.0}], ids=["threshold", "timeout"]
)
def test_breaker_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker("h", **kwargs)  # type: ignore[arg-type]


def test_breaker_registry_creates_one_breaker_per_name_with_its_defaults(
    clock: FakeClock,
) -> None:
    registry = BreakerRegistry(failure_threshold=2, recovery_timeout=5.0, clock=clock)

    first = registry.get("a.example")

    assert registry.get("a.example") is first
    assert (first.failure_threshold, first.recovery_timeout) == (2, 5.0)
    fail(first, 2)
    registry.get("b.example")
    assert {name: snap["state"] for name, snap in registry.snapshot().items()} == {
        "a.example": "open",
        "b.example": "closed",
    }
    registry.clear()
    assert "a.example" not in registry


def test_shared_breakers_only_count_network_errors() -> None:
    assert breakers.get("any.example").expected == (NetworkError,)


# Rate limiter -------------------------------------------------------------------------------


@pytest.fixture
def limiter(clock: FakeClock) -> RateLimiter:
    return RateLimiter("example.org", rate=2.0, burst=3, clock=clock, sleep=clock.sleep)


def test_limiter_allows_a_burst_then_refills_at_the_rate(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]

    clock.advance(0.5)  # one token at 2/s

    assert [limiter.try_acquire() for _ in range(2)] == [True, False]


def test_limiter_saves_up_no_more_than_the_burst(limiter: RateLimiter, clock: FakeClock) -> None:
    clock.advance(3600)

    assert sum(limiter.try_acquire() for _ in range(10)) == 3


@pytest.mark.parametrize(
    ("rate", "burst"), [(0.2, 1.0), (1.0, 1.0), (5.0, 5.0), (2.5, 2.5)], ids=str
)
def test_default_burst_is_the_rate_but_at_least_one(rate: float, burst: float) -> None:
    assert RateLimiter("x", rate).burst == burst


def test_acquire_sleeps_until_the_next_token(limiter: RateLimiter, clock: FakeClock) -> None:
    for _ in range(3):
        limiter.acquire()
    assert clock.slept == []

    limiter.acquire()
    limiter.acquire()

    assert clock.slept == pytest.approx([0.5, 0.5])


def test_acquire_within_timeout_succeeds(limiter: RateLimiter, clock: FakeClock) -> None:
    for _ in range(3):
        limiter.acquire()

    limiter.acquire(timeout=0.5)

    assert clock.slept == pytest.approx([0.5])


def test_acquire_gives_up_at_once_when_the_token_would_come_too_late(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    for _ in range(3):
        limiter.acquire()

    with pytest.raises(RateLimitExceeded) as caught:
        limiter.acquire(timeout=0.4)

    assert caught.value.limiter == "example.org"
    assert caught.value.timeout == 0.4
    assert clock.slept == []


def test_zero_timeout_tries_exactly_once(limiter: RateLimiter, clock: FakeClock) -> None:
    for _ in range(3):
        limiter.acquire(timeout=0)

    with pytest.raises(RateLimitExceeded):
        limiter.acquire(timeout=0)
    assert clock.slept == []


def test_limiter_snapshot(limiter: RateLimiter) -> None:
    limiter.acquire()

    assert limiter.snapshot() == {
        "name": "example.org",
        "rate": 2.0,
        "burst": 3.0,
        "tokens": 2.0,
    }


@pytest.mark.parametrize(
    ("rate", "burst"),
    [(0.0, None), (-1.0, None), (float("inf"), None), (float("nan"), None), (1.0, 0.5)],
    ids=str,
)
def test_limiter_rejects_nonsense(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter("x", rate, burst)


def test_limiter_hands_out_each_token_once_across_threads(clock: FakeClock) -> None:
    limiter = RateLimiter("x", rate=1.0, burst=50, clock=clock)
    start = threading.Barrier(8)
    taken: list[bool] = []

    def grab() -> None:
        start.wait()
        taken.extend(limiter.try_acquire() for _ in range(20))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert taken.count(True) == 50


async def test_acquire_async_paces_callers_in_real_time() -> None:
    limiter = RateLimiter("fast", rate=50.0, burst=1)
    started = time.monotonic()

    for _ in range(3):
        await limiter.acquire_async()
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire_async(timeout=0.001)

    elapsed = time.monotonic() - started
    assert 0.035 <= elapsed < 0.5  # two refills of 20 ms each


def test_limiter_registry_creates_one_limiter_per_name(clock: FakeClock) -> None:
    registry = LimiterRegistry(rate=4.0, clock=clock)

    default = registry.get("a")
    custom = registry.get("b", rate=0.5)

    assert registry.get("a") is default
    assert registry.get("b") is custom  # no rate given: whatever it has
    assert (default.rate, default.burst, custom.rate, custom.burst) == (4.0, 4.0, 0.5, 1.0)
    assert set(registry.snapshot()) == {"a", "b"}


def test_take_spends_a_token_or_says_how_long_until_one_is_due(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    assert [limiter.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take() == pytest.approx(0.5)  # one token at 2/s; nothing is taken
    clock.advance(0.25)
    assert limiter.take() == pytest.approx(0.25)
    clock.advance(0.25)
    assert limiter.take() == 0.0
    assert clock.slept == []  # never waits


def test_a_bounded_registry_forgets_refilled_limiters_first(clock: FakeClock) -> None:
    registry = LimiterRegistry(rate=1.0, burst=2, max_entries=3, clock=clock)
    for n in range(10):
        registry.get(f"client-{n}").take()
        clock.advance(10)  # every earlier limiter has refilled by the next new name

    assert len(registry.snapshot()) == 1
    assert "client-9" in registry


def test_a_bounded_registry_with_only_busy_limiters_drops_the_least_recently_used(
    clock: FakeClock,
) -> None:
    registry = LimiterRegistry(rate=0.001, burst=1, max_entries=2, clock=clock)
    registry.get("old").take()
    clock.advance(1)
    registry.get("busy").take()
    clock.advance(1)
    registry.get("new").take()

    assert set(registry.snapshot()) == {"busy", "new"}
    assert registry.get("busy").take() > 0  # kept its spent bucket


def test_a_registry_needs_room_for_one(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LimiterRegistry(max_entries=0)


def test_limiter_registry_refuses_conflicting_rates() -> None:
    registry = LimiterRegistry()
    registry.get("a", rate=2.0)

    with pytest.raises(ValueError, match=r"exists with rate=2\.0"):
        registry.get("a", rate=3.0)


# Decorators ---------------------------------------------------------------------------------


def test_network_decorator_retries_a_sync_function_and_keeps_its_identity() -> None:
    flaky = Flaky(2, network_error)

    @robust_network_operation(policy=FAST_NETWORK)
    def fetch(url: str, *, timeout: float = 10.0) -> str:
        """Fetch a page."""
        return flaky(url, timeout=timeout)

    assert fetch("https://example.org") == "ok"
    assert flaky.calls == 3
    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch a page."
    assert str(inspect.signature(fetch)) == "(url: 'str', *, timeout: 'float' = 10.0) -> 'str'"
    assert not inspect.iscoroutinefunction(fetch)


async def test_network_decorator_retries_an_async_function() -> None:
    flaky = Flaky(2, lambda: RateLimitError("429", retry_after=0.0))

    @robust_network_operation(policy=FAST_NETWORK)
    async def fetch(url: str) -> str:
        return await flaky.acall(url)

    assert inspect.iscoroutinefunction(fetch)
    assert await fetch("https://example.org") == "ok"
    assert flaky.calls == 3


def test_network_decorator_gives_up_with_the_last_error() -> None:
    flaky = Flaky(ALWAYS, network_error)
    fetch = robust_network_operation(policy=FAST_NETWORK)(flaky)

    with pytest.raises(NetworkError) as caught:
        fetch()

    assert caught.value is flaky.raised[-1]
    assert flaky.calls == 4


def test_network_decorator_does_not_retry_other_errors() -> None:
    flaky = Flaky(1, lambda: ValueError("bad url"))

    with pytest.raises(ValueError, match="bad url"):
        robust_network_operation(policy=FAST_NETWORK)(flaky)()
    assert flaky.calls == 1


def test_network_decorator_with_a_named_breaker_shares_it_through_the_registry() -> None:
    fetch = robust_network_operation(policy=FAST_NETWORK, breaker="example.org")(
        Flaky(ALWAYS, network_error)
    )

    with pytest.raises(NetworkError):
        fetch()

    assert breakers.snapshot()["example.org"]["failures"] == 4


def test_network_decorator_with_a_rate_limit_registers_a_limiter() -> None:
    fetch = robust_network_operation("feeds", policy=FAST_NETWORK, rate_limit=100.0)(lambda: "ok")

    assert fetch() == "ok"
    assert limiters.get("feeds").rate == 100.0


def test_database_decorator_retries_lost_connections_only() -> None:
    dropped = Flaky(2, lambda: DatabaseConnectionError("server closed the connection"))
    broken = Flaky(1, lambda: DatabaseQueryError("syntax error"))
    offline = Flaky(1, network_error)
    robust = robust_database_operation(policy=FAST_DATABASE)

    assert robust(dropped)() == "ok"
    with pytest.raises(DatabaseQueryError):
        robust(broken)()
    with pytest.raises(NetworkError):
        robust(offline)()
    assert (dropped.calls, broken.calls, offline.calls) == (3, 1, 1)


async def test_database_decorator_on_a_coroutine() -> None:
    flaky = Flaky(4, lambda: DatabaseConnectionError("restarting"))

    @robust_database_operation(policy=FAST_DATABASE)
    async def save(row: dict[str, str]) -> str:
        return await flaky.acall(row)

    assert await save({"title": "x"}) == "ok"
    assert flaky.calls == 5


def test_scraping_decorator_stops_retrying_once_the_circuit_opens(clock: FakeClock) -> None:
    breaker = CircuitBreaker("example.org", failure_threshold=2, clock=clock)
    flaky = Flaky(ALWAYS, network_error)
    scrape = robust_scraping_operation(policy=FAST_NETWORK, breaker=breaker, rate_limit=None)(flaky)

    with pytest.raises(CircuitOpenError):
        scrape()  # fails twice, the breaker opens, the third attempt is refused: no more tries

    assert flaky.calls == 2
    with pytest.raises(CircuitOpenError):
        scrape()
    assert flaky.calls == 2


async def test_async_scraping_decorator_uses_a_breaker_per_name() -> None:
    flaky = Flaky(ALWAYS, network_error)

    @robust_scraping_operation("example.org", policy=FAST_NETWORK, rate_limit=1000.0)
    async def scrape() -> str:
        return await flaky.acall()

    with pytest.raises(NetworkError):
        await scrape()  # 4 failures, threshold 5: still closed
    with pytest.raises(CircuitOpenError):
        await scrape()  # 5th failure opens it; the retry is refused

    assert flaky.calls == 5
    assert breakers.snapshot()["example.org"]["state"] == "open"
    assert "example.org" in limiters


def test_scraping_decorator_takes_a_token_before_every_attempt(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setattr(resilience, "limiters", LimiterRegistry(clock=clock, sleep=clock.sleep))
    flaky = Flaky(2, network_error)

    scrape = robust_scraping_operation("slow.example", policy=FAST_NETWORK, rate_limit=1.0)(flaky)

    assert scrape() == "ok"
    assert clock.slept == pytest.approx([1.0, 1.0])  # burst of one, then a token a second


def test_scraping_decorator_names_its_breaker_after_the_function() -> None:
    @robust_scraping_operation(policy=FAST_NETWORK, rate_limit=None)
    def harvest() -> str:
        return "ok"

    assert harvest() == "ok"
    assert f"{__name__}.{harvest.__qualname__}" in breakers.snapshot()
