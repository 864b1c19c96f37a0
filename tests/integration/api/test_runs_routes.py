"""/api/runs: scrape requests are validated and queued; runs show progress and outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from haystack_collector.db import Database
from haystack_collector.runs import RunExecutor
from haystack_collector.store import runs as run_store
from tests.integration.api.runs_fixtures import (
    PUBLIC_URL,
    TOKEN_NAME,
    Api,
    Failing,
    Seeds,
    api_for,
    installed_engines,
)


@pytest.fixture
def api(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    with installed_engines(monkeypatch), api_for(db) as api:
        yield api


def scrape(api: Api, body: dict[str, Any], **headers: str) -> Any:
    return api.client.post("/api/runs/scrape", json=body, headers=api.auth | headers)


def execute_runs(db: Database, *run_ids: int) -> None:
    """Run a run executor until the runs have ended."""

    def ended() -> bool:
        states = {db.run_read(run_store.get_run, run_id=i).state for i in run_ids}
        return states <= set(run_store.FINAL_STATES)

    async def main() -> None:
        runner = RunExecutor(db, [Seeds, Failing], poll=0.05)
        task = asyncio.create_task(runner.run())
        deadline = time.monotonic() + 20
        while not await asyncio.to_thread(ended):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        runner.stop()
        await task

    asyncio.run(main())


# --- POST /api/runs/scrape -----------------------------------------------------------------


def test_scrape_queues_one_action_with_its_parameters(api: Api) -> None:
    answer = scrape(
        api,
        {"engine": "runs-test-seeds", "action": "seed-many", "parameters": {"count": 2}},
        **{"X-Correlation-ID": "scrape-1"},
    )

    assert answer.status_code == 202
    run_id = answer.json()["run_id"]
    assert answer.json() == {
        "run_id": run_id,
        "engine": "runs-test-seeds",
        "action": "seed-many",
        "state": "queued",
    }
    run = api.db.run_read(run_store.get_run, run_id=run_id)
    assert (run.action, run.settings, run.correlation_id, run.requested_by) == (
        "seed-many",
        {"url": PUBLIC_URL, "count": 2},
        "scrape-1",
        TOKEN_NAME,
    )


def test_scrape_without_an_action_runs_every_start_action(api: Api) -> None:
    answer = scrape(api, {"engine": "runs-test-seeds"})

    assert answer.status_code == 202
    assert answer.json()["action"] is None


def test_a_scraped_run_is_run_and_its_outcome_shown(api: Api) -> None:
    run_id = scrape(
        api, {"engine": "runs-test-seeds", "action": "seed-many", "parameters": {"count": 3}}
    ).json()["run_id"]
    queued = api.client.get(f"/api/runs/{run_id}").json()
    assert (queued["state"], queued["started"], queued["finished"]) == ("queued", None, None)

    execute_runs(api.db, run_id)

    done = api.client.get(f"/api/runs/{run_id}")
    assert done.status_code == 200
    body = done.json()
    assert (body["state"], body["error"], body["items_stored"], body["events_enqueued"]) == (
        "done",
        None,
        3,
        3,
    )
    assert body["started"] is not None
    assert body["finished"] is not None
    assert body["engine"] == "runs-test-seeds"
    assert body["claimed_by"]
    # The three items it queued are the engine's pending events.
    assert body["engine_events"] == {"pending": 3, "claimed": 0, "done": 0, "dead": 0}


def test_a_failed_run_shows_its_error(api: Api) -> None:
    run_id = scrape(api, {"engine": "runs-test-failing"}).json()["run_id"]

    execute_runs(api.db, run_id)

    body = api.client.get(f"/api/runs/{run_id}").json()
    assert (body["state"], body["error"], body["items_stored"]) == (
        "failed",
        "fail: RuntimeError: the source is gone",
        1,
    )


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"engine": "nope"}, 404, "no engine named 'nope'"),
        ({"engine": "runs-test-seeds", "action": "nope"}, 404, "has no action 'nope'"),
        (
            {"engine": "runs-test-seeds", "action": "visit"},
            422,
            "only start actions can be requested",
        ),
        (
            {"engine": "runs-test-seeds", "parameters": {"count": "x"}},
            422,
            "count: Input should be a valid integer",
        ),
        (
            {"engine": "webScraper", "parameters": {"url": "http://127.0.0.1/"}},
            422,
            "url: 127.0.0.1 resolves to 127.0.0.1 (loopback)",
        ),
    ],
)
def test_bad_requests_are_refused_and_queue_nothing(
    api: Api, body: dict[str, Any], status: int, detail: str
) -> None:
    answer = scrape(api, body)

    assert answer.status_code == status
    assert detail in answer.json()["detail"]
    assert api.db.run_read(run_store.list_runs) == []


@pytest.mark.parametrize(
    "url",
    [
        "http:/127.0.0.1:8080/",
        "http:127.0.0.1:8080/",
        "http:\\\\127.0.0.1:8080\\",
        "http:///127.0.0.1:8080/",
        "http:\\/127.0.0.1:8080/",
        "http://127.0.0.1:8080\\@1.1.1.1/",
        " HTTP://[::1]:8080/",
        "ht\ttp://localhost:8080/",
        "http://0x7f.1:8080/",
        "https://2130706433/",
    ],
)
def test_spellings_that_an_engine_reads_as_a_private_url_are_refused(api: Api, url: str) -> None:
    # Each is what the engines' canonicalize turns into a loopback URL, as browsers do.
    answer = scrape(api, {"engine": "webScraper", "parameters": {"url": url}})

    assert answer.status_code == 422, answer.text
    assert "resolves to 127.0.0.1" in answer.json()["detail"] or "::1" in answer.json()["detail"]
    assert "HAYSTACK_API_ALLOW_PRIVATE" in answer.json()["detail"]
    assert api.db.run_read(run_store.list_runs) == []


@pytest.mark.parametrize("url", ["http://", "https:///", "http:", "http://@/x"])
def test_a_url_setting_without_a_host_is_refused(api: Api, url: str) -> None:
    answer = scrape(api, {"engine": "webScraper", "parameters": {"url": url}})

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("url: not a valid URL")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"engine": ""},
        {"engine": "runs-test-seeds", "parameters": [1, 2]},
        {"engine": "runs-test-seeds", "extra": True},
    ],
)
def test_malformed_requests_are_422(api: Api, body: dict[str, Any]) -> None:
    answer = scrape(api, body)

    assert answer.status_code == 422
    assert answer.json()["detail"]
    assert api.db.run_read(run_store.list_runs) == []


def test_scrape_needs_a_valid_token(api: Api) -> None:
    body = {"engine": "runs-test-seeds"}
    missing = api.client.post("/api/runs/scrape", json=body)
    wrong = api.client.post(
        "/api/runs/scrape", json=body, headers={"Authorization": "Bearer wrong"}
    )

    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert api.db.run_read(run_store.list_runs) == []


# --- GET /api/runs and /api/runs/{id} ------------------------------------------------------


def test_an_unknown_run_is_404_and_an_out_of_range_id_422(api: Api) -> None:
    missing = api.client.get("/api/runs/999999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no run 999999"}
    assert api.client.get("/api/runs/abc").status_code == 404  # no such route
    assert api.client.get("/api/runs/0").status_code == 422
    assert api.client.get(f"/api/runs/{2**31}").status_code == 422
    assert api.client.get("/api/runs/scrape").status_code == 405  # POST only


def test_recent_runs_are_listed_newest_first_in_pages(api: Api) -> None:
    ids = [scrape(api, {"engine": "runs-test-seeds"}).json()["run_id"] for _ in range(5)]
    failing = scrape(api, {"engine": "runs-test-failing"}).json()["run_id"]

    first = api.client.get("/api/runs", params={"limit": 4}).json()
    assert [run["run_id"] for run in first["runs"]] == [failing, *ids[:1:-1]]
    assert first["next"] == ids[2]
    rest = api.client.get("/api/runs", params={"limit": 4, "before": first["next"]}).json()
    assert [run["run_id"] for run in rest["runs"]] == ids[1::-1]
    assert rest["next"] is None

    by_engine = api.client.get("/api/runs", params={"engine": "runs-test-failing"}).json()
    assert [run["run_id"] for run in by_engine["runs"]] == [failing]
    assert by_engine["runs"][0]["engine"] == "runs-test-failing"
    queued = api.client.get("/api/runs", params={"state": "queued"}).json()
    assert len(queued["runs"]) == 6
    assert api.client.get("/api/runs", params={"state": "done"}).json()["runs"] == []


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"engine": "nope"}, 404),
        ({"state": "sleeping"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 501}, 422),
        ({"before": 0}, 422),
    ],
)
def test_bad_list_filters_are_refused(api: Api, params: dict[str, Any], status: int) -> None:
    answer = api.client.get("/api/runs", params=params)

    assert answer.status_code == status
    assert answer.json()["detail"]


def test_run_reads_need_a_token_when_the_api_says_so(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with installed_engines(monkeypatch), api_for(db, api_read_access="token") as api:
        run_id = scrape(api, {"engine": "runs-test-seeds"}).json()["run_id"]

        assert api.client.get("/api/runs").status_code == 401
        assert api.client.get(f"/api/runs/{run_id}").status_code == 401
        assert api.client.get(f"/api/runs/{run_id}", headers=api.auth).status_code == 200


def test_secrets_in_a_runs_settings_and_error_are_masked_when_shown(api: Api) -> None:
    run_id = api.db.run(
        run_store.create_run,
        engine_id=Seeds.register(api.db).engine_id,
        action=None,
        settings={"url": "https://alice:pa55word@93.184.216.34/x", "count": 1},
        correlation_id=None,
        requested_by="t",
    )
    shown = api.client.get(f"/api/runs/{run_id}").json()

    assert "pa55word" not in str(shown)
    assert shown["settings"]["count"] == 1
    assert shown["settings"]["url"].endswith("@93.184.216.34/x")


# --- the legacy names: /api/jobs... and the /jobs page --------------------------------------


def test_the_legacy_jobs_routes_queue_list_and_show_the_same_runs(api: Api) -> None:
    body = {"engine": "runs-test-seeds", "action": "seed-many", "parameters": {"count": 1}}
    legacy = api.client.post("/api/jobs/scrape", json=body, headers=api.auth)
    assert legacy.status_code == 202
    run_id = legacy.json()["run_id"]
    # A client written against the legacy names reads the id it always read.
    assert legacy.json()["job_id"] == run_id
    assert api.db.run_read(run_store.get_run, run_id=run_id).action == "seed-many"

    listed = api.client.get("/api/jobs", params={"engine": "runs-test-seeds"}, headers=api.auth)
    new = api.client.get("/api/runs", params={"engine": "runs-test-seeds"}, headers=api.auth)
    assert listed.status_code == new.status_code == 200
    assert listed.json()["runs"] == new.json()["runs"]
    assert listed.json()["next"] == new.json()["next"]
    assert [run["run_id"] for run in listed.json()["runs"]] == [run_id]
    assert [job["job_id"] for job in listed.json()["jobs"]] == [run_id]
    assert "jobs" not in new.json()
    assert "job_id" not in new.json()["runs"][0]
    shown = api.client.get(f"/api/jobs/{run_id}", headers=api.auth).json()
    current = api.client.get(f"/api/runs/{run_id}", headers=api.auth).json()
    assert shown == {**current, "job_id": run_id}
    # Writes through the legacy name need a token as the new one does.
    assert api.client.post("/api/jobs/scrape", json=body).status_code == 401
    assert api.client.get("/api/jobs/999999", headers=api.auth).status_code == 404


def test_openapi_marks_the_legacy_names_deprecated_and_only_them(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    legacy = {
        (path, method): operation
        for path, operations in paths.items()
        for method, operation in operations.items()
        if path.startswith("/api/jobs")
    }
    assert set(legacy) == {
        ("/api/jobs/scrape", "post"),
        ("/api/jobs", "get"),
        ("/api/jobs/{run_id}", "get"),
    }
    assert all(operation.get("deprecated") is True for operation in legacy.values())
    for path, method in legacy:
        current = paths[path.replace("/api/jobs", "/api/runs")][method]
        assert not current.get("deprecated")
        assert legacy[path, method]["responses"].keys() == current["responses"].keys()


def test_the_old_jobs_page_redirects_to_the_runs_page(api: Api) -> None:
    answer = api.client.get("/jobs?engine=x", follow_redirects=False)
    assert answer.status_code == 308
    assert answer.headers["location"] == "/runs?engine=x"
    page = api.client.get("/jobs")
    assert page.status_code == 200
    assert "<title>" in page.text
    assert 'id="runs"' in page.text
