"""Watches notify for real: a local webhook (Apprise json://) and a local SMTP server (aiosmtpd).

Items are stored as the engines store them; the notifier evaluates, records and delivers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_visits
from haystack_collector.engines.registry import all_engines
from haystack_collector.errors import ConfigError
from haystack_collector.runtime import Runtime
from haystack_collector.settings import Settings
from haystack_collector.store import admin, versions
from haystack_collector.store import watches as watch_store
from haystack_collector.store.item_state import set_states
from haystack_collector.watch import evaluate
from haystack_collector.watch.evaluate import evaluate_watches
from haystack_collector.watch.manage import create_watch, send_sample
from haystack_collector.watch.notifier import Notifier, notifier_from_settings
from tests.factories import make_engine
from tests.integration.watch.receivers import Mailbox, Webhook, smtp_server, text_of, webhook


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook() as receiver:
        yield receiver


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def settings(**values: Any) -> Settings:
    # Rows are read the moment they are written (the settle time has its own test).
    values.setdefault("notify_settle", 0)
    return Settings(_env_file=None, database_url="sqlite://", **values)  # type: ignore[call-arg]


def add_items(
    db: Database, engine: str, count: int, *, prefix: str = "https://jobs.test/p", **data: Any
) -> list[int]:
    """``count`` fetched items of engine ``engine``, titled "Item N", with ``data``."""
    engine_id = db.run(lambda conn: make_engine(conn, name=engine).engine_id)
    return db.run(lambda conn: add_items_on(conn, engine_id, count, prefix=prefix, **data))


def add_items_on(
    conn: Any, engine_id: int, count: int, *, prefix: str = "https://jobs.test/p", **data: Any
) -> list[int]:
    """``add_items`` in the caller's transaction, for an engine already registered."""
    ids = []
    for number in range(count):
        ref = store.get_or_create_item(conn, uri=f"{prefix}/{number}", engine_id=engine_id)
        if "JobTitle" not in data:
            store.set_item_data(conn, item_id=ref.item_id, key="Title", value=f"Item {number}")
        for key, value in data.items():
            store.set_item_data(conn, item_id=ref.item_id, key=key, value=value)
        ids.append(ref.item_id)
    set_states(conn, dict.fromkeys(ids, "fetched"))
    return ids


def test_two_hundred_new_items_make_one_digest_at_the_webhook_and_one_mail(
    db: Database, hook: Webhook, mailbox: Mailbox
) -> None:
    add_items(db, "boards", 1, prefix="https://old.test/p")  # before the watch: not told
    create_watch(
        db,
        name="boards",
        filter={"engine": "boards"},
        events=["new"],
        channels_=[hook.url(), mailbox.url()],
    )
    add_items(db, "boards", 200, prefix="https://new.test/p", JobLocation="Berlin")
    add_items(db, "elsewhere", 3, prefix="https://other.test/p")  # another engine: not told
    notifier = notifier_from_settings(db, settings())

    done = notifier.run_once()

    assert done.delivery.sent == 200
    assert done.delivery.digests == 2
    [post] = hook.posts
    assert post["path"] == "/hook"
    payload = post["json"]
    assert payload["title"] == "[haystack] boards: 200 new"
    assert payload["type"] == "info"
    lines = payload["message"].splitlines()
    assert lines[:4] == ["NEW: Item 0", "  https://new.test/p/0", "  JobLocation: Berlin", ""]
    assert lines[-1] == "... and 150 more."
    assert sum(line.startswith("NEW: ") for line in lines) == 50
    assert "other.test" not in payload["message"]
    assert "old.test" not in payload["message"]
    [mail] = mailbox.messages
    assert mail["Subject"] == "[haystack] boards: 200 new"
    assert mail["To"] == "me@example.com"
    assert text_of(mail).replace("\r\n", "\n").strip() == payload["message"].strip()

    # Nothing new: nothing sent; every row is sent once.
    assert notifier.run_once().delivery.sent == 0
    assert len(hook.posts) == 1
    assert len(mailbox.messages) == 1
    rows = db.run_read(watch_store.list_notifications, status=["sent"], limit=500)
    assert len(rows) == 200
    assert {row.channels_done == [0, 1] for row in rows} == {True}


def test_a_notification_is_sent_once_across_a_restart(db: Database, hook: Webhook) -> None:
    create_watch(db, name="once", filter={"engine": "once"}, events=["new"], channels_=[hook.url()])
    add_items(db, "once", 3)
    # The first runtime's notifier records the notifications and stops before sending.
    first = notifier_from_settings(db, settings())
    assert [each.recorded for each in evaluate_watches(db, settle=timedelta(0))] == [3]
    del first
    # A new one sends them, once; a third sends nothing.
    second = notifier_from_settings(db, settings())
    assert second.run_once().delivery.sent == 3
    third = notifier_from_settings(db, settings())
    assert third.run_once().delivery.sent == 0
    assert len(hook.posts) == 1
    # Recording again adds nothing: the outbox is unique per (watch, item, event, version).
    watch = db.run_read(watch_store.get_watch, name="once")
    rows = db.run_read(watch_store.list_notifications, watch_id=watch.watch_id)
    again = [watch_store.NewNotification(watch.watch_id, row.item_id, "new", 1, {}) for row in rows]
    assert db.run(watch_store.record_notifications, again) == 0


def test_a_notification_whose_sender_died_mid_send_is_marked_uncertain_not_sent_again(
    db: Database, hook: Webhook
) -> None:
    create_watch(db, name="died", filter={"engine": "died"}, events=["new"], channels_=[hook.url()])
    add_items(db, "died", 2)
    evaluate_watches(db, settle=timedelta(0))
    watch = db.run_read(watch_store.get_watch, name="died")
    start = datetime.now(UTC)
    # A worker claims them (committed) and dies before it settles them.
    claimed = db.run(
        watch_store.claim_notifications,
        watch_id=watch.watch_id,
        owner="worker-that-died",
        now=start,
        limit=10,
    )
    assert len(claimed) == 2
    restarted = notifier_from_settings(db, settings(notify_lease=60))
    # Within the lease it may still be sending: left alone.
    assert restarted.run_once(now=start + timedelta(seconds=30)).delivery.uncertain == 0
    later = restarted.run_once(now=start + timedelta(seconds=61))
    assert later.delivery.uncertain == 2
    assert later.delivery.sent == 0
    assert hook.posts == []
    rows = db.run_read(watch_store.list_notifications, status=["uncertain"])
    assert len(rows) == 2
    assert "may or may not have arrived" in (rows[0].error or "")
    # A person may send one again.
    db.run(watch_store.requeue_notification, notification_id=rows[0].notification_id)
    assert restarted.run_once(now=start + timedelta(seconds=62)).delivery.sent == 1
    assert len(hook.posts) == 1


def test_failures_are_retried_with_backoff_then_failed(db: Database, hook: Webhook) -> None:
    hook.status = 500
    create_watch(db, name="down", filter={"engine": "down"}, events=["new"], channels_=[hook.url()])
    add_items(db, "down", 1)
    notifier = notifier_from_settings(db, settings(notify_max_attempts=3, notify_backoff=10))
    start = datetime.now(UTC)

    first = notifier.run_once(now=start)
    assert (first.delivery.sent, first.delivery.retried) == (0, 1)
    [row] = db.run_read(watch_store.list_notifications)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt == start + timedelta(seconds=10)
    assert "500" in (row.error or "")
    assert notifier.run_once(now=start + timedelta(seconds=9)).delivery.retried == 0  # not yet
    assert len(hook.posts) == 1
    assert notifier.run_once(now=start + timedelta(seconds=10)).delivery.retried == 1
    [row] = db.run_read(watch_store.list_notifications)
    assert row.next_attempt == start + timedelta(seconds=30)  # 10, then 20 more
    last = notifier.run_once(now=start + timedelta(seconds=30))
    assert last.delivery.failed == 1
    assert len(hook.posts) == 3
    [row] = db.run_read(watch_store.list_notifications, status=["failed"])
    assert row.attempts == 3
    assert notifier.run_once(now=start + timedelta(hours=5)).delivery.failed == 0
    assert len(hook.posts) == 3


def test_a_retry_goes_only_to_the_channel_that_failed(db: Database, hook: Webhook) -> None:
    with webhook() as broken:
        broken.status = 500
        create_watch(
            db,
            name="two",
            filter={"engine": "two"},
            events=["new"],
            channels_=[hook.url(), broken.url()],
        )
        add_items(db, "two", 2)
        notifier = notifier_from_settings(db, settings(notify_backoff=0))
        start = datetime.now(UTC)
        assert notifier.run_once(now=start).delivery.retried == 2
        broken.status = 200
        assert notifier.run_once(now=start + timedelta(seconds=1)).delivery.sent == 2
        assert len(hook.posts) == 1
        assert [post["status"] for post in broken.posts] == [500, 200]


def test_channel_secrets_stay_out_of_logs_errors_and_views(
    db: Database, hook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    hook.status = 500
    secret_url = hook.url().replace("json://", "json://alice:s3cr3t-pass@")
    create_watch(
        db, name="secret", filter={"engine": "secret"}, events=["new"], channels_=[secret_url]
    )
    add_items(db, "secret", 1)
    with caplog.at_level(logging.DEBUG):
        notifier_from_settings(db, settings()).run_once()
    assert hook.posts  # it was tried
    assert "s3cr3t-pass" not in caplog.text
    [row] = db.run_read(watch_store.list_notifications)
    assert row.error is not None
    assert "s3cr3t-pass" not in row.error
    watch = db.run_read(watch_store.get_watch, name="secret")
    [(shown, error)] = send_sample(watch)
    assert "s3cr3t-pass" not in shown
    assert "s3cr3t-pass" not in (error or "")
    with pytest.raises(ConfigError) as refused:
        create_watch(
            db,
            name="bad",
            filter={},
            events=["new"],
            channels_=["nosuchservice://bob:hunter2secret@example.com/x"],
        )
    assert "hunter2secret" not in str(refused.value)


def test_the_digest_interval_holds_digests_back(db: Database, hook: Webhook) -> None:
    create_watch(
        db, name="hourly", filter={"engine": "hourly"}, events=["new"], channels_=[hook.url()]
    )
    notifier = notifier_from_settings(db, settings(notify_digest_interval=3600))
    add_items(db, "hourly", 1, prefix="https://a.test/p")
    start = datetime.now(UTC)
    assert notifier.run_once(now=start).delivery.sent == 1
    add_items(db, "hourly", 2, prefix="https://b.test/p")
    assert notifier.run_once(now=start + timedelta(minutes=10)).delivery.sent == 0
    add_items(db, "hourly", 1, prefix="https://c.test/p")
    held = notifier.run_once(now=start + timedelta(hours=1))
    assert held.delivery.sent == 3
    assert [post["json"]["title"] for post in hook.posts] == [
        "[haystack] hourly: 1 new",
        "[haystack] hourly: 3 new",
    ]


def test_a_posting_watch_matches_posting_fields_once_per_posting(
    db: Database, hook: Webhook
) -> None:
    create_watch(
        db,
        name="python jobs",
        filter={"keyword": "python", "location": "berlin", "min_compensation": 60000},
        events=["new"],
        channels_=[hook.url()],
    )
    common = {"JobFingerprint": "fp-1", "JobLocation": "Berlin, DE"}
    add_items(
        db,
        "cl",
        1,
        prefix="https://cl.test/a",
        JobTitle="Python developer",
        JobCompensation="$70k - $90k",
        JobSource="craigslist",
        **common,
    )
    # The same posting from another board: told once.
    add_items(
        db,
        "sites",
        1,
        prefix="https://board.test/b",
        JobTitle="Python developer",
        JobCompensation="$70,000",
        JobSource="board",
        **common,
    )
    add_items(
        db,
        "cl",
        1,
        prefix="https://cl.test/low",
        JobTitle="Python intern",
        JobCompensation="$20k",
        JobSource="craigslist",
        JobFingerprint="fp-2",
        JobLocation="Berlin",
    )
    add_items(
        db,
        "cl",
        1,
        prefix="https://cl.test/far",
        JobTitle="Python lead",
        JobCompensation="$120k",
        JobSource="craigslist",
        JobFingerprint="fp-3",
        JobLocation="Paris",
    )
    add_items(
        db,
        "cl",
        1,
        prefix="https://cl.test/go",
        JobTitle="Go developer",
        JobCompensation="$120k",
        JobSource="craigslist",
        JobFingerprint="fp-4",
        JobLocation="Berlin",
    )
    notifier_from_settings(db, settings()).run_once()
    [post] = hook.posts
    assert post["json"]["title"] == "[haystack] python jobs: 1 new"
    message = post["json"]["message"]
    assert message.startswith("NEW: Python developer\n  https://cl.test/a/0\n")
    assert "  JobCompensation: $70k - $90k" in message
    assert "board.test" not in message


def test_a_watch_on_a_site_or_a_url_prefix(db: Database, hook: Webhook) -> None:
    create_watch(
        db, name="site", filter={"site": "docs.test"}, events=["new"], channels_=[hook.url()]
    )
    create_watch(
        db,
        name="prefix",
        filter={"url_prefix": "https://docs.test/guide_1/"},
        events=["new"],
        channels_=[hook.url("/prefix")],
    )
    add_items(db, "pages", 2, prefix="https://docs.test/guide_1")
    add_items(db, "pages", 1, prefix="https://docs.test/guidex1")  # "_" is no wildcard
    add_items(db, "pages", 1, prefix="https://docs.test.evil/x")  # not the site
    notifier_from_settings(db, settings()).run_once()
    titles = {post["path"]: post["json"]["title"] for post in hook.posts}
    assert titles == {
        "/hook": "[haystack] site: 3 new",
        "/prefix": "[haystack] prefix: 2 new",
    }


def test_a_bad_watch_is_refused_with_a_clear_error(db: Database, hook: Webhook) -> None:
    cases = [
        ({"filter": {"colour": "red"}}, "filter: unknown field(s) colour"),
        ({"events": ["born"]}, "events: born is not one of new, changed, gone"),
        ({"events": []}, "events: give one or more of new, changed, gone"),
        ({"channels_": []}, "channels: give at least one Apprise URL"),
        ({"filter": {"value": "x"}}, "filter.value: give the data key it belongs to"),
        ({"filter": {"state": ["lost"]}}, "filter.state: lost is not one of"),
        ({"volatile": {"ignore": ["("]}}, "volatile.ignore: invalid pattern '('"),
        ({"volatile": {"ignore": ["(a+)+"]}}, "can take exponential time"),
        ({"volatile": {"hide": ["x"]}}, "volatile.hide: Extra inputs are not permitted"),
    ]
    for change, message in cases:
        given: dict[str, Any] = {
            "name": "bad",
            "filter": {},
            "events": ["new"],
            "channels_": [hook.url()],
            **change,
        }
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            create_watch(db, **given)
    create_watch(db, name="taken", filter={}, events=["new"], channels_=[hook.url()])
    with pytest.raises(ConfigError, match="a watch named 'taken' exists already"):
        create_watch(db, name="taken", filter={}, events=["new"], channels_=[hook.url()])


def test_the_notify_every_setting_builds_or_leaves_out_the_notifier(db: Database) -> None:
    built = Runtime.from_settings(settings(notify_every=5), db=db, engines=all_engines()[:1])
    assert isinstance(built.notifier, Notifier)
    assert built.notifier.every == 5
    off = Runtime.from_settings(settings(notify_every=0), db=db, engines=all_engines()[:1])
    assert off.notifier is None
    assert "notifier" not in off.parts_built()


def test_a_change_is_told_with_its_diff_and_a_volatile_change_is_not(
    db: Database, hook: Webhook
) -> None:
    [item_id] = add_items(db, "prices", 1, Price="10", Note="Updated 10:00")
    create_watch(
        db,
        name="prices",
        filter={"engine": "prices"},
        events=["changed"],
        channels_=[hook.url()],
        volatile={"ignore": [r"Updated \d+:\d+"]},
    )
    notifier = notifier_from_settings(db, settings())
    # Only the footer-like note changes: a version is kept, but this watch ignores it.
    db.run(store.set_item_data, item_id=item_id, key="Note", value="Updated 11:00")
    assert notifier.run_once().delivery.sent == 0
    assert hook.posts == []
    # The price changes: told once, with the diff, at the item's new version.
    db.run(store.set_item_data, item_id=item_id, key="Price", value="12")
    assert notifier.run_once().delivery.sent == 1
    [post] = hook.posts
    assert post["json"]["title"] == "[haystack] prices: 1 changed"
    assert post["json"]["message"].splitlines() == [
        "CHANGED: Item 0",
        "  https://jobs.test/p/0",
        "  - Price: 10",
        "  + Price: 12",
    ]
    [row] = db.run_read(watch_store.list_notifications, status=["sent"])
    assert (row.event, row.version) == (
        "changed",
        db.run_read(versions.current_version, item_id=item_id),
    )
    assert notifier.run_once().delivery.sent == 0


def test_a_gone_item_is_told_once(db: Database, hook: Webhook) -> None:
    [item_id] = add_items(db, "gone", 1)
    create_watch(
        db, name="gone", filter={"engine": "gone"}, events=["gone"], channels_=[hook.url()]
    )
    visit = {
        "itemId": item_id,
        "visitDate": datetime.now(UTC).replace(tzinfo=None),
        "visitOutcome": "gone",
        "visitStatus": 404,
    }
    with db.transaction() as conn:
        conn.execute(item_visits.insert(), [visit, {**visit, "visitOutcome": "unchanged"}])
        conn.execute(item_visits.insert(), [visit])  # found gone again: the same version
    notifier = notifier_from_settings(db, settings())
    assert notifier.run_once().delivery.sent == 1
    assert hook.posts[0]["json"]["title"] == "[haystack] gone: 1 gone"
    assert hook.posts[0]["json"]["message"].startswith("GONE: Item 0\n")
    assert notifier.run_once().delivery.sent == 0


async def test_the_notifier_runs_as_a_task_of_a_shared_loop_until_stopped(
    sqlite_db: Database, hook: Webhook
) -> None:
    create_watch(
        sqlite_db,
        name="served",
        filter={"engine": "served"},
        events=["new"],
        channels_=[hook.url()],
    )
    add_items(sqlite_db, "served", 2)
    notifier = notifier_from_settings(sqlite_db, settings(notify_every=0.2))
    task = asyncio.create_task(notifier.run())
    for _ in range(100):
        if hook.posts:
            break
        await asyncio.sleep(0.05)
    assert [post["json"]["title"] for post in hook.posts] == ["[haystack] served: 2 new"]
    notifier.stop()
    await asyncio.wait_for(task, timeout=2)
    assert len(hook.posts) == 1


def test_new_means_fetched_unless_the_filter_names_states(db: Database, hook: Webhook) -> None:
    create_watch(
        db, name="fetched", filter={"engine": "states"}, events=["new"], channels_=[hook.url()]
    )
    create_watch(
        db,
        name="failures",
        filter={"engine": "states", "state": ["failed"]},
        events=["new"],
        channels_=[hook.url("/failures")],
    )
    [good] = add_items(db, "states", 1, prefix="https://ok.test/p")
    [bad] = add_items(db, "states", 1, prefix="https://broken.test/p")
    db.run(set_states, {bad: "failed"})
    notifier_from_settings(db, settings()).run_once()
    told = {post["path"]: post["json"]["message"].splitlines()[1] for post in hook.posts}
    assert told == {"/hook": "  https://ok.test/p/0", "/failures": "  https://broken.test/p/0"}
    assert good != bad


def test_rows_wait_out_the_settle_time_so_a_late_commit_is_never_passed(
    db: Database, hook: Webhook
) -> None:
    create_watch(db, name="late", filter={"engine": "late"}, events=["new"], channels_=[hook.url()])
    notifier = notifier_from_settings(db, settings(notify_settle=30))
    engine_id = db.run(lambda conn: make_engine(conn, name="late").engine_id)
    late_ids: list[int] = []
    if db.dialect == "sqlite":
        # One writer at a time: ids are handed out in commit order, so only the wait shows.
        add_items(db, "late", 1)
    else:
        # A transaction takes an id and commits after another one, with a higher id, did.
        with db.transaction() as slow:
            # Only the item row, which locks nothing the other transaction writes.
            late = store.get_or_create_item(slow, uri="https://late.test/p/0", engine_id=engine_id)
            set_states(slow, {late.item_id: "fetched"})
            late_ids = [late.item_id]
            [other] = add_items(db, "late", 1)
            assert late.item_id < other  # committed later with the lower id
            # Both are younger than the settle time: nothing is read and the mark stays.
            assert notifier.run_once().delivery.sent == 0
            assert db.run_read(watch_store.get_watch, name="late").last_item_id == 0
    assert notifier.run_once().delivery.sent == 0  # still settling
    later = datetime.now(UTC) + timedelta(seconds=31)
    assert notifier.run_once(now=later).delivery.sent == (1 if db.dialect == "sqlite" else 2)
    [post] = hook.posts
    if late_ids:  # the item committed late is told, with the other
        assert "https://late.test/p/0" in post["json"]["message"]
        assert "https://jobs.test/p/0" in post["json"]["message"]
    assert db.run_read(watch_store.get_watch, name="late").last_item_id > 0


def test_more_new_items_than_one_evaluation_reads_are_all_told_across_id_gaps(
    db: Database, hook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evaluate, "MAX_PER_EVALUATION", 5)
    create_watch(db, name="many", filter={"engine": "many"}, events=["new"], channels_=[hook.url()])
    # A gap in the ids (deleted items: a database may also skip ids of rolled-back inserts).
    gone = add_items(db, "other", 7, prefix="https://gap.test/p")
    with db.transaction() as conn:
        for item_id in gone:
            admin.delete_record(conn, table="Items", record_id=item_id)
    wanted = add_items(db, "many", 6, prefix="https://a.test/p")
    wanted += add_items(db, "many", 6, prefix="https://b.test/p")

    recorded = [evaluate_watches(db, settle=timedelta(0))[0].recorded for _ in range(4)]

    assert recorded == [5, 5, 2, 0]  # five at a time, oldest first, none skipped
    rows = db.run_read(watch_store.list_notifications, status=["pending"], limit=50)
    assert sorted(row.item_id for row in rows) == sorted(wanted)
