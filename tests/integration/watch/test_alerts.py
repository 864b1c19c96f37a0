"""System alerts through the alert watches' channels, and straight away when the database is
unreachable."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.settings import Settings
from haystack_collector.store import events, workers
from haystack_collector.store import runs as run_store
from haystack_collector.watch.alerts import Alerts
from haystack_collector.watch.manage import create_watch
from haystack_collector.watch.notifier import notifier_from_settings
from tests.factories import make_engine
from tests.integration.watch.receivers import Webhook, webhook


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook() as receiver:
        yield receiver


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, database_url="sqlite://", **values)  # type: ignore[call-arg]


def test_a_failed_run_and_dead_events_alert_the_alert_watches(db: Database, hook: Webhook) -> None:
    create_watch(db, name="ops", filter={}, events=["gone"], channels_=[hook.url()], alerts=True)
    with webhook() as quiet:
        create_watch(db, name="quiet", filter={}, events=["gone"], channels_=[quiet.url()])

        def failures(conn: Any) -> None:
            engine = make_engine(conn, name="flaky")
            run = run_store.create_run(
                conn,
                engine_id=engine.engine_id,
                settings={},
                correlation_id=None,
                requested_by="test",
            )
            run_store.claim_runs(
                conn,
                owner="w1",
                engine_ids=[engine.engine_id],
                limit=1,
                lease=timedelta(seconds=60),
            )
            run_store.fail_run(conn, run_id=run, owner="w1", error="ConnectionError: refused")
            item = store.get_or_create_item(
                conn, uri="https://flaky.test/x", engine_id=engine.engine_id
            )
            store.enqueue_event(
                conn, engine_id=engine.engine_id, action_id=engine.action_id, item_id=item.item_id
            )

        db.run(failures)
        [event] = db.run_read(events.list_events, state="pending", limit=10)
        db.run(
            events.fail_claimed,
            event_id=event.event_id,
            error="HTTP 500",
            run_after=None,
            dead=True,
        )
        notifier = notifier_from_settings(db, settings())
        done = notifier.run_once()
        assert done.alerts == 2
        assert quiet.posts == []
    [post] = hook.posts
    assert post["json"]["title"] == "[haystack] ops: 2 alerts"
    message = post["json"]["message"]
    assert "ALERT: engine run " in message
    assert "flaky: ConnectionError: refused" in message
    assert "ALERT: flaky/extractor went dead\n  https://flaky.test/x: HTTP 500" in message
    assert notifier.run_once().alerts == 0  # told once
    assert len(hook.posts) == 1


def test_a_breaker_open_past_the_threshold_alerts_once(db: Database, hook: Webhook) -> None:
    create_watch(db, name="ops", filter={}, events=["gone"], channels_=[hook.url()], alerts=True)
    ticks = iter([0.0, 100.0, 700.0, 800.0])
    alerts = Alerts(breaker_after=600, clock=lambda: next(ticks))
    now = datetime.now(UTC)
    hosts = {"slow.test": {"breaker": "open"}, "fine.test": {"breaker": "closed"}}
    assert alerts._breakers(hosts, now) == []
    assert alerts._breakers(hosts, now) == []  # open 100 s
    [(event, _key, source)] = alerts._breakers(hosts, now)  # open 700 s
    assert event == "alert:breaker"
    assert source.title == "the circuit breaker of slow.test stayed open"
    assert alerts._breakers({}, now) == []  # closed again: forgotten


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_database_is_alerted_directly_and_rate_limited(hook: Webhook) -> None:
    # A database nobody serves: every connection is refused.
    unreachable = Database(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/haystack", connect_timeout=2
    )
    try:
        notifier = notifier_from_settings(
            unreachable,
            settings(
                notify_alert_channels=[hook.url("/alerts")],
                notify_db_alert_every=3600,
            ),
        )
        first = notifier.run_once()
        assert first.database_down
        [post] = hook.posts
        assert post["path"] == "/alerts"
        assert post["json"]["title"] == "[haystack] alert: the database is unreachable"
        assert "could not reach its database" in post["json"]["message"]
        assert notifier.run_once().database_down
        assert len(hook.posts) == 1  # once an hour at most
        every_time = notifier_from_settings(
            unreachable,
            settings(notify_alert_channels=[hook.url("/alerts")], notify_db_alert_every=0),
        )
        every_time.run_once()
        every_time.run_once()
        assert len(hook.posts) == 3
    finally:
        unreachable.dispose()


def test_the_database_alert_also_reaches_the_alert_watches_last_read(
    db: Database, hook: Webhook
) -> None:
    create_watch(db, name="ops", filter={}, events=["gone"], channels_=[hook.url()], alerts=True)
    notifier = notifier_from_settings(db, settings())
    notifier.run_once()  # reads the alert watches while the database is there
    assert notifier.alerts.database_down("OperationalError: connection refused")
    [post] = hook.posts
    assert post["json"]["title"] == "[haystack] alert: the database is unreachable"


@pytest.mark.parametrize(("after", "told"), [(0.0, 1), (600.0, 0)])
def test_the_breaker_alert_threshold_setting(
    db: Database, hook: Webhook, after: float, told: int
) -> None:
    create_watch(db, name="ops", filter={}, events=["gone"], channels_=[hook.url()], alerts=True)
    # A worker's heartbeat says slow.test's breaker is open.
    db.run(workers.register_worker, owner="w-breaker")
    db.run(
        workers.heartbeat_worker,
        owner="w-breaker",
        finished=0,
        failed=0,
        stats={"hosts": {"slow.test": {"breaker": "open", "requests": 3, "errors": 3}}},
    )
    notifier = notifier_from_settings(db, settings(notify_breaker_alert_after=after))
    assert notifier.run_once().alerts == told
    assert len(hook.posts) == told
    if told:
        assert hook.posts[0]["json"]["message"].startswith(
            "ALERT: the circuit breaker of slow.test stayed open\n  slow.test: open for 0 min"
        )
