"""/api/engines: the engines list, start (validated, SSRF-checked), stop, enable, disable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.scheduler import schedule_engine
from haystack_collector.store import runs as run_store
from tests.integration.api.runs_fixtures import (
    PUBLIC_URL,
    TOKEN_NAME,
    Api,
    Seeds,
    Slow,
    api_for,
    installed_engines,
)


@pytest.fixture
def api(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with installed_engines(monkeypatch), api_for(db) as api:
        yield api


def runs_of(db: Database, name: str) -> list[run_store.RunRow]:
    engine_id = db.run_read(store.get_engine_id, name=name)
    if engine_id is None:
        return []
    return db.run_read(run_store.list_runs, engine_id=engine_id)


# --- listing -------------------------------------------------------------------------------


def test_every_registered_engine_is_listed_with_actions_and_settings_schema(api: Api) -> None:
    answer = api.client.get("/api/engines")

    assert answer.status_code == 200
    engines = {engine["name"]: engine for engine in answer.json()["engines"]}
    assert set(engines) == {"webScraper", "runs-test-seeds", "runs-test-slow", "runs-test-failing"}
    seeds = engines["runs-test-seeds"]
    assert seeds["description"] == "Seeds items for the runs API tests"
    assert seeds["actions"] == [
        {"name": "seed-many", "kind": "start", "description": "Store count items and queue them"},
        {"name": "seed-one", "kind": "start", "description": "Store one item"},
        {"name": "visit", "kind": "item", "description": "Visit a seeded item"},
    ]
    assert seeds["settings_schema"]["properties"]["count"]["default"] == 3
    assert seeds["settings_schema"]["additionalProperties"] is False
    # Never run, never registered: enabled, nothing done yet.
    assert (seeds["enabled"], seeds["schedules"], seeds["last_run"], seeds["last_status"]) == (
        True,
        [],
        None,
        None,
    )
    assert seeds["items"] == 0
    assert seeds["events"] == {"pending": 0, "claimed": 0, "done": 0, "dead": 0}
    assert "url" in engines["webScraper"]["settings_schema"]["properties"]


def test_an_engine_shows_its_schedules_last_run_and_counts(api: Api) -> None:
    first = datetime(2030, 1, 1, tzinfo=UTC)
    schedule_engine(
        api.db, Seeds, name="seeds-hourly", interval=3600, settings={"count": 2}, first_run=first
    )
    api.client.post("/api/engines/runs-test-seeds/start", json={"count": 2}, headers=api.auth)
    registered = Seeds.register(api.db)
    api.db.run(
        store.add_status,
        message="seeded 2",
        engine_id=registered.engine_id,
        action_id=registered.action_ids["visit"],
    )
    result = api.db.run(
        store.store_items,
        engine_id=registered.engine_id,
        records=[store.ItemRecord(uri=f"{PUBLIC_URL}/{i}") for i in range(2)],
    )
    api.db.run(
        store.enqueue_events,
        events=[
            store.EventSpec(registered.engine_id, registered.action_ids["visit"], item_id)
            for item_id in result.item_ids.values()
        ],
    )

    seeds = api.client.get("/api/engines/runs-test-seeds").json()

    assert seeds["schedules"] == [
        {
            "name": "seeds-hourly",
            "interval": 3600,
            "cron": None,
            "enabled": True,
            "next_run": first.isoformat().replace("+00:00", "Z"),
            "last_run": None,
            "settings": {"url": PUBLIC_URL, "count": 2},
        }
    ]
    assert seeds["last_run"]["state"] == "queued"
    assert seeds["last_run"]["settings"] == {"url": PUBLIC_URL, "count": 2}
    assert seeds["last_status"]["message"] == "seeded 2"
    # The engine's last status is the activity log's newest line for it: one model, one answer.
    [newest] = api.client.get(
        "/api/status", params={"engine": "runs-test-seeds", "limit": 1}
    ).json()["status"]
    assert seeds["last_status"] == newest
    assert (newest["engine"], newest["action"]) == ("runs-test-seeds", "visit")
    assert seeds["items"] == 2
    assert seeds["events"] == {"pending": 2, "claimed": 0, "done": 0, "dead": 0}


def test_an_unknown_engine_is_404(api: Api) -> None:
    for method, path in [
        ("GET", "/api/engines/nope"),
        ("POST", "/api/engines/nope/start"),
        ("POST", "/api/engines/nope/stop"),
        ("POST", "/api/engines/nope/enable"),
        ("POST", "/api/engines/nope/disable"),
    ]:
        answer = api.client.request(method, path, headers=api.auth)
        assert answer.status_code == 404, path
        assert "no engine named 'nope'" in answer.json()["detail"]


def test_reads_need_a_token_when_the_api_says_so(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with installed_engines(monkeypatch), api_for(db, api_read_access="token") as api:
        assert api.client.get("/api/engines").status_code == 401
        assert api.client.get("/api/engines/runs-test-seeds").status_code == 401
        assert api.client.get("/api/engines", headers=api.auth).status_code == 200


# --- auth on writes ------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["start", "stop", "enable", "disable"])
def test_writes_need_a_valid_token(api: Api, action: str) -> None:
    path = f"/api/engines/runs-test-seeds/{action}"
    missing = api.client.post(path)
    wrong = api.client.post(path, headers={"Authorization": "Bearer not-a-token"})

    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json()["detail"]
    assert runs_of(api.db, "runs-test-seeds") == []
    engine_id = api.db.run_read(store.get_engine_id, name="runs-test-seeds")
    assert engine_id is None or not api.db.run_read(store.is_engine_disabled, engine_id=engine_id)


# --- start ---------------------------------------------------------------------------------


def test_start_queues_a_job_with_the_validated_settings(api: Api) -> None:
    answer = api.client.post(
        "/api/engines/runs-test-seeds/start",
        json={"count": 5},
        headers=api.auth | {"X-Correlation-ID": "start-req-1"},
    )

    assert answer.status_code == 202
    body = answer.json()
    (run,) = runs_of(api.db, "runs-test-seeds")
    assert body == {
        "run_id": run.run_id,
        "engine": "runs-test-seeds",
        "action": None,
        "state": "queued",
    }
    assert run.settings == {"url": PUBLIC_URL, "count": 5}  # defaults filled in
    assert (run.correlation_id, run.requested_by) == ("start-req-1", TOKEN_NAME)
    assert answer.headers["X-Correlation-ID"] == "start-req-1"


def test_start_without_a_body_uses_the_default_settings(api: Api) -> None:
    answer = api.client.post("/api/engines/runs-test-slow/start", headers=api.auth)

    assert answer.status_code == 202
    (run,) = runs_of(api.db, "runs-test-slow")
    assert run.settings == {}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"count": "many"}, "count: Input should be a valid integer"),
        ({"count": 0}, "count: Input should be greater than or equal to 1"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_422_and_queue_nothing(api: Api, body: object, problem: str) -> None:
    answer = api.client.post("/api/engines/runs-test-seeds/start", json=body, headers=api.auth)

    assert answer.status_code == 422
    assert problem in answer.json()["detail"]
    assert runs_of(api.db, "runs-test-seeds") == []


def test_a_body_that_is_not_an_object_is_422(api: Api) -> None:
    answer = api.client.post(
        "/api/engines/runs-test-seeds/start", json=["count", 3], headers=api.auth
    )

    assert answer.status_code == 422
    assert runs_of(api.db, "runs-test-seeds") == []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/", "http://localhost/", "http://10.0.0.8/", "http://169.254.169.254/"],
)
def test_urls_to_private_hosts_are_refused(api: Api, url: str) -> None:
    answer = api.client.post("/api/engines/webScraper/start", json={"url": url}, headers=api.auth)

    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("url: ")
    assert "API_ALLOW_PRIVATE" in answer.json()["detail"]
    assert runs_of(api.db, "webScraper") == []


def test_private_urls_are_accepted_when_the_api_allows_them(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with installed_engines(monkeypatch), api_for(db, api_allow_private=True) as api:
        answer = api.client.post(
            "/api/engines/webScraper/start",
            json={"url": "http://127.0.0.1:8000/", "max_pages": 5},
            headers=api.auth,
        )

        assert answer.status_code == 202
        (run,) = runs_of(db, "webScraper")
        assert run.settings["url"] == "http://127.0.0.1:8000/"


def test_a_disabled_engine_cannot_be_started(api: Api) -> None:
    assert api.client.post(
        "/api/engines/runs-test-seeds/disable", headers=api.auth
    ).status_code == (200)

    answer = api.client.post("/api/engines/runs-test-seeds/start", headers=api.auth)

    assert answer.status_code == 409
    assert answer.json()["detail"] == "engine 'runs-test-seeds' is disabled; enable it first"
    assert runs_of(api.db, "runs-test-seeds") == []


# --- stop, enable, disable -----------------------------------------------------------------


def test_stop_disables_the_engine_and_cancels_its_runs(api: Api) -> None:
    for _ in range(2):
        api.client.post("/api/engines/runs-test-seeds/start", headers=api.auth)
    api.client.post("/api/engines/runs-test-slow/start", headers=api.auth)
    engine_id = Seeds.register(api.db).engine_id
    api.db.run(
        run_store.claim_runs,
        owner="runner",
        limit=1,
        lease=timedelta(minutes=5),
        engine_ids=[engine_id],
    )

    answer = api.client.post("/api/engines/runs-test-seeds/stop", headers=api.auth)

    assert answer.status_code == 200
    assert answer.json() == {"name": "runs-test-seeds", "enabled": False, "cancelled_runs": 2}
    assert {run.state for run in runs_of(api.db, "runs-test-seeds")} == {"cancelled"}
    assert [run.state for run in runs_of(api.db, "runs-test-slow")] == ["queued"]
    assert api.db.run_read(store.is_engine_disabled, engine_id=engine_id)
    listed = api.client.get("/api/engines/runs-test-seeds").json()
    assert listed["enabled"] is False
    assert listed["last_status"]["message"] == (
        f"engine runs-test-seeds stopped by {TOKEN_NAME}; 2 run(s) cancelled"
    )
    # Stopping again is harmless.
    again = api.client.post("/api/engines/runs-test-seeds/stop", headers=api.auth)
    assert again.json() == {"name": "runs-test-seeds", "enabled": False, "cancelled_runs": 0}


def test_disable_and_enable_toggle_the_engine(api: Api) -> None:
    disabled = api.client.post("/api/engines/runs-test-slow/disable", headers=api.auth)
    assert disabled.status_code == 200
    assert disabled.json() == {"name": "runs-test-slow", "enabled": False, "cancelled_runs": 0}
    engine_id = Slow.register(api.db).engine_id
    assert api.db.run_read(store.is_engine_disabled, engine_id=engine_id)
    assert api.client.get("/api/engines/runs-test-slow").json()["enabled"] is False

    enabled = api.client.post("/api/engines/runs-test-slow/enable", headers=api.auth)
    assert enabled.json() == {"name": "runs-test-slow", "enabled": True, "cancelled_runs": 0}
    assert not api.db.run_read(store.is_engine_disabled, engine_id=engine_id)
    assert api.client.post("/api/engines/runs-test-slow/start", headers=api.auth).status_code == (
        202
    )
    messages = [row.message for row in api.db.run_read(store.recent_status, engine_id=engine_id)]
    assert messages[:2] == [
        f"engine runs-test-slow enabled by {TOKEN_NAME}",
        f"engine runs-test-slow disabled by {TOKEN_NAME}",
    ]
