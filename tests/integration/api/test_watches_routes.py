"""``/api/watches`` and ``/api/notifications``: auth for writes, clear validation errors,
channels masked, failures listed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from haystack_collector.db import Database
from haystack_collector.settings import Settings
from haystack_collector.watch.notifier import notifier_from_settings
from tests.integration.api.core_fixtures import client_for, core_app, mint
from tests.integration.watch.receivers import Webhook, webhook
from tests.integration.watch.test_delivery import add_items


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook() as receiver:
        yield receiver


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with client_for(core_app(db)) as test_client:
        yield test_client


def watch_body(hook: Webhook, **changes: Any) -> dict[str, Any]:
    return {
        "name": "api watch",
        "filter": {"engine": "apiwatch", "q": "python"},
        "events": ["new", "changed"],
        "channels": [hook.url().replace("json://", "json://carol:t0ps3cret-x@")],
        "volatile": {"ignore": [r"\d+ views"]},
        **changes,
    }


def test_writes_need_a_token_and_reads_are_masked(
    db: Database, client: TestClient, hook: Webhook
) -> None:
    assert client.post("/api/watches", json=watch_body(hook)).status_code == 401
    _name, auth = mint(db)
    created = client.post("/api/watches", json=watch_body(hook), headers=auth)
    assert created.status_code == 201, created.text
    watch = created.json()
    assert watch["name"] == "api watch"
    assert watch["filter"] == {"engine": "apiwatch", "q": "python"}
    assert watch["described"] == "engine=apiwatch, q=python"
    assert watch["events"] == ["new", "changed"]
    assert watch["volatile"] == {"ignore": [r"\d+ views"]}
    assert watch["notifications"] == {}
    [channel] = watch["channels"]
    assert channel.startswith("json://")
    assert "t0ps3cret-x" not in created.text
    listed = client.get("/api/watches")
    assert listed.status_code == 200
    assert "t0ps3cret-x" not in listed.text
    assert [each["name"] for each in listed.json()["watches"]] == ["api watch"]
    watch_id = watch["watch_id"]
    assert client.get(f"/api/watches/{watch_id}").json()["name"] == "api watch"

    assert client.patch(f"/api/watches/{watch_id}", json={"enabled": False}).status_code == 401
    changed = client.patch(
        f"/api/watches/{watch_id}", json={"enabled": False, "events": ["gone"]}, headers=auth
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["events"]) == (False, ["gone"])

    assert client.delete(f"/api/watches/{watch_id}").status_code == 401
    assert client.delete(f"/api/watches/{watch_id}", headers=auth).status_code == 204
    assert client.get(f"/api/watches/{watch_id}").status_code == 404
    assert client.delete(f"/api/watches/{watch_id}", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"events": ["born"]}, ["body", "events", 0], "Input should be 'new', 'changed' or"),
        ({"channels": []}, ["body", "channels"], "at least 1 item"),
        ({"filter": {"colour": "red"}}, ["body", "filter", "colour"], "Extra inputs"),
        ({"filter": {"state": ["lost"]}}, ["body", "filter", "state", 0], "Input should be"),
    ],
)
def test_malformed_watches_are_refused_with_the_field_named(
    db: Database,
    client: TestClient,
    hook: Webhook,
    change: dict[str, Any],
    where: list[Any],
    message: str,
) -> None:
    _name, auth = mint(db)
    answer = client.post("/api/watches", json=watch_body(hook, **change), headers=auth)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == where
    assert message in problem["msg"]


def test_bad_channels_and_names_are_refused_clearly(
    db: Database, client: TestClient, hook: Webhook
) -> None:
    _name, auth = mint(db)
    bad = client.post(
        "/api/watches",
        json=watch_body(hook, channels=["nope://dave:hunter2-secret@x/y"]),
        headers=auth,
    )
    assert bad.status_code == 422
    assert "channels[0]: nope://*** is not a URL Apprise can send to" in bad.json()["detail"]
    assert "hunter2-secret" not in bad.text
    value_alone = client.post(
        "/api/watches", json=watch_body(hook, filter={"value": "x"}), headers=auth
    )
    assert value_alone.status_code == 422
    assert "filter.value: give the data key it belongs to" in value_alone.json()["detail"]
    assert client.post("/api/watches", json=watch_body(hook), headers=auth).status_code == 201
    again = client.post("/api/watches", json=watch_body(hook), headers=auth)
    assert again.status_code == 422
    assert again.json()["detail"] == "name: a watch named 'api watch' exists already"


def test_failures_are_listed_and_can_be_sent_again(
    db: Database, client: TestClient, hook: Webhook
) -> None:
    _name, auth = mint(db)
    body = watch_body(hook, filter={"engine": "apiwatch"}, events=["new"])
    watch_id = client.post("/api/watches", json=body, headers=auth).json()["watch_id"]
    add_items(db, "apiwatch", 2)
    hook.status = 500
    notifier = notifier_from_settings(
        db,
        Settings(  # type: ignore[call-arg]
            _env_file=None, database_url="sqlite://", notify_max_attempts=1, notify_settle=0
        ),
    )
    assert notifier.run_once().delivery.failed == 2
    failed = client.get("/api/notifications", params={"status": "failed"})
    assert failed.status_code == 200
    listed = failed.json()
    assert listed["counts"]["failed"] == 2
    assert [each["status"] for each in listed["notifications"]] == ["failed", "failed"]
    first = listed["notifications"][0]
    assert first["watch"] == "api watch"
    assert first["title"] == "Item 1"
    assert first["event"] == "new"
    assert "500" in first["error"]
    assert "t0ps3cret-x" not in failed.text
    assert client.get("/api/notifications", params={"status": "sent"}).json()["notifications"] == []
    assert client.get(f"/api/watches/{watch_id}").json()["notifications"] == {"failed": 2}
    bad = client.get("/api/notifications", params={"status": "lost"})
    assert bad.status_code == 422

    path = f"/api/notifications/{first['notification_id']}/retry"
    assert client.post(path).status_code == 401
    retried = client.post(path, headers=auth)
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    hook.status = 200
    assert notifier.run_once().delivery.sent == 1
    again = client.post(path, headers=auth)
    assert again.status_code == 422
    assert "only failed or uncertain ones can be sent again" in again.json()["detail"]
