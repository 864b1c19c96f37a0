"""/api/config, /api/status and the dead-letter queue at /api/events."""

from __future__ import annotations

from typing import Any

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import status as status_table
from haystack_collector.queue import SqlQueue
from haystack_collector.store.status import all_config, recent_status
from tests.integration.api.core_fixtures import REMOTE, client_for, core_app, mint

# --- config --------------------------------------------------------------------------------


def test_config_lists_every_key(db: Database) -> None:
    db.run(store.set_config, name="alpha", value="1")
    db.run(store.set_config, name="beta", value=None)
    with client_for(core_app(db)) as client:
        answer = client.get("/api/config")
    assert answer.status_code == 200
    listed = answer.json()
    assert listed == db.run_read(all_config)
    assert (listed["alpha"], listed["beta"]) == ("1", None)


def test_secret_looking_values_are_masked_without_a_token(db: Database) -> None:
    db.run(store.set_config, name="smtp_password", value="hunter2")
    _, auth = mint(db)
    with client_for(core_app(db)) as client:
        anonymous = client.get("/api/config").json()
        with_token = client.get("/api/config", headers=auth).json()
    assert anonymous["smtp_password"] == "***"
    assert with_token["smtp_password"] == "hunter2"


def test_values_holding_secrets_are_masked_without_a_token_whatever_the_key(
    db: Database,
) -> None:
    slack = "https://hooks.slack.com/services/T0AAAA/B0BBBB/abcdefghijklmnopqrstuvwx"
    given = {
        "ProxyUrl": "http://user:pa55word@proxy.lan:3128",
        "NotifyUrl": slack,
        "Upstream": "Zx9kQ2vL8mN4pR7tY1wB6cD3fG5hJ0sA",
        "Mirror": "https://ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8@github.com/o/r",
        "RunQueue": "1",
    }
    for name, value in given.items():
        db.run(store.set_config, name=name, value=value)
    _, auth = mint(db)
    with client_for(core_app(db)) as client:
        anonymous = client.get("/api/config").json()
        with_token = client.get("/api/config", headers=auth).json()
        statuses = client.get("/api/status?limit=20").json()["status"]
    assert anonymous["ProxyUrl"] == "http://user:***@proxy.lan:3128"
    assert anonymous["NotifyUrl"] == "https://hooks.slack.com/services/***"
    assert anonymous["Upstream"] == "***"
    assert anonymous["Mirror"] == "https://***@github.com/o/r"
    assert anonymous["RunQueue"] == "1"
    assert {key: with_token[key] for key in given} == given
    shown = " ".join(row["message"] for row in statuses)
    assert "Config ProxyUrl changed" in shown  # the change is recorded, not its value
    for secret in ("pa55word", "abcdefghijklmnopqrstuvwx", "Zx9kQ2vL8mN4", "ghp_A1b2"):
        assert secret not in shown


def test_status_messages_are_masked_when_stored_and_when_shown(db: Database) -> None:
    db.run(store.add_status, message="fetched https://alice:hunter2@git.example/ ok")
    with db.transaction() as conn:  # a row some other tool wrote, unmasked
        conn.execute(
            status_table.insert().values(StatusMessage="token xoxb-1234567890-abcdefghijkl")
        )
    stored = [row.message for row in db.run_read(recent_status, limit=5)]
    with client_for(core_app(db)) as client:
        shown = [row["message"] for row in client.get("/api/status").json()["status"]]
    assert "fetched https://alice:***@git.example/ ok" in stored
    assert shown[:2] == ["token ***", "fetched https://alice:***@git.example/ ok"]


def test_put_takes_the_value_from_the_query_and_writes_a_status_row(db: Database) -> None:
    _, auth = mint(db)
    with client_for(core_app(db)) as client:
        created = client.put("/api/config/crawl.delay?value=2.5", headers=auth)
        same = client.put("/api/config/crawl.delay", params={"value": "2.5"}, headers=auth)
        changed = client.put("/api/config/crawl.delay?value=3", headers=auth)

    assert created.json() == {"key": "crawl.delay", "value": "2.5", "changed": True}
    assert same.json()["changed"] is False
    assert changed.json() == {"key": "crawl.delay", "value": "3", "changed": True}
    assert db.run_read(all_config)["crawl.delay"] == "3"
    messages = [row.message for row in db.run_read(recent_status, limit=5)]
    assert messages[:2] == [
        "Config crawl.delay set to '3' (was '2.5')",
        "Config crawl.delay set to '2.5'",
    ]


def test_put_takes_a_json_body_too(db: Database) -> None:
    _, auth = mint(db)
    bodies: list[tuple[Any, str | None]] = [
        ("text", "text"),
        (7, "7"),
        (1.5, "1.5"),
        (True, "true"),
        (None, None),
    ]
    with client_for(core_app(db)) as client:
        for sent, stored in bodies:
            answer = client.put("/api/config/k", json={"value": sent}, headers=auth)
            assert answer.status_code == 200, answer.text
            assert answer.json()["value"] == stored
            assert db.run_read(all_config)["k"] == stored


def test_put_refuses_bad_input_with_422(db: Database) -> None:
    _, auth = mint(db)
    with client_for(core_app(db)) as client:
        answers = {
            "no value": client.put("/api/config/k", headers=auth),
            "two values": client.put("/api/config/k?value=a", json={"value": "b"}, headers=auth),
            "not an object": client.put("/api/config/k", json=["a"], headers=auth),
            "nested": client.put("/api/config/k", json={"value": {"a": 1}}, headers=auth),
            "not json": client.put(
                "/api/config/k",
                content=b"{value",
                headers={**auth, "Content-Type": "application/json"},
            ),
            "long key": client.put(f"/api/config/{'k' * 300}?value=1", headers=auth),
            "long value": client.put("/api/config/k", json={"value": "v" * 20_000}, headers=auth),
        }
    for case, answer in answers.items():
        assert answer.status_code == 422, case
        assert "detail" in answer.json(), case
    assert "k" not in db.run_read(all_config)
    agreeing = {"value": "a"}
    with client_for(core_app(db)) as client:
        same_twice = client.put("/api/config/k?value=a", json=agreeing, headers=auth)
    assert same_twice.status_code == 200


def test_put_needs_a_token_even_on_loopback(db: Database) -> None:
    with client_for(core_app(db)) as client:
        answer = client.put("/api/config/k?value=1")
    assert answer.status_code == 401
    assert "k" not in db.run_read(all_config)


# --- status --------------------------------------------------------------------------------


def seed_status(db: Database) -> dict[str, int]:
    alpha = db.run(store.register_engine, name="alpha", version="1")
    beta = db.run(store.register_engine, name="beta", version="1")
    fetch = db.run(store.register_action, name="fetch")
    parse = db.run(store.register_action, name="parse")
    for n in range(3):
        db.run(store.add_status, message=f"alpha fetch {n}", engine_id=alpha, action_id=fetch)
    db.run(store.add_status, message="alpha parse", engine_id=alpha, action_id=parse)
    db.run(store.add_status, message="beta fetch", engine_id=beta, action_id=fetch)
    db.run(store.add_status, message="no engine")
    return {"alpha": alpha, "beta": beta, "fetch": fetch, "parse": parse}


def test_status_lists_recent_rows_newest_first_with_names(db: Database) -> None:
    ids = seed_status(db)
    with client_for(core_app(db)) as client:
        rows = client.get("/api/status?limit=3").json()["status"]
    assert [row["message"] for row in rows] == ["no engine", "beta fetch", "alpha parse"]
    assert rows[0]["engine"] is None
    assert rows[1]["engine"] == "beta"
    assert rows[1]["engine_id"] == ids["beta"]
    assert rows[1]["action"] == "fetch"
    assert rows[0]["status_id"] > rows[1]["status_id"] > rows[2]["status_id"]
    assert rows[0]["date"] is not None


def test_status_filters_by_engine_and_action(db: Database) -> None:
    seed_status(db)
    with client_for(core_app(db)) as client:
        alpha = client.get("/api/status", params={"engine": "alpha"}).json()["status"]
        fetches = client.get("/api/status", params={"action": "fetch"}).json()["status"]
        both = client.get("/api/status", params={"engine": "alpha", "action": "parse"}).json()
    assert [row["message"] for row in alpha] == [
        "alpha parse",
        "alpha fetch 2",
        "alpha fetch 1",
        "alpha fetch 0",
    ]
    assert [row["message"] for row in fetches] == [
        "beta fetch",
        "alpha fetch 2",
        "alpha fetch 1",
        "alpha fetch 0",
    ]
    assert [row["message"] for row in both["status"]] == ["alpha parse"]


def test_status_bad_input(db: Database) -> None:
    seed_status(db)
    with client_for(core_app(db)) as client:
        unknown = client.get("/api/status", params={"engine": "nope"})
        unknown_action = client.get("/api/status", params={"action": "nope"})
        too_many = client.get("/api/status?limit=100000")
        not_a_number = client.get("/api/status?limit=ten")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no engine named 'nope'"}
    assert unknown_action.status_code == 404
    assert too_many.status_code == 422
    assert not_a_number.status_code == 422


def test_status_reads_follow_read_access(db: Database) -> None:
    with client_for(core_app(db, api_read_access="token")) as client:
        assert client.get("/api/status").status_code == 401
    with client_for(core_app(db), client=REMOTE) as client:
        assert client.get("/api/status").status_code == 401


# --- events --------------------------------------------------------------------------------


def seed_queue(db: Database) -> dict[str, int]:
    """Five events of engine "q": two pending, one claimed, two dead (one with its error)."""
    engine_id = db.run(store.register_engine, name="q", version="1")
    action_id = db.run(store.register_action, name="q-act")
    uris = [f"https://queue.test/{n}" for n in range(5)]
    for uri in uris:
        item_id = db.run(store.get_or_create_item, uri=uri, engine_id=engine_id).item_id
        db.run(store.enqueue_event, engine_id=engine_id, action_id=action_id, item_id=item_id)
    queue = SqlQueue(db)
    first, second, third = queue.claim(owner="w:1:a", limit=3, engine_id=engine_id)
    for task, error in ((first, "HTTP 500 from upstream"), (second, "timeout")):
        db.run(store.fail_claimed, event_id=task.event_id, error=error, run_after=None, dead=True)
    return {"dead": first.event_id, "dead2": second.event_id, "claimed": third.event_id}


def test_events_by_state_with_the_last_error_of_dead_ones(db: Database) -> None:
    ids = seed_queue(db)
    with client_for(core_app(db)) as client:
        pending = client.get("/api/events").json()
        claimed = client.get("/api/events?state=claimed").json()
        dead = client.get("/api/events?state=dead").json()

    assert pending["counts"] == {"pending": 2, "claimed": 1, "done": 0, "dead": 2}
    assert [e["state"] for e in pending["events"]] == ["pending", "pending"]
    assert [e["uri"] for e in pending["events"]] == [
        "https://queue.test/3",
        "https://queue.test/4",
    ]
    [held] = claimed["events"]
    assert (held["event_id"], held["claimed_by"]) == (ids["claimed"], "w:1:a")
    assert held["lease_until"] is not None
    assert [(e["event_id"], e["last_error"]) for e in dead["events"]] == [
        (ids["dead"], "HTTP 500 from upstream"),
        (ids["dead2"], "timeout"),
    ]
    assert dead["events"][0]["engine"] == "q"
    assert dead["events"][0]["action"] == "q-act"
    assert dead["events"][0]["attempts"] == 1
    assert dead["events"][0]["dead_since"] is not None


def test_events_page_with_a_cursor(db: Database) -> None:
    seed_queue(db)
    with client_for(core_app(db)) as client:
        first = client.get("/api/events?state=dead&limit=1").json()
        second = client.get(f"/api/events?state=dead&limit=1&after={first['next']}").json()
    assert first["next"] == first["events"][0]["event_id"]
    assert second["next"] is None
    assert second["events"][0]["event_id"] > first["events"][0]["event_id"]


def test_retrying_a_dead_event_makes_it_pending_with_fresh_attempts(db: Database) -> None:
    ids = seed_queue(db)
    _, auth = mint(db)
    with client_for(core_app(db)) as client:
        retried = client.post(f"/api/events/{ids['dead']}/retry", headers=auth)
        counts = client.get("/api/events").json()["counts"]
        again = client.post(f"/api/events/{ids['dead']}/retry", headers=auth)

    assert retried.status_code == 200
    body = retried.json()
    assert (body["state"], body["attempts"], body["last_error"]) == ("pending", 0, None)
    assert counts == {"pending": 3, "claimed": 1, "done": 0, "dead": 1}
    assert again.status_code == 409
    assert again.json() == {
        "detail": f"event {ids['dead']} is pending, not dead: only dead events can be retried"
    }
    # The queue hands it out again.
    engine_id = body["engine_id"]
    claimed = SqlQueue(db).claim(owner="w:2:b", limit=10, engine_id=engine_id)
    assert ids["dead"] in {task.event_id for task in claimed}


def test_discarding_a_dead_event_deletes_it(db: Database) -> None:
    ids = seed_queue(db)
    _, auth = mint(db)
    with client_for(core_app(db)) as client:
        gone = client.delete(f"/api/events/{ids['dead2']}", headers=auth)
        missing = client.get(f"/api/events/{ids['dead2']}")
        twice = client.delete(f"/api/events/{ids['dead2']}", headers=auth)
        claimed = client.delete(f"/api/events/{ids['claimed']}", headers=auth)
        counts = client.get("/api/events").json()["counts"]

    assert gone.status_code == 204
    assert gone.content == b""
    assert missing.status_code == 404
    assert twice.status_code == 404
    assert twice.json() == {"detail": f"no event with id {ids['dead2']}"}
    assert claimed.status_code == 409
    assert counts == {"pending": 2, "claimed": 1, "done": 0, "dead": 1}


def test_event_writes_need_a_token_and_bad_ids_are_422(db: Database) -> None:
    ids = seed_queue(db)
    _, auth = mint(db)
    with client_for(core_app(db)) as client:
        assert client.post(f"/api/events/{ids['dead']}/retry").status_code == 401
        assert client.delete(f"/api/events/{ids['dead']}").status_code == 401
        for bad in ("abc", "0", "-1", str(2**70)):
            assert client.post(f"/api/events/{bad}/retry", headers=auth).status_code == 422, bad
        assert client.post("/api/events/999999/retry", headers=auth).status_code == 404
        assert client.get("/api/events?state=sleeping").status_code == 422
        assert client.get("/api/events?limit=0").status_code == 422
        assert client.get("/api/events", params={"engine": "nope"}).status_code == 404
    assert db.run_read(store.event_counts)["dead"] == 2
