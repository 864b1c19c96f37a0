"""Process-wide Prometheus instruments, counted where the work happens and cheap to update.

The fetcher counts every fetch (``observe_fetch``, called from ``fetch.policy.log_result``);
the jobs helper observes ``JOB_DURATION``; the API observes ``API_REQUEST_SECONDS``. Figures
that live in the database (queue depth, items, workers, breakers) are read at scrape time by
``routes/metrics.py``, so every process's ``/metrics`` shows the same totals for those.

Label values stay bounded: after ``MAX_HOST_LABELS`` distinct hosts, further hosts are
counted as ``"other"`` so a broad crawl cannot blow up the number of series.
"""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram

MAX_HOST_LABELS = 500
OTHER_HOST = "other"

FETCHES = Counter(
    "haystack_fetches",
    "Fetches by host and outcome (HTTP status, or 'error' when no response arrived).",
    ["host", "status"],
)
FETCH_SECONDS = Histogram(
    "haystack_fetch_seconds",
    "Whole-fetch latency, including retries and politeness waits.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
ITEMS_STORED = Counter(
    "haystack_items_stored",
    "Items stored by this process's jobs, by engine.",
    ["engine"],
)
JOB_DURATION = Histogram(
    "haystack_job_duration_seconds",
    "How long API jobs ran, by engine and final state.",
    ["engine", "state"],
    buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0),
)
API_REQUEST_SECONDS = Histogram(
    "haystack_api_request_seconds",
    "API request latency by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
API_STREAMS = Gauge("haystack_api_streams", "Open /api/stream connections.")


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
    outcome = "error" if status is None else str(status)
    FETCHES.labels(host=host_label(host or "unknown"), status=outcome).inc()
    FETCH_SECONDS.labels(outcome="error" if error else "ok").observe(max(seconds, 0.0))
