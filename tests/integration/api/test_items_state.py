"""Items say their state in the list, the detail, the export and search results, and the
list filters by one or several states (every state when none is asked for)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.store.batch import ItemRecord, LinkSpec
from tests.integration.api.items_fixtures import api_for, make_items, walk

# What each kind of stored outcome makes of an item (see store.item_state).
OUTCOMES = {
    "fetched": {"StatusCode": 200, "Error": None},
    "failed": {"StatusCode": None, "Error": "connect timeout"},
    "gone": {"StatusCode": 404, "Error": None},
}


def crawl_like(db: Database, pages: int, *, per_page: int = 3) -> dict[str, list[int]]:
    """Pages fetched, failed and gone in turn, each linking to targets only discovered."""
    by_state: dict[str, list[int]] = {"fetched": [], "queued": [], "failed": [], "gone": []}
    for n in range(pages):
        state = ("fetched", "failed", "gone")[n % 3]
        page = f"https://site.test/{n}"  # make_items stores it as {page}/0
        targets = [f"{page}/link{k}" for k in range(per_page)]
        data = OUTCOMES[state] | {"Title": f"Page {n} about harbours"}
        by_state[state].extend(make_items(db, 1, prefix=page, data=lambda _, d=data: d))
        linked = db.run(
            store.store_items,
            engine_id=None,
            records=[ItemRecord(uri=f"{page}/0", links=[LinkSpec(uri) for uri in targets])],
        )
        by_state["queued"].extend(linked.item_ids[uri] for uri in targets)
    return by_state


def test_every_item_has_its_state_and_the_list_shows_every_state_by_default(
    db: Database,
) -> None:
    by_state = crawl_like(db, 6)
    with api_for(db) as api:
        listed = walk(api.client, {"limit": 500})
        detail = {
            state: api.client.get(f"/api/items/{ids[0]}").json()["state"]
            for state, ids in by_state.items()
        }
    expected = {item_id: state for state, ids in by_state.items() for item_id in ids}
    assert {item["item_id"]: item["state"] for item in listed} == expected
    assert detail == {"fetched": "fetched", "queued": "queued", "failed": "failed", "gone": "gone"}


@pytest.mark.parametrize("state", ["fetched", "queued", "failed", "gone"])
def test_a_state_filter_lists_only_that_state_newest_first(db: Database, state: str) -> None:
    by_state = crawl_like(db, 9)
    with api_for(db) as api:
        first = api.client.get("/api/items", params={"state": state, "limit": 2}).json()
        listed = walk(api.client, {"state": state, "limit": 2})
    assert [item["item_id"] for item in listed] == sorted(by_state[state], reverse=True)
    assert {item["state"] for item in listed} == {state}
    assert (first["total"], first["total_exact"]) == (len(by_state[state]), True)


def test_several_states_are_listed_together_in_one_order(db: Database) -> None:
    by_state = crawl_like(db, 12)
    wanted = sorted([*by_state["failed"], *by_state["gone"]], reverse=True)
    with api_for(db) as api:
        params = [("state", "failed"), ("state", "gone"), ("limit", "3")]
        first = api.client.get("/api/items", params=params).json()
        pages: list[int] = []
        cursor = None
        while True:
            query = params + ([("cursor", cursor)] if cursor else [])
            body = api.client.get("/api/items", params=query).json()
            pages.extend(item["item_id"] for item in body["items"])
            if body["next"] is None:
                break
            cursor = body["next"]
        all_four = [("state", state) for state in by_state]
        every = api.client.get("/api/items", params=all_four).json()
    assert pages == wanted
    assert (first["total"], first["total_exact"]) == (len(wanted), True)
    assert every["total"] == sum(len(ids) for ids in by_state.values())


def test_search_results_carry_their_state_and_combine_with_the_filter(db: Database) -> None:
    by_state = crawl_like(db, 6)
    with api_for(db) as api:
        found = walk(api.client, {"q": "harbours"})
        fetched = walk(api.client, {"q": "harbours", "state": "fetched"})
    pages = {item_id for state in OUTCOMES for item_id in by_state[state]}
    assert {item["item_id"] for item in found} == pages
    assert all(item["state"] != "queued" for item in found)
    assert [item["item_id"] for item in fetched] == sorted(by_state["fetched"], reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"state": "pending"},
        {"state": "FETCHED"},
        {"state": ""},
        [("state", "fetched"), ("state", "nope")],
        [("state", s) for s in ("fetched", "queued", "failed", "gone", "fetched")],
    ],
)
def test_a_bad_state_is_a_422_naming_it(db: Database, params: object) -> None:
    with api_for(db) as api:
        listed = api.client.get("/api/items", params=params)  # type: ignore[arg-type]
        exported = api.client.get("/api/items/export", params=params)  # type: ignore[arg-type]
    for response in (listed, exported):
        assert response.status_code == 422, response.text
        assert "state" in response.text


def test_the_export_carries_the_state_and_filters_by_it(db: Database) -> None:
    by_state = crawl_like(db, 3)
    with api_for(db) as api:
        as_csv = api.client.get("/api/items/export", params={"format": "csv"}).text
        gone = api.client.get("/api/items/export", params={"state": "gone"}).text
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert list(rows[0])[-1] == "state"
    states = {int(row["item_id"]): row["state"] for row in rows}
    assert states == {item_id: state for state, ids in by_state.items() for item_id in ids}
    lines = [json.loads(line) for line in gone.splitlines()]
    assert [(line["item_id"], line["state"]) for line in lines] == [(by_state["gone"][0], "gone")]


def test_the_openapi_document_names_the_states_and_the_default(db: Database) -> None:
    with api_for(db) as api:
        spec = api.client.get("/openapi.json").json()
    [state] = [p for p in spec["paths"]["/api/items"]["get"]["parameters"] if p["name"] == "state"]
    assert "every state when not given" in state["description"]
    item = spec["components"]["schemas"]["ItemOut"]["properties"]["state"]
    assert set(item["enum"]) == {"fetched", "queued", "failed", "gone"}
