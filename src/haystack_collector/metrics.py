"""Prometheus instruments, counted where the work happens, kept by processes that serve them.

The fetcher counts every fetch (``observe_fetch``, called from ``fetch.policy.log_result``);
the run executor observes each run requested through the API (``observe_run``); the API each request
(``observe_request``) and its open streams (``stream_opened``/``stream_closed``). Figures that
live in the database (queue depth, items, workers, breakers) are read at scrape time by
``routes/metrics.py``, so every process's ``/metrics`` shows the same totals for those.

Only a process that answers ``/metrics`` keeps them: the API's app factory calls ``enable()``,
which imports prometheus_client and builds the instruments. Until then every ``observe_*`` is
a no-op, so ``haystack crawl`` and a stand-alone ``haystack worker``, which nobody scrapes,
pay neither the library's memory nor its cost per fetch.

Label values stay bounded: after ``MAX_HOST_LABELS`` distinct hosts, further hosts are
counted as ``"other"`` so a broad crawl cannot blow up the number of series.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "MAX_HOST_LABELS",
    "OTHER_HOST",
    "HostLabels",
    "Instruments",
    "enable",
    "enabled",
    "observe_fetch",
    "observe_request",
    "observe_run",
    "stream_closed",
    "stream_opened",
]

MAX_HOST_LABELS = 500
OTHER_HOST = "other"


@dataclass(frozen=True, slots=True)
class Instruments:
    """The process's instruments, registered once in prometheus_client's default registry."""

    fetches: Counter
    fetch_seconds: Histogram
    items_stored: Counter
    run_duration: Histogram
    api_request_seconds: Histogram
    api_streams: Gauge

    @classmethod
    def build(cls) -> Instruments:
        from prometheus_client import Counter, Gauge, Histogram  # noqa: PLC0415 - see above

        return cls(
            fetches=Counter(
                "haystack_fetches",
                "Fetches by host and outcome (HTTP status, or 'error' when no response arrived).",
                ["host", "status"],
            ),
            fetch_seconds=Histogram(
                "haystack_fetch_seconds",
                "Whole-fetch latency, including retries and politeness waits.",
                ["outcome"],
                buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
            ),
            items_stored=Counter(
                "haystack_items_stored",
                "Items stored by this process's runs, by engine.",
                ["engine"],
            ),
            run_duration=Histogram(
                "haystack_run_duration_seconds",
                "How long runs requested through the API took, by engine and final state.",
                ["engine", "state"],
                buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0),
            ),
            api_request_seconds=Histogram(
                "haystack_api_request_seconds",
                "API request latency by method, route template and status.",
                ["method", "route", "status"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            ),
            api_streams=Gauge("haystack_api_streams", "Open /api/stream connections."),
        )


_lock = threading.Lock()
_instruments: Instruments | None = None


def enable() -> Instruments:
    """Keep the instruments from now on (idempotent); returns them."""
    global _instruments  # noqa: PLW0603 - one set per process, like prometheus's registry
    with _lock:
        if _instruments is None:
            _instruments = Instruments.build()
        return _instruments


def enabled() -> Instruments | None:
    """The instruments, or None while this process keeps none."""
    return _instruments


class HostLabels:
    """Hands out host label values: each host as itself until ``limit`` hosts were seen."""

    def __init__(self, limit: int = MAX_HOST_LABELS) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, host: str) -> str:
        with self._lock:
            if host in self._seen:
                return host
            if len(self._seen) < self.limit:
                self._seen.add(host)
                return host
        return OTHER_HOST


host_label = HostLabels()


def observe_fetch(*, host: str, status: int | None, error: bool, seconds: float) -> None:
    """Count one fetch; ``status`` None means no response arrived."""
    if (kept := _instruments) is None:
        return
    outcome = "error" if status is None else str(status)
    kept.fetches.labels(host=host_label(host or "unknown"), status=outcome).inc()
    kept.fetch_seconds.labels(outcome="error" if error else "ok").observe(max(seconds, 0.0))


def observe_run(*, engine: str, state: str, seconds: float, items: int) -> None:
    """Count one API run that ended in ``state`` after ``seconds``, having stored ``items``."""
    if (kept := _instruments) is None:
        return
    kept.run_duration.labels(engine=engine, state=state).observe(seconds)
    kept.items_stored.labels(engine=engine).inc(items)


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    """Time one API request by its route template."""
    if (kept := _instruments) is not None:
        kept.api_request_seconds.labels(method=method, route=route, status=str(status)).observe(
            seconds
        )


def stream_opened() -> None:
    if (kept := _instruments) is not None:
        kept.api_streams.inc()


def stream_closed() -> None:
    if (kept := _instruments) is not None:
        kept.api_streams.dec()
