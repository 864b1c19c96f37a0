"""GET /api/items/export: the list's items, all of them, streamed as CSV or JSON lines."""

from __future__ import annotations

import csv
import io
import json

import pytest

from haystack_collector.db import Database
from haystack_collector.store.query import MAX_LIMIT
from tests.factories import make_engine
from tests.integration.api.items_fixtures import api_for, make_items, walk

COUNT = 2 * MAX_LIMIT + 37  # several keyset reads, the last one partial


def _as_csv_row(item: dict[str, object]) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in item.items()}


def test_jsonl_export_equals_the_list(db: Database) -> None:
    make_items(db, COUNT, data=lambda n: {"Title": f'Item {n}, "quoted"\nand ✓'})
    with api_for(db) as api:
        listed = walk(api.client, {"limit": 100})
        response = api.client.get("/api/items/export", params={"format": "jsonl"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert 'filename="items.jsonl"' in response.headers["content-disposition"]
    exported = [json.loads(line) for line in response.text.splitlines()]
    assert exported == listed
    assert len(exported) == COUNT


def test_csv_export_equals_the_list(db: Database) -> None:
    make_items(db, COUNT, data=lambda n: {"Title": f'Item {n}, "quoted"\nand ✓'})
    with api_for(db) as api:
        listed = walk(api.client, {"limit": 100})
        response = api.client.get("/api/items/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert rows == [_as_csv_row(item) for item in listed]
    assert rows[0]["title"].endswith('"quoted"\nand ✓')


@pytest.mark.parametrize(
    "title",
    ['=HYPERLINK("http://evil.test","x")', "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\r=1"],
)
def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_made_text(
    db: Database, title: str
) -> None:
    make_items(db, 1, data=lambda n: {"Title": title})
    with api_for(db) as api:
        as_csv = api.client.get("/api/items/export", params={"format": "csv"})
        as_jsonl = api.client.get("/api/items/export")
    [row] = csv.DictReader(io.StringIO(as_csv.text, newline=""))
    assert row["title"] == "'" + title
    assert json.loads(as_jsonl.text)["title"] == title  # JSON lines carry the value as it is


def test_the_export_takes_the_same_filters_as_the_list(db: Database) -> None:
    with db.transaction() as conn:
        engine = make_engine(conn, name="exporting")
    wanted = make_items(db, 3, engine_id=engine.engine_id, data=lambda n: {"Body": "harbour"})
    make_items(db, 3, data=lambda n: {"Body": "harbour"})
    make_items(db, 3, engine_id=engine.engine_id, data=lambda n: {"Body": "mountain"})
    with api_for(db) as api:
        response = api.client.get(
            "/api/items/export", params={"engine": "exporting", "q": "harbour"}
        )
    exported = [json.loads(line)["item_id"] for line in response.text.splitlines()]
    assert exported == sorted(wanted, reverse=True)


def test_an_empty_export_is_a_header_or_nothing(db: Database) -> None:
    with api_for(db) as api:
        as_csv = api.client.get("/api/items/export", params={"format": "csv"})
        as_jsonl = api.client.get("/api/items/export")
    header = ("item_id", "uri", "engine_id", "engine", "title", "created", "seen", "state")
    assert as_csv.text == ",".join(f'"{name}"' for name in header) + "\r\n"
    assert as_jsonl.text == ""


def test_csv_text_cells_are_quoted_so_no_separator_can_start_a_formula(db: Database) -> None:
    make_items(db, 1, data=lambda n: {"Title": "safe;=1+1"})
    with api_for(db) as api:
        as_csv = api.client.get("/api/items/export", params={"format": "csv"})
    lines = as_csv.text.splitlines()
    assert '"safe;=1+1"' in lines[1]  # one cell even where ";" separates cells
    assert lines[1].split(",", 1)[0].isdigit()  # numbers stay numbers
    [row] = csv.DictReader(io.StringIO(as_csv.text, newline=""))
    assert row["title"] == "safe;=1+1"


def test_exports_strip_credentials_from_urls_stored_before_they_were_stripped(
    db: Database,
) -> None:
    make_items(db, 1, data=lambda n: {"Title": "see https://alice:s3cret@git.example/ x"})
    with api_for(db) as api:
        as_csv = api.client.get("/api/items/export", params={"format": "csv"})
        as_jsonl = api.client.get("/api/items/export")
    assert "s3cret" not in as_csv.text
    assert "s3cret" not in as_jsonl.text
    assert json.loads(as_jsonl.text)["title"] == "see https://git.example/ x"


@pytest.mark.parametrize(
    "params",
    [{"format": "xml"}, {"value": "orphan"}, {"created_from": "soon"}, {"key": "\x00"}],
)
def test_a_bad_export_request_is_a_422_before_anything_is_sent(
    db: Database, params: dict[str, str]
) -> None:
    with api_for(db) as api:
        response = api.client.get("/api/items/export", params=params)
    assert response.status_code == 422
    assert "detail" in response.json()


def test_the_export_needs_a_token_when_reads_do(db: Database) -> None:
    with api_for(db, api_read_access="token") as api:
        assert api.client.get("/api/items/export").status_code == 401
        assert api.client.get("/api/items/export", headers=api.auth).status_code == 200


def test_the_export_is_sent_in_pieces_not_built_whole(db: Database) -> None:
    make_items(db, COUNT)
    with api_for(db) as api, api.client.stream("GET", "/api/items/export") as response:
        pieces = [piece for piece in response.iter_raw() if piece]
    assert len(pieces) >= COUNT // 200  # one piece per 200 rows written
    assert sum(piece.count(b"\n") for piece in pieces) == COUNT
