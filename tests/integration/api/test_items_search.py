"""Full-text search (``q``): words anywhere in an item's data, on each database's own index."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import insert

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.migrate import _config, status, upgrade
from haystack_collector.db.schema import item_data
from haystack_collector.store import admin
from haystack_collector.store.query import TOTAL_CAP
from haystack_collector.store.search import Term, parse_query
from tests.integration.api.items_fixtures import api_for, make_items, walk

POSTINGS = {
    "rust": {"Title": "Senior Rust developer", "Body": "Build compilers in Vancouver"},
    "python": {"Title": "Python engineer", "Body": "Django and PostgreSQL, remote friendly"},
    "both": {"Title": "Polyglot wanted", "Body": "Python by day, Rust by night; Vancouver"},
    "chef": {"Title": "Line cook", "Body": "Busy kitchen downtown"},
}


def _store_postings(db: Database) -> dict[str, int]:
    names = list(POSTINGS)
    ids = make_items(db, len(names), data=lambda n: POSTINGS[names[n]])
    return dict(zip(names, ids, strict=True))


def _search(db: Database, q: str, **params: object) -> set[int]:
    with api_for(db) as api:
        return {item["item_id"] for item in walk(api.client, {"q": q, **params})}


def test_words_in_titles_and_bodies_find_their_items(db: Database) -> None:
    ids = _store_postings(db)
    assert _search(db, "rust") == {ids["rust"], ids["both"]}
    assert _search(db, "kitchen") == {ids["chef"]}  # a body word
    assert _search(db, "Django") == {ids["python"]}
    assert _search(db, "nowhere") == set()


def test_every_word_must_occur_but_each_may_be_in_another_value(db: Database) -> None:
    ids = _store_postings(db)
    assert _search(db, "rust vancouver") == {ids["rust"], ids["both"]}
    assert _search(db, "polyglot vancouver") == {ids["both"]}  # title word + body word
    assert _search(db, "python rust") == {ids["both"]}
    assert _search(db, "rust kitchen") == set()


def test_search_ignores_case_and_punctuation(db: Database) -> None:
    ids = _store_postings(db)
    assert _search(db, "RUST") == {ids["rust"], ids["both"]}
    assert _search(db, "python, rust!") == {ids["both"]}


def test_a_trailing_star_matches_words_starting_with_it(db: Database) -> None:
    ids = _store_postings(db)
    assert _search(db, "compil*") == {ids["rust"]}
    assert _search(db, "post*") == {ids["python"]}


def test_search_combines_with_the_other_filters_and_counts(db: Database) -> None:
    ids = _store_postings(db)
    with api_for(db) as api:
        body = api.client.get("/api/items", params={"q": "vancouver", "limit": 1}).json()
        narrowed = walk(api.client, {"q": "vancouver", "key": "Title", "value": "Polyglot wanted"})
    assert (body["total"], body["total_exact"]) == (2, True)
    assert body["items"][0]["item_id"] == ids["both"]  # newest first, as ever
    assert body["next"] is not None
    assert [item["item_id"] for item in narrowed] == [ids["both"]]


def test_a_first_page_counts_matches_whether_the_words_share_a_value_or_not(
    db: Database,
) -> None:
    # 1,020 items with both words in one value: past the count's cap, so a lower bound.
    together = make_items(db, TOTAL_CAP + 20, data=lambda n: {"Title": f"Harbour pilot {n}"})
    # 30 items with the words in two values: none counted by a same-value shortcut alone.
    apart = make_items(db, 30, data=lambda n: {"Title": "Ferry master", "Body": "tidal harbour"})
    with api_for(db) as api:
        many = api.client.get("/api/items", params={"q": "harbour pilot", "limit": 10}).json()
        few = api.client.get("/api/items", params={"q": "ferry harbour", "limit": 10}).json()
        rest = walk(api.client, {"q": "ferry harbour", "limit": 10})
    assert (many["total"], many["total_exact"]) == (TOTAL_CAP, False)
    assert [item["item_id"] for item in many["items"]] == sorted(together, reverse=True)[:10]
    assert (few["total"], few["total_exact"]) == (30, True)
    assert [item["item_id"] for item in rest] == sorted(apart, reverse=True)


def test_search_follows_changes_to_the_data(db: Database) -> None:
    ids = _store_postings(db)
    with db.transaction() as conn:
        store.set_item_data(conn, item_id=ids["chef"], key="Body", value="Pastry in Vancouver")
    assert _search(db, "kitchen") == set()
    assert _search(db, "pastry") == {ids["chef"]}
    with db.transaction() as conn:
        row = admin.table_rows(conn, table="ItemData", search="Pastry in Vancouver")[0]
        admin.update_record(
            conn,
            table="ItemData",
            record_id=row["ItemDataId"],
            values={"itemDataValue": "Sourdough bakery"},
        )
    assert _search(db, "pastry") == set()
    assert _search(db, "sourdough") == {ids["chef"]}
    with db.transaction() as conn:
        admin.delete_record(conn, table="Items", record_id=ids["chef"])
    assert _search(db, "sourdough") == set()


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '""',
        "*",
        "**",
        "AND",
        "OR",
        "NOT",
        "-",
        "-rust",
        "+rust",
        "(",
        ")",
        "rust)",
        "NEAR(rust",
        "rust AND",
        "a:b",
        "Title:rust",
        "^rust",
        "~",
        "@@",
        "<>",
        "'",
        "\\",
        "%",
        "_",
        "rust\x00python",
        "\x00",
        "🦀",
        "   ",
        "the",
        "a b c d e f g h i j k l",
        "x" * 500,
    ],
)
def test_odd_queries_are_answered_never_a_server_error(db: Database, q: str) -> None:
    _store_postings(db)
    with api_for(db) as api:
        response = api.client.get("/api/items", params={"q": q})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)


def test_operator_words_are_searched_as_plain_words(db: Database) -> None:
    ids = make_items(db, 2, data=lambda n: {"Title": ["Rust AND Python", "Rust only"][n]})
    assert _search(db, "rust AND") == {ids[0]}
    assert _search(db, '"rust" -python') == {ids[0]}  # the minus is not a NOT


def test_a_query_is_split_into_quoted_words_never_operators() -> None:
    assert parse_query('"rust" AND (pyth* -go)\x00') == [
        Term("rust"),
        Term("and"),
        Term("pyth", prefix=True),
        Term("go"),
    ]
    assert parse_query("rust rust Rust") == [Term("rust")]
    assert len(parse_query(" ".join(f"w{n}" for n in range(50)))) == 8


def test_the_fulltext_index_is_rebuilt_from_existing_rows_after_a_downgrade(
    db: Database,
) -> None:
    ids = _store_postings(db)
    try:  # the database is shared by the whole run: it always goes back to head
        with db.transaction() as conn:
            command.downgrade(_config(conn), "0004")
        assert status(db).pending[0] == "0005"
        with db.transaction() as conn:  # data stored while there is no index (by the code of
            # that time: today's store also keeps versions, whose table 0004 does not have)...
            conn.execute(
                insert(item_data).values(
                    itemId=ids["chef"], itemData="Body", itemDataValue="Espresso bar", itemDataSeq=0
                )
            )
    finally:
        upgrade(db)
    assert status(db).pending == ()
    assert _search(db, "espresso") == {ids["chef"]}  # ...is found once 0005 backfills it
    assert _search(db, "rust") == {ids["rust"], ids["both"]}


def test_paging_through_many_matches_lists_each_item_once(db: Database) -> None:
    # Every item holds the word twice (title and body): it must still be listed once.
    ids = make_items(
        db, 1_300, data=lambda n: {"Title": f"Harbour pilot {n + 100}", "Body": "harbour and sea"}
    )
    make_items(db, 50, data=lambda n: {"Title": f"Mountain guide {n}"})
    with api_for(db) as api:
        first = api.client.get("/api/items", params={"q": "harbour", "limit": 100}).json()
        found = walk(api.client, {"q": "harbour", "limit": 100})
        # (numbers of three digits or more: MariaDB does not index words shorter than three)
        both = walk(api.client, {"q": "harbour pilot 11*", "limit": 100})
    assert (first["total"], first["total_exact"]) == (TOTAL_CAP, False)
    assert [item["item_id"] for item in found] == sorted(ids, reverse=True)
    expected = {ids[n] for n in range(1_300) if str(n + 100).startswith("11")}
    assert {item["item_id"] for item in both} == expected


def test_a_row_that_becomes_text_becomes_searchable(db: Database) -> None:
    [item] = make_items(db, 1, data=lambda n: {"Count": 424_242, "When": date(2026, 1, 2)})
    with db.transaction() as conn:
        row = admin.table_rows(conn, table="ItemData", search="424242")[0]
        admin.update_record(
            conn,
            table="ItemData",
            record_id=row["ItemDataId"],
            values={"itemDataValue": "Zebra crossing", "itemDataType": "str"},
        )
    assert _search(db, "zebra") == {item}
    with db.transaction() as conn:
        admin.delete_record(conn, table="Items", record_id=item)
    assert _search(db, "zebra") == set()
