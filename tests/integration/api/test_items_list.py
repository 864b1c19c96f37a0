"""GET /api/items: newest first, keyset pages that visit every item once, and every filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import items
from haystack_collector.store import query
from haystack_collector.store.batch import ItemRecord, LinkSpec
from haystack_collector.store.query import TOTAL_CAP, encode_cursor
from tests.factories import make_engine
from tests.integration.api.items_fixtures import api_for, make_items, walk


def test_an_empty_database_lists_no_items(db: Database) -> None:
    with api_for(db) as api:
        response = api.client.get("/api/items")
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0, "total_exact": True, "next": None}


def test_items_come_newest_first_with_their_title_engine_and_timestamps(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn, name="listing")
    titled = make_items(db, 2, engine_id=engine.engine_id)
    job = make_items(db, 1, data=lambda n: {"JobTitle": "Rust engineer", "JobCompany": "Ferris"})
    untitled = make_items(db, 1, data=lambda n: {"Body": "no title here"})
    with api_for(db) as api:
        body = api.client.get("/api/items").json()

    assert [item["item_id"] for item in body["items"]] == [*untitled, *job, *reversed(titled)]
    assert body["total"] == 4
    assert body["next"] is None
    first_titled = body["items"][-1]
    assert first_titled["title"] == "Item 0"
    assert first_titled["engine_id"] == engine.engine_id
    assert first_titled["engine"] == "listing"
    assert first_titled["uri"].endswith("/0")
    created = datetime.fromisoformat(first_titled["created"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)
    assert datetime.fromisoformat(first_titled["seen"]).tzinfo is not None
    assert body["items"][1]["title"] == "Rust engineer"  # JobTitle names a posting
    assert body["items"][0]["title"] is None
    assert body["items"][0]["engine"] is None


def test_a_title_prefers_title_over_job_title(db: Database) -> None:
    make_items(db, 1, data=lambda n: {"JobTitle": "second choice", "Title": "first choice"})
    with api_for(db) as api:
        assert api.client.get("/api/items").json()["items"][0]["title"] == "first choice"


def test_walking_ten_thousand_items_page_by_page_visits_each_exactly_once(db: Database) -> None:
    ids = make_items(db, 10_001)
    with api_for(db) as api:
        first = api.client.get("/api/items", params={"limit": 500}).json()
        found = walk(api.client, {"limit": 500})

    assert first["total"] == TOTAL_CAP  # counting stops past the cap...
    assert first["total_exact"] is False  # ...and says so
    assert len(first["items"]) == 500
    seen = [item["item_id"] for item in found]
    assert seen == sorted(ids, reverse=True)
    assert len(set(seen)) == len(ids) == 10_001


def test_items_stored_while_paging_do_not_shift_the_pages_still_to_come(db: Database) -> None:
    ids = make_items(db, 30)
    with api_for(db) as api:
        page = api.client.get("/api/items", params={"limit": 10}).json()
        make_items(db, 5)  # newer items go before the first page, not into the next ones
        rest = walk(api.client, {"limit": 10, "cursor": page["next"]})
    assert [i["item_id"] for i in page["items"] + rest] == sorted(ids, reverse=True)


def test_totals_are_exact_up_to_the_cap(db: Database) -> None:
    make_items(db, 120)
    with api_for(db) as api:
        body = api.client.get("/api/items", params={"limit": 7}).json()
    assert (body["total"], body["total_exact"], len(body["items"])) == (120, True, 7)
    assert body["next"] is not None


def test_filters_by_engine_name_and_id(db: Database) -> None:
    with db.transaction() as conn:
        one = make_engine(conn, name="alpha-engine")
        two = make_engine(conn, name="beta-engine")
    alpha = make_items(db, 3, engine_id=one.engine_id)
    beta = make_items(db, 2, engine_id=two.engine_id)
    with api_for(db) as api:
        by_name = walk(api.client, {"engine": "beta-engine"})
        by_id = walk(api.client, {"engine_id": one.engine_id})
        nobody = api.client.get("/api/items", params={"engine": "no-such-engine"}).json()
    assert sorted(i["item_id"] for i in by_name) == beta
    assert sorted(i["item_id"] for i in by_id) == alpha
    assert nobody["items"] == []
    assert nobody["total"] == 0


def test_filters_by_data_key_and_by_key_and_value(db: Database) -> None:
    remote = make_items(db, 2, data=lambda n: {"Title": f"r{n}", "JobLocation": "Remote"})
    onsite = make_items(db, 2, data=lambda n: {"Title": f"o{n}", "JobLocation": "Vancouver"})
    plain = make_items(db, 2)
    with api_for(db) as api:
        has_key = walk(api.client, {"key": "JobLocation"})
        exact = walk(api.client, {"key": "JobLocation", "value": "Remote"})
        title = walk(api.client, {"key": "Title"})
    assert sorted(i["item_id"] for i in has_key) == remote + onsite
    assert sorted(i["item_id"] for i in exact) == remote
    assert sorted(i["item_id"] for i in title) == remote + onsite + plain


def test_filters_by_links_in_either_direction(db: Database) -> None:
    with db.transaction() as conn:
        result = store.store_items(
            conn,
            engine_id=None,
            records=[
                ItemRecord(
                    uri="https://links.test/index",
                    links=[
                        LinkSpec("https://links.test/a", "contains"),
                        LinkSpec("https://links.test/b", "contains"),
                    ],
                ),
                ItemRecord(
                    uri="https://links.test/c",
                    links=[LinkSpec("https://links.test/a", "references")],
                ),
            ],
        )
    ids = result.item_ids
    with api_for(db) as api:
        children = walk(api.client, {"linked_from": ids["https://links.test/index"]})
        pointing_at_a = walk(api.client, {"linked_to": ids["https://links.test/a"]})
        both = walk(
            api.client,
            {"linked_to": ids["https://links.test/a"], "linked_from": ids["https://links.test/c"]},
        )
    assert {i["uri"] for i in children} == {"https://links.test/a", "https://links.test/b"}
    assert {i["uri"] for i in pointing_at_a} == {
        "https://links.test/index",
        "https://links.test/c",
    }
    assert both == []  # c links to a, but nothing both links to a and is linked from c


def test_filters_by_created_and_seen_ranges(db: Database) -> None:
    ids = make_items(db, 4)
    january = datetime(2024, 1, 15, tzinfo=UTC)
    with db.transaction() as conn:
        for offset, item_id in enumerate(ids):
            moment = (january + timedelta(days=31 * offset)).replace(tzinfo=None)
            conn.execute(
                update(items)
                .where(items.c.itemId == item_id)
                .values(itemCreated=moment, ItemDTS=moment + timedelta(hours=1))
            )
    with api_for(db) as api:
        created = walk(
            api.client,
            {"created_from": "2024-02-01T00:00:00Z", "created_to": "2024-04-01T00:00:00Z"},
        )
        seen = walk(api.client, {"seen_from": "2024-03-17T00:00:00+00:00"})
        naive_is_utc = walk(api.client, {"seen_to": "2024-01-15T01:00:00"})
        through_the_end = walk(api.client, {"seen_to": "2024-01-15T01:00:01"})
    assert sorted(i["item_id"] for i in created) == ids[1:3]
    assert sorted(i["item_id"] for i in seen) == ids[2:]
    assert naive_is_utc == []  # the end of a range is exclusive
    assert [i["item_id"] for i in through_the_end] == ids[:1]
    assert through_the_end[0]["created"].startswith("2024-01-15T00:00:00")


def test_filters_combine(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn, name="combining")
    wanted = make_items(
        db, 3, engine_id=engine.engine_id, data=lambda n: {"Title": "x", "Kind": "job"}
    )
    make_items(db, 3, engine_id=engine.engine_id, data=lambda n: {"Title": "x", "Kind": "page"})
    make_items(db, 3, data=lambda n: {"Title": "x", "Kind": "job"})
    with api_for(db) as api:
        found = walk(api.client, {"engine": "combining", "key": "Kind", "value": "job"})
    assert sorted(i["item_id"] for i in found) == wanted


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"cursor": "not-a-cursor!"}, "cursor"),
        ({"cursor": "aGVsbG8"}, "cursor"),  # base64 of "hello": decodes, but is not ours
        ({"cursor": "%%%"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"engine_id": "x"}, "engine_id"),
        ({"engine_id": -1}, "engine_id"),
        ({"linked_to": 2**40}, "linked_to"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"value": "Remote"}, "key"),  # a value means nothing without its key
        ({"key": "a\x00b"}, "NUL"),
        ({"q": "x" * 501}, "q"),
    ],
)
def test_bad_parameters_are_a_422_naming_the_problem(
    db: Database, params: dict[str, object], complaint: str
) -> None:
    with api_for(db) as api:
        response = api.client.get("/api/items", params=params)
    assert response.status_code == 422, response.text
    assert complaint in response.text


def test_a_cursor_past_the_oldest_item_is_an_empty_last_page(db: Database) -> None:
    make_items(db, 3)
    with api_for(db) as api:
        body = api.client.get("/api/items", params={"cursor": encode_cursor(1)}).json()
    assert body["items"] == []
    assert body["next"] is None


def test_reads_need_a_token_when_the_settings_say_so(db: Database) -> None:
    make_items(db, 1)
    with api_for(db, api_read_access="token") as api:
        refused = api.client.get("/api/items")
        wrong = api.client.get("/api/items", headers={"Authorization": "Bearer nope"})
        allowed = api.client.get("/api/items", headers=api.auth)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert allowed.status_code == 200
    assert len(allowed.json()["items"]) == 1


def test_an_invalid_token_is_refused_even_on_loopback(db: Database) -> None:
    with api_for(db) as api:
        response = api.client.get("/api/items", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert response.json()["detail"]


def test_values_with_accents_and_punctuation_filter_exactly(db: Database) -> None:
    values = ["Zürich", "C++ / Go", "remote (EU)", "Remote", "???", "zurich"]
    ids = make_items(db, len(values), data=lambda n: {"JobLocation": values[n]})
    with api_for(db) as api:
        for n, value in enumerate(values):
            found = walk(api.client, {"key": "JobLocation", "value": value})
            assert [item["item_id"] for item in found] == [ids[n]], value


def test_later_pages_carry_the_first_pages_total(db: Database) -> None:
    make_items(db, 30)
    with api_for(db) as api:
        first = api.client.get("/api/items", params={"limit": 10}).json()
        make_items(db, 5)
        second = api.client.get("/api/items", params={"limit": 10, "cursor": first["next"]})
    assert first["total"] == 30
    assert second.json()["total"] == 30  # as of the first page: no recount per page


@pytest.mark.parametrize("rare_below", [1, 1_000_000])
def test_key_filters_agree_whether_a_key_counts_as_common_or_rare(
    db: Database, monkeypatch: pytest.MonkeyPatch, rare_below: int
) -> None:
    # SQLite checks a common key item by item and lists a rare one's rows: same answers.
    monkeypatch.setattr(query, "_RARE_KEY", rare_below)
    tagged = make_items(db, 3, data=lambda n: {"Title": f"t{n}", "Tag": "★"})
    make_items(db, 3)
    with api_for(db) as api:
        by_key = walk(api.client, {"key": "Tag"})
        by_value = walk(api.client, {"key": "Tag", "value": "★"})
    assert sorted(i["item_id"] for i in by_key) == tagged
    assert sorted(i["item_id"] for i in by_value) == tagged
