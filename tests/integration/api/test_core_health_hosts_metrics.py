"""/health, /api/hosts and /metrics over a real crawl's worker heartbeats and queue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from haystack_collector import __version__, metrics, store
from haystack_collector.crawl import CrawlOptions, CrawlResult, crawl_fetch_settings, run_crawl
from haystack_collector.db import Database
from haystack_collector.db.schema import workers
from haystack_collector.engines.web_scraper import WebScraper
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import SqlQueue
from haystack_collector.store import workers as store_workers
from haystack_collector.store._sql import utcnow
from haystack_collector.store.workers import list_workers
from haystack_collector.worker import Worker
from tests.integration.api.core_fixtures import LOOPBACK, REMOTE, client_for, core_app, mint
from tests.integration.crawl.site import Site, serve

FAST = FetchSettings(retry_initial=0.01, retry_maximum=0.02)


@pytest.fixture
def site_url() -> Iterator[str]:
    with serve(Site(pages=8, with_error_page=False)) as url:
        yield url


def crawl(db: Database, base: str) -> CrawlResult:
    options = CrawlOptions(url=base + "/", delay=0.0, max_depth=2, concurrency=2)
    return run_crawl(db, options, crawl_fetch_settings(FAST, options), stats_interval=60, tty=False)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def fetches_of(
    host: str, found: dict[tuple[str, frozenset[tuple[str, str]]], float]
) -> dict[str, float]:
    """haystack_fetches_total of ``host`` by status."""
    return {
        dict(labels)["status"]: value
        for (name, labels), value in found.items()
        if name == "haystack_fetches_total" and ("host", host) in labels
    }


# --- worker heartbeats ---------------------------------------------------------------------


def test_a_worker_records_its_run_and_fetch_state_in_workers(db: Database, site_url: str) -> None:
    result = crawl(db, site_url)

    [row] = db.run_read(list_workers)
    host = site_url.removeprefix("http://")
    assert row.state == "stopped"
    assert row.engines == [WebScraper.name]
    assert row.finished == result.pages > 0
    assert row.failed == 0
    assert row.stats["finished"] == result.pages
    hosts = row.stats["hosts"]
    assert list(hosts) == [host]
    assert hosts[host]["requests"] >= result.pages  # robots.txt is fetched too
    assert hosts[host]["errors"] == 0
    assert hosts[host]["breaker"] == "closed"


async def test_a_running_worker_beats_and_marks_itself_stopped(db: Database) -> None:
    worker = Worker(db, SqlQueue(db), [], idle_sleep=0.02, heartbeat_every=0.05)
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(200):
            await asyncio.sleep(0.02)
            rows = await asyncio.to_thread(db.run_read, list_workers)
            if rows and rows[0].stats:
                break
        [running] = rows
        assert running.owner == worker.owner
        assert running.state == "running"
        assert running.stats["hosts"] == {}
        assert running.seen >= running.started
    finally:
        worker.stop()
        await task
    [stopped] = await asyncio.to_thread(db.run_read, list_workers)
    assert stopped.state == "stopped"
    assert stopped.seen >= running.seen


def test_a_heartbeat_outage_does_not_stop_the_worker(tmp_path: Path) -> None:
    gone = Database(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}")
    worker = Worker(gone, SqlQueue(gone), [], drain=True, idle_sleep=0.01)
    try:
        stats = asyncio.run(worker.run())
    finally:
        gone.dispose()
    assert stats.finished == 0


# --- /health -------------------------------------------------------------------------------


def test_health_reports_database_pool_queue_workers_and_version(
    db: Database, site_url: str
) -> None:
    crawl(db, site_url)
    _, auth = mint(db)
    # Open to every client; the details need read access (here a token from outside loopback).
    with client_for(core_app(db), client=REMOTE) as client:
        answer = client.get("/health", headers=auth)

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["database"]["ok"] is True
    assert body["database"]["dialect"] == db.dialect
    assert set(body["pool"]) == {"size", "checked_in", "checked_out", "overflow"}
    # The crawl's fetches are done events; nothing is left waiting.
    assert body["events"]["done"] > 0
    assert body["events"] | {"done": 0} == {"pending": 0, "claimed": 0, "done": 0, "dead": 0}
    [seen] = body["workers"]
    assert seen["state"] == "stopped"
    assert seen["finished"] > 0


@pytest.mark.parametrize(
    ("read_access", "client", "with_token"),
    [("token", LOOPBACK, False), ("loopback", REMOTE, False), ("token", REMOTE, True)],
)
def test_health_shows_its_details_only_to_clients_that_may_read(
    db: Database, site_url: str, read_access: str, client: tuple[str, int], with_token: bool
) -> None:
    crawl(db, site_url)  # a worker heartbeat: its host and process id
    _, auth = mint(db)
    with client_for(core_app(db, api_read_access=read_access), client=client) as api:
        answer = api.get("/health", headers=auth if with_token else {})
        forged = api.get("/health", headers={"Authorization": "Bearer forged"})

    assert answer.status_code == 200
    assert forged.status_code == 200  # a health check is never refused
    assert forged.json() == {
        "status": "ok",
        "version": __version__,
        "database": None,
        "pool": None,
        "events": None,
        "workers": [],
    }
    body = answer.json()
    if with_token:
        [seen] = body["workers"]
        assert seen["host"]
        assert seen["pid"]
    else:
        assert body == forged.json()


def test_health_counts_pending_claimed_done_and_dead_events(db: Database) -> None:
    engine_id = db.run(store.register_engine, name="health-test", version="1")
    action_id = db.run(store.register_action, name="health-act")
    uris = [f"https://health.test/{n}" for n in range(4)]
    ids = [db.run(store.get_or_create_item, uri=uri, engine_id=engine_id).item_id for uri in uris]
    for item_id in ids:
        db.run(store.enqueue_event, engine_id=engine_id, action_id=action_id, item_id=item_id)
    queue = SqlQueue(db)
    [claimed] = queue.claim(owner="t", limit=1, engine_id=engine_id)
    [dying] = queue.claim(owner="t", limit=1, engine_id=engine_id)
    db.run(store.fail_claimed, event_id=dying.event_id, error="boom", run_after=None, dead=True)
    [finishing] = queue.claim(owner="t", limit=1, engine_id=engine_id)
    db.run(store.finish_claimed, event_ids=[finishing.event_id])

    with client_for(core_app(db)) as client:
        events = client.get("/health").json()["events"]
        queue_counts = client.get("/api/events").json()["counts"]
    assert events == {"pending": 1, "claimed": 1, "done": 1, "dead": 1}
    assert queue_counts == events  # one model of the queue's counts, whichever route shows it
    assert claimed.event_id != dying.event_id


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/no/such/dir/db.sqlite", "mysql+pymysql://root@127.0.0.1:1/haystack"],
)
def test_health_is_503_json_when_the_database_is_unreachable(tmp_path: Path, url: str) -> None:
    dead = Database(url.format(tmp=tmp_path), connect_timeout=2)
    try:
        with client_for(core_app(dead)) as client:
            answer = client.get("/health")
    finally:
        dead.dispose()

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    body = answer.json()
    assert body["status"] == "down"
    assert body["database"]["ok"] is False
    assert body["database"]["error"]
    assert body["events"] is None
    assert body["workers"] == []


# --- /api/hosts ----------------------------------------------------------------------------


def test_hosts_merge_the_workers_fetch_state(db: Database, site_url: str) -> None:
    result = crawl(db, site_url)
    host = site_url.removeprefix("http://")
    with client_for(core_app(db)) as client:
        listed = client.get("/api/hosts").json()["hosts"]
        open_only = client.get("/api/hosts?breaker=open").json()["hosts"]
        bad = client.get("/api/hosts?breaker=ajar")

    [entry] = listed
    assert entry["host"] == host
    assert entry["requests"] >= result.pages
    assert entry["errors"] == 0
    assert entry["breaker"] == "closed"
    assert entry["in_flight"] == 0
    assert entry["avg_latency"] is not None
    assert entry["avg_latency"] > 0
    assert open_only == []
    assert bad.status_code == 422


def test_hosts_add_up_over_workers_and_ignore_old_ones(db: Database) -> None:
    for owner, requests, breaker in (("a:1:x", 3, "closed"), ("b:2:y", 5, "open")):
        db.run(store_workers.register_worker, owner=owner)
        db.run(
            store_workers.heartbeat_worker,
            owner=owner,
            finished=0,
            failed=0,
            stats={"hosts": {"h.test": {"requests": requests, "errors": 1, "breaker": breaker}}},
        )
    db.run(store_workers.register_worker, owner="old:3:z")
    db.run(
        store_workers.heartbeat_worker,
        owner="old:3:z",
        finished=0,
        failed=0,
        stats={"hosts": {"gone.test": {"requests": 9}}},
    )
    with db.transaction() as conn:
        conn.execute(
            workers.update()
            .where(workers.c.workerOwner == "old:3:z")
            .values(workerSeen=utcnow() - store_workers.RECENTLY * 2)
        )
        assert conn.execute(select(workers.c.workerOwner)).scalars().all()

    with client_for(core_app(db)) as client:
        [entry] = client.get("/api/hosts").json()["hosts"]
    assert (entry["host"], entry["requests"], entry["errors"]) == ("h.test", 8, 2)
    assert entry["breaker"] == "open"  # the strictest any worker saw


def test_hosts_need_a_token_off_loopback(db: Database) -> None:
    _, auth = mint(db)
    with client_for(core_app(db), client=REMOTE) as client:
        assert client.get("/api/hosts").status_code == 401
        assert client.get("/api/hosts", headers=auth).status_code == 200


# --- /metrics ------------------------------------------------------------------------------


def test_metrics_parse_and_count_fetches_queue_pool_and_breakers(
    db: Database, site_url: str
) -> None:
    host = site_url.removeprefix("http://")
    with client_for(core_app(db)) as client:
        before = fetches_of(host, samples(client.get("/metrics").text))
        result = crawl(db, site_url)
        client.get("/health")
        answer = client.get("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    after = fetches_of(host, found)
    fetched = {status: after[status] - before.get(status, 0) for status in after}
    assert sum(fetched.values()) == result.pages  # one fetch per page, redirects included
    # /missing, /p/8 and /p/9: the home page links ten pages, this site has eight.
    assert fetched["404"] == 3
    assert fetched["error"] == 1  # /private/secret, refused by robots.txt before any request
    assert fetched["200"] == result.pages - 4
    assert found["haystack_database_up", frozenset()] == 1.0
    assert found["haystack_queue_events", frozenset({("state", "done")})] == result.pages
    assert found["haystack_queue_events", frozenset({("state", "pending")})] == 0
    assert found["haystack_items", frozenset()] >= result.pages
    assert found["haystack_breaker_state", frozenset({("host", host)})] == 0.0
    assert ("haystack_db_pool_checked_out", frozenset()) in found
    assert ("haystack_db_pool_overflow", frozenset()) in found
    assert ("haystack_fetch_seconds_count", frozenset({("outcome", "ok")})) in found
    health = frozenset({("method", "GET"), ("route", "/health"), ("status", "200")})
    assert found["haystack_api_request_seconds_count", health] >= 1


def test_metrics_without_a_database_say_so(tmp_path: Path) -> None:
    dead = Database(f"sqlite:///{tmp_path / 'no' / 'db.sqlite'}")
    try:
        with client_for(core_app(dead, api_read_access="open")) as client:
            answer = client.get("/metrics")
    finally:
        dead.dispose()
    assert answer.status_code == 200
    found = samples(answer.text)
    assert found["haystack_database_up", frozenset()] == 0.0
    assert ("haystack_queue_events", frozenset({("state", "pending")})) not in found


def test_run_durations_are_exposed_for_the_run_executor(db: Database) -> None:
    with client_for(core_app(db)) as client:  # an app: this process now keeps the counters
        metrics.observe_run(engine="metrics-test", state="done", seconds=2.0, items=0)
        found = samples(client.get("/metrics").text)
    labels = frozenset({("engine", "metrics-test"), ("state", "done")})
    assert found["haystack_run_duration_seconds_count", labels] >= 1
    assert found["haystack_run_duration_seconds_sum", labels] >= 2.0
