"""GET /api/items/{id}: the item's data, links both ways, queued actions and history."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events
from haystack_collector.store.batch import ItemRecord, LinkSpec
from tests.factories import make_engine
from tests.integration.api.items_fixtures import api_for


def test_an_item_shows_its_data_links_events_and_history(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn, name="detailer", action="fetch_posting")
        result = store.store_items(
            conn,
            engine_id=engine.engine_id,
            records=[
                ItemRecord(
                    uri="https://detail.test/posting",
                    data={
                        "Title": "Senior <b>Rust</b> developer",
                        "Tags": ["rust", "remote"],
                        "Salary": 150_000,
                        "JobPosted": date(2026, 1, 2),
                        "Meta": {"source": "board"},
                    },
                    links=[LinkSpec("https://detail.test/company", "references")],
                    events=[engine.action_id],
                ),
                ItemRecord(
                    uri="https://detail.test/list",
                    links=[LinkSpec("https://detail.test/posting", "contains")],
                ),
            ],
        )
    posting = result.item_ids["https://detail.test/posting"]
    with api_for(db) as api:
        response = api.client.get(f"/api/items/{posting}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["item_id"] == posting
    assert body["uri"] == "https://detail.test/posting"
    assert body["engine"] == "detailer"
    assert body["title"] == "Senior <b>Rust</b> developer"  # as stored; escaping is the UI's
    data = {(row["key"], row["seq"]): (row["value"], row["type"]) for row in body["data"]}
    assert data == {
        ("JobPosted", 0): ("2026-01-02", "date"),
        ("Meta", 0): ({"source": "board"}, "json"),
        ("Salary", 0): (150_000, "int"),
        ("Tags", 0): ("rust", "str"),
        ("Tags", 1): ("remote", "str"),
        ("Title", 0): ("Senior <b>Rust</b> developer", "str"),
    }
    assert [(link["type"], link["uri"]) for link in body["links"]["out"]] == [
        ("references", "https://detail.test/company")
    ]
    assert body["links"]["out"][0]["item_id"] == result.item_ids["https://detail.test/company"]
    assert [(link["type"], link["uri"]) for link in body["links"]["in"]] == [
        ("contains", "https://detail.test/list")
    ]
    assert body["link_counts"] == {"out": 1, "in": 1}
    [event] = body["events"]
    assert (event["engine"], event["action"], event["state"]) == (
        "detailer",
        "fetch_posting",
        "pending",
    )
    assert event["attempts"] == 0
    kinds = [entry["kind"] for entry in body["history"]]
    assert kinds[0] == "created"
    assert {"data", "link", "queued"} <= set(kinds)
    dates = [entry["date"] for entry in body["history"]]
    assert dates == sorted(dates)


def test_events_show_done_and_dead_with_the_last_error(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn, name="eventful", action="first")
        second = store.register_action(conn, name="second")
        store.register_engine_action(conn, engine_id=engine.engine_id, action_id=second)
        item = store.store_items(
            conn,
            engine_id=engine.engine_id,
            records=[ItemRecord("https://detail.test/evented", events=[engine.action_id, second])],
        ).item_ids["https://detail.test/evented"]
        store.complete_event(
            conn, engine_id=engine.engine_id, action_id=engine.action_id, item_id=item
        )
        conn.execute(
            update(item_events)
            .where(item_events.c.itemId == item, item_events.c.actionId == second)
            .values(
                itemEventAttempts=5,
                itemEventLastError="HTTP 500 from the board",
                itemEventDeadDate=datetime(2026, 2, 1, 12, 0),
            )
        )
    with api_for(db) as api:
        body = api.client.get(f"/api/items/{item}").json()
        states = {event["action"]: event for event in body["events"]}
        # An item's event is the queue's event: the same model, the same answer.
        from_queue = api.client.get(f"/api/events/{states['second']['event_id']}").json()
    assert states["first"]["state"] == "done"
    assert states["first"]["done"] is not None
    assert states["second"]["state"] == "dead"
    assert states["second"]["attempts"] == 5
    assert states["second"]["last_error"] == "HTTP 500 from the board"
    assert datetime.fromisoformat(states["second"]["dead_since"]) == datetime(
        2026, 2, 1, 12, 0, tzinfo=UTC
    )
    assert states["second"]["item_id"] == item
    assert states["second"]["uri"] == "https://detail.test/evented"
    assert states["second"] == from_queue
    dead = [entry for entry in body["history"] if entry["kind"] == "dead"]
    assert dead[0]["detail"] == "eventful/second: HTTP 500 from the board"
    assert "done" in [entry["kind"] for entry in body["history"]]


def test_a_missing_item_is_a_404(db: Database) -> None:
    with api_for(db) as api:
        response = api.client.get("/api/items/999999999")
    assert response.status_code == 404
    assert response.json() == {"detail": "no item 999999999"}


@pytest.mark.parametrize("item_id", ["abc", "-1", "1.5", str(2**40), "1;DROP TABLE Items"])
def test_an_id_that_is_not_an_item_id_is_a_422(db: Database, item_id: str) -> None:
    with api_for(db) as api:
        response = api.client.get(f"/api/items/{item_id}")
    assert response.status_code == 422
    assert "detail" in response.json()


def test_the_detail_needs_a_token_when_reads_do(db: Database) -> None:
    with db.transaction() as conn:
        item = store.get_or_create_item(conn, uri="https://detail.test/closed", engine_id=None)
    with api_for(db, api_read_access="token") as api:
        assert api.client.get(f"/api/items/{item.item_id}").status_code == 401
        allowed = api.client.get(f"/api/items/{item.item_id}", headers=api.auth)
    assert allowed.status_code == 200
    assert allowed.json()["data"] == []
