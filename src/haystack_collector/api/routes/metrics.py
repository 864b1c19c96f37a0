"""``GET /metrics``: Prometheus exposition.

This process's instruments (``haystack_collector.metrics``: fetches, latencies, runs, API
requests) plus figures read from the database at scrape time: queue depth by state, items,
workers seen, breaker states (from the workers' heartbeats) and this app's connection pool.
A database that does not answer leaves those out and sets ``haystack_database_up`` to 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from haystack_collector.api.deps import DbDep, ReadAccess
from haystack_collector.api.models import error_responses
from haystack_collector.db import Database
from haystack_collector.errors import HaystackError
from haystack_collector.logs import get_logger
from haystack_collector.store.counts import metrics_snapshot

router = APIRouter(tags=["metrics"], responses=error_responses(401, 429))
log = get_logger("haystack.api.metrics")

BREAKER_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class DatabaseCollector(Collector):
    """Gauges computed from the database each time Prometheus scrapes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        pool = self.db.pool_status()
        for name, value, doc in (
            ("haystack_db_pool_size", pool.size, "Connections the pool keeps."),
            ("haystack_db_pool_checked_out", pool.checked_out, "Connections in use."),
            ("haystack_db_pool_overflow", pool.overflow, "Connections beyond the pool size."),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))
        try:
            snapshot = self.db.run_read(metrics_snapshot)
        except HaystackError as error:
            log.warning("metrics: database figures unavailable: %s", error)
            yield GaugeMetricFamily("haystack_database_up", "Whether the database answered.", 0.0)
            return
        yield GaugeMetricFamily("haystack_database_up", "Whether the database answered.", 1.0)
        queue = GaugeMetricFamily(
            "haystack_queue_events", "Item events by queue state.", labels=["state"]
        )
        for state in ("pending", "claimed", "dead", "done"):
            queue.add_metric([state], float(snapshot.events.get(state, 0)))
        yield queue
        yield GaugeMetricFamily("haystack_items", "Items in the database.", float(snapshot.items))
        yield GaugeMetricFamily(
            "haystack_workers_running",
            "Workers seen in the last minute.",
            float(snapshot.workers_running),
        )
        breaker = GaugeMetricFamily(
            "haystack_breaker_state",
            "Per-host circuit breaker: 0 closed, 1 half open, 2 open.",
            labels=["host"],
        )
        for host, state in sorted(snapshot.breakers.items()):
            breaker.add_metric([host], BREAKER_VALUES.get(state, 0.0))
        yield breaker


def _registry(request: Request, db: Database) -> CollectorRegistry:
    """The app's own registry (one per app, so several apps in one process never clash)."""
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DatabaseCollector(db))
        request.app.state.metrics_registry = registry
    return registry


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def metrics(request: Request, db: DbDep, _principal: ReadAccess) -> Response:
    """Prometheus text exposition of this process and the database."""
    body = generate_latest(REGISTRY) + generate_latest(_registry(request, db))
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
