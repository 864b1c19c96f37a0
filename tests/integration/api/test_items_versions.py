"""GET /api/items/{id}/versions and .../versions/{a}/diff/{b}: a page's text, others' fields."""

from __future__ import annotations

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.store import ItemRecord
from haystack_collector.store.values import ItemValue
from tests.factories import make_engine, make_uri
from tests.integration.api.items_fixtures import api_for

OLD_TEXT = "Opening hours\nMonday to Friday 9 to 17\nClosed on Sundays\nCall us any time"
NEW_TEXT = "Opening hours\nMonday to Friday 8 to 18\nCall us any time\nNew: Saturdays too"


def _store(db: Database, uri: str, data: dict[str, ItemValue]) -> int:
    engine = db.run(make_engine)
    result = db.run(
        store.store_items,
        engine_id=engine.engine_id,
        records=[ItemRecord(uri=uri, data=data)],  # type: ignore[list-item]
    )
    return result.item_ids[uri]


def _page(db: Database) -> int:
    uri = make_uri()
    page: dict[str, ItemValue] = {
        "Title": "Shop <b>hours</b>",
        "MainText": OLD_TEXT,
        "TextDigest": "one",
        "ContentHash": "h1",
        "StatusCode": 200,
    }
    _store(db, uri, page)
    return _store(db, uri, page | {"MainText": NEW_TEXT, "TextDigest": "two", "ContentHash": "h2"})


def test_a_page_lists_its_versions_and_diffs_its_text_by_line_and_word(db: Database) -> None:
    item_id = _page(db)
    with api_for(db) as api:
        listed = api.client.get(f"/api/items/{item_id}/versions")
        diff = api.client.get(f"/api/items/{item_id}/versions/1/diff/2")

    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["item_id"] == item_id
    assert [(v["version"], v["current"], v["has_text"]) for v in body["versions"]] == [
        (1, False, True),
        (2, True, True),
    ]
    assert body["versions"][0]["valid_to"] == body["versions"][1]["valid_from"]
    assert body["versions"][1]["valid_to"] is None
    assert len(body["versions"][0]["digest"]) == 64

    assert diff.status_code == 200, diff.text
    result = diff.json()
    assert result["page"] is True
    assert (result["old"]["version"], result["new"]["version"]) == (1, 2)
    assert result["fields"] == []  # the markup's ContentHash is no field to show
    lines = [line for hunk in result["text"]["hunks"] for line in hunk["lines"]]
    kinds = [(line["kind"], "".join(s["text"] for s in line["segments"])) for line in lines]
    assert ("removed", "Closed on Sundays") in kinds
    assert ("added", "New: Saturdays too") in kinds
    [changed] = [line for line in lines if line["kind"] == "changed"]
    assert [(s["kind"], s["text"]) for s in changed["segments"] if s["kind"] != "same"] == [
        ("removed", "9"),
        ("added", "8"),
        ("removed", "17"),
        ("added", "18"),
    ]
    assert result["text"]["added"] == 5  # 8, 18, "New: Saturdays too"
    assert result["text"]["removed"] == 5  # 9, 17, "Closed on Sundays"


def test_a_feed_entry_diffs_its_fields(db: Database) -> None:
    uri = make_uri()
    entry: dict[str, ItemValue] = {"Title": "Old title", "Summary": "s", "Category": ["a", "b"]}
    _store(db, uri, entry | {"CheckedAt": "1"})
    item_id = _store(db, uri, {"Title": "New title", "Category": ["a"], "Author": "Ann"})
    with api_for(db) as api:
        result = api.client.get(f"/api/items/{item_id}/versions/1/diff/2").json()
        backwards = api.client.get(f"/api/items/{item_id}/versions/2/diff/1").json()
        same = api.client.get(f"/api/items/{item_id}/versions/2/diff/2").json()
    assert result["page"] is False
    assert result["text"] is None
    assert result["fields"] == [
        {"key": "Author", "kind": "added", "old": [], "new": ["Ann"]},
        {"key": "Category", "kind": "changed", "old": ["a", "b"], "new": ["a"]},
        {"key": "Title", "kind": "changed", "old": ["Old title"], "new": ["New title"]},
    ]
    assert backwards["fields"][0] == {"key": "Author", "kind": "removed", "old": ["Ann"], "new": []}
    assert same["fields"] == []


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/api/items/{item}/versions/1/diff/9", "has no version 9"),
        ("/api/items/{item}/versions/7/diff/1", "has no version 7"),
        ("/api/items/2000000000/versions", "no item 2000000000"),
        ("/api/items/2000000000/versions/1/diff/1", "no item 2000000000"),
    ],
)
def test_missing_items_and_versions_are_clear_404s(db: Database, path: str, detail: str) -> None:
    item_id = _page(db)
    with api_for(db) as api:
        response = api.client.get(path.format(item=item_id))
    assert response.status_code == 404
    assert detail in response.text


def test_version_numbers_are_validated(db: Database) -> None:
    with api_for(db) as api:
        assert api.client.get("/api/items/1/versions/0/diff/1").status_code == 422
        assert api.client.get("/api/items/1/versions/x/diff/1").status_code == 422
