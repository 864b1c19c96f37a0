"""store.runs: runs are queued, claimed once, renewed, finished, failed, cancelled, listed."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import runs
from haystack_collector.errors import NotFoundError, ValueTooLongError
from haystack_collector.store import runs as run_store
from haystack_collector.store.runs import RunRow
from tests.integration.api.runs_fixtures import Failing, Seeds

LEASE = timedelta(minutes=5)


def queue(db: Database, engine_id: int, n: int = 1, **run: Any) -> list[int]:
    values: dict[str, Any] = {
        "settings": {"count": 2},
        "correlation_id": "cid12345",
        "requested_by": "tester",
    } | run
    return [db.run(run_store.create_run, engine_id=engine_id, **values) for _ in range(n)]


def claim(db: Database, owner: str, limit: int = 10, **options: Any) -> list[RunRow]:
    return db.run(run_store.claim_runs, owner=owner, limit=limit, lease=LEASE, **options)


def test_a_queued_run_keeps_what_was_asked(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    (run_id,) = queue(db, engine_id, action="seed-one")

    run = db.run_read(run_store.get_run, run_id=run_id)

    assert (run.engine_id, run.action, run.settings, run.state) == (
        engine_id,
        "seed-one",
        {"count": 2},
        "queued",
    )
    assert (run.correlation_id, run.requested_by) == ("cid12345", "tester")
    assert (run.started, run.finished, run.claimed_by, run.error) == (None, None, None, None)
    assert (run.items_stored, run.events_enqueued) == (0, 0)


def test_an_unknown_run_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError, match="no run 999999"):
        db.run_read(run_store.get_run, run_id=999_999)


def test_overlong_fields_are_refused_before_the_database(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    with pytest.raises(ValueTooLongError):
        queue(db, engine_id, action="a" * 101)
    with pytest.raises(ValueTooLongError):
        queue(db, engine_id, correlation_id="c" * 65)
    assert db.run_read(run_store.list_runs) == []


def test_claims_take_the_oldest_runs_and_mark_them_running(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    ids = queue(db, engine_id, 3)

    claimed = claim(db, "runner-a", limit=2)

    assert [run.run_id for run in claimed] == ids[:2]
    assert {run.state for run in claimed} == {"running"}
    assert {run.claimed_by for run in claimed} == {"runner-a"}
    assert all(run.started is not None and run.lease_until is not None for run in claimed)
    assert [run.run_id for run in claim(db, "runner-b")] == ids[2:]
    assert claim(db, "runner-c") == []


def test_concurrent_claims_take_each_run_exactly_once(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    ids = queue(db, engine_id, 40)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def runner(name: str) -> None:
        start.wait()
        while got := claim(db, f"runner-{name}", limit=3):
            taken[name] += [run.run_id for run in got]

    threads = [threading.Thread(target=runner, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(taken["a"] + taken["b"]) == ids
    assert not set(taken["a"]) & set(taken["b"])


def test_runs_of_a_disabled_engine_wait_in_the_queue(db: Database) -> None:
    seeds = Seeds.register(db).engine_id
    failing = Failing.register(db).engine_id
    (seed_run,) = queue(db, seeds)
    (failing_run,) = queue(db, failing, settings={})
    db.run(store.set_engine_disabled, engine_id=seeds, disabled=True)

    assert [run.run_id for run in claim(db, "runner")] == [failing_run]
    assert db.run_read(run_store.get_run, run_id=seed_run).state == "queued"

    db.run(store.set_engine_disabled, engine_id=seeds, disabled=False)
    assert [run.run_id for run in claim(db, "runner")] == [seed_run]


def test_claims_can_be_limited_to_the_runners_engines(db: Database) -> None:
    seeds = Seeds.register(db).engine_id
    failing = Failing.register(db).engine_id
    queue(db, seeds)
    (failing_run,) = queue(db, failing, settings={})

    assert claim(db, "runner", engine_ids=[]) == []
    assert [run.run_id for run in claim(db, "runner", engine_ids=[failing])] == [failing_run]


def test_a_running_run_whose_lease_ran_out_is_claimed_again(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    (run_id,) = queue(db, engine_id)
    claim(db, "dead-runner")
    assert claim(db, "other") == []

    with db.transaction() as conn:
        conn.execute(update(runs).values(runLeaseUntil=None))
    (again,) = claim(db, "other")

    assert (again.run_id, again.claimed_by) == (run_id, "other")
    # The dead runner no longer holds it: its outcome would be dropped.
    assert not db.run(
        run_store.finish_run, run_id=run_id, owner="dead-runner", items_stored=1, events_enqueued=0
    )


def test_finishing_records_the_outcome_once(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    (run_id,) = queue(db, engine_id)
    claim(db, "runner")

    assert db.run(
        run_store.finish_run, run_id=run_id, owner="runner", items_stored=3, events_enqueued=2
    )
    assert not db.run(
        run_store.fail_run, run_id=run_id, owner="runner", error="too late", items_stored=0
    )

    run = db.run_read(run_store.get_run, run_id=run_id)
    assert (run.state, run.items_stored, run.events_enqueued, run.error) == ("done", 3, 2, None)
    assert run.finished is not None
    assert run.started is not None
    assert run.finished >= run.started
    assert run.lease_until is None


def test_failing_records_the_error_and_what_was_stored(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    (run_id,) = queue(db, engine_id)
    claim(db, "runner")

    assert db.run(run_store.fail_run, run_id=run_id, owner="runner", error="boom", items_stored=1)

    run = db.run_read(run_store.get_run, run_id=run_id)
    assert (run.state, run.error, run.items_stored) == ("failed", "boom", 1)


def test_renewal_reports_which_runs_are_still_held(db: Database) -> None:
    seeds = Seeds.register(db).engine_id
    failing = Failing.register(db).engine_id
    seed_run, failing_run = queue(db, seeds)[0], queue(db, failing, settings={})[0]
    before = {run.run_id: run.lease_until for run in claim(db, "runner")}
    previous = before[failing_run]

    cancelled = db.run(run_store.cancel_runs, engine_id=seeds)
    held = db.run(
        run_store.renew_runs, owner="runner", run_ids=[seed_run, failing_run], lease=LEASE * 2
    )

    assert cancelled == 1
    assert held == {failing_run}
    renewed = db.run_read(run_store.get_run, run_id=failing_run).lease_until
    assert renewed is not None
    assert previous is not None
    assert renewed > previous
    assert db.run(
        run_store.renew_runs, owner="someone-else", run_ids=[failing_run], lease=LEASE
    ) == (set())


def test_cancelling_an_engine_cancels_its_queued_and_running_runs_only(db: Database) -> None:
    seeds = Seeds.register(db).engine_id
    failing = Failing.register(db).engine_id
    running, queued = queue(db, seeds, 2)
    claim(db, "runner", limit=1)
    (other,) = queue(db, failing, settings={})
    (done,) = queue(db, seeds)
    with db.transaction() as conn:
        conn.execute(update(runs).where(runs.c.runId == done).values(runState="done"))

    assert db.run(run_store.cancel_runs, engine_id=seeds) == 2

    states = {run.run_id: run.state for run in db.run_read(run_store.list_runs)}
    assert states == {running: "cancelled", queued: "cancelled", other: "queued", done: "done"}
    cancelled = db.run_read(run_store.get_run, run_id=running)
    assert cancelled.error == "engine stopped"
    assert cancelled.finished is not None
    # The runner that held it cannot overwrite the cancellation.
    assert not db.run(
        run_store.finish_run, run_id=running, owner="runner", items_stored=1, events_enqueued=0
    )


def test_released_runs_go_back_to_the_queue(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    (run_id,) = queue(db, engine_id)
    claim(db, "runner")

    assert db.run(run_store.release_runs, owner="other", run_ids=[run_id]) == 0
    assert db.run(run_store.release_runs, owner="runner", run_ids=[run_id]) == 1

    run = db.run_read(run_store.get_run, run_id=run_id)
    assert (run.state, run.claimed_by, run.started) == ("queued", None, None)
    assert [run.run_id for run in claim(db, "next")] == [run_id]


def test_listing_is_newest_first_with_filters_and_paging(db: Database) -> None:
    seeds = Seeds.register(db).engine_id
    failing = Failing.register(db).engine_id
    a, b = queue(db, seeds, 2)
    (c,) = queue(db, failing, settings={})
    claim(db, "runner", limit=1)

    def ids(**filters: Any) -> list[int]:
        return [run.run_id for run in db.run_read(run_store.list_runs, **filters)]

    assert ids() == [c, b, a]
    assert ids(limit=2) == [c, b]
    assert ids(before=b) == [a]
    assert ids(engine_id=seeds) == [b, a]
    assert ids(state="running") == [a]
    with pytest.raises(ValueError, match="unknown run state"):
        ids(state="sleeping")


def test_engine_activity_counts_items_events_and_the_last_run(db: Database) -> None:
    engine_id = Seeds.register(db).engine_id
    assert db.run_read(run_store.engine_activity, engine_id=engine_id) == run_store.EngineActivity(
        items=0,
        events={"pending": 0, "claimed": 0, "done": 0, "dead": 0},
        last_run=None,
        last_status=None,
    )
    _first, last = queue(db, engine_id, 2)
    db.run(store.add_status, message="seeded", engine_id=engine_id)
    registered = Seeds.register(db)
    result = db.run(
        store.store_items,
        engine_id=engine_id,
        records=[store.ItemRecord(uri=f"https://activity.test/{i}") for i in range(3)],
    )
    db.run(
        store.enqueue_events,
        events=[
            store.EventSpec(engine_id, registered.action_ids["visit"], item_id)
            for item_id in result.item_ids.values()
        ],
    )

    activity = db.run_read(run_store.engine_activity, engine_id=engine_id)

    assert activity.items == 3
    assert activity.events == {"pending": 3, "claimed": 0, "done": 0, "dead": 0}
    assert activity.last_run is not None
    assert activity.last_run.run_id == last
    assert activity.last_status is not None
    assert activity.last_status.message == "seeded"
