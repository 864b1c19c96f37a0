"""The postings board's API: the list and its filters, one posting, status changes (with auth,
invalid moves and unknown postings) and the CSV export, on every backend."""

from __future__ import annotations

from datetime import date
from typing import Any

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.extract.postings import PostingFields, posting_fingerprint
from haystack_collector.store import ItemRecord
from tests.factories import make_engine
from tests.integration.api.items_fixtures import Api, api_for


def _post(db: Database, engine_id: int, uri: str, job: PostingFields, **extra: Any) -> str:
    db.run(
        store.store_items,
        engine_id=engine_id,
        records=[ItemRecord(uri=uri, data=job.as_item_data() | extra, state=store.FETCHED)],
    )
    fingerprint = posting_fingerprint(job.title, job.company, job.location)
    assert fingerprint is not None
    return fingerprint


def _board(db: Database) -> dict[str, str]:
    engine = db.run(make_engine, name="postings-api-test").engine_id
    return {
        "analyst": _post(
            db,
            engine,
            "https://jobs.test/1",
            PostingFields(
                "Data Analyst",
                "Absolute",
                "Victoria, BC",
                compensation="$80/h",
                posted=date(2026, 3, 3),
                source="board",
            ),
        ),
        "python": _post(
            db,
            engine,
            "craigslist:posting/2",
            PostingFields("Python Developer", "Hootsuite", "Vancouver, BC", source="craigslist"),
            Url="https://vancouver.craigslist.org/sof/d/2.html",
        ),
    }


def _titles(api: Api, **params: Any) -> list[str]:
    response = api.client.get("/api/postings", params=params)
    assert response.status_code == 200, response.text
    return [posting["title"] for posting in response.json()["postings"]]


def test_the_list_filters_and_pages(db: Database) -> None:
    fingerprints = _board(db)
    with api_for(db) as api:
        body = api.client.get("/api/postings").json()
        assert body["total"] == 2
        assert body["counts"]["new"] == 2
        python = body["postings"][0]
        assert python["fingerprint"] == fingerprints["python"]
        assert python["sources"] == ["craigslist"]
        assert python["items"][0]["url"] == "https://vancouver.craigslist.org/sof/d/2.html"
        assert python["items"][0]["state"] == "fetched"
        assert (python["status"], python["gone"]) == ("new", False)
        analyst = body["postings"][1]
        assert (analyst["compensation"], analyst["compensation_amount"]) == ("$80/h", 166400.0)
        assert analyst["posted"] == "2026-03-03"

        assert _titles(api, q="python") == ["Python Developer"]
        assert _titles(api, source="board") == ["Data Analyst"]
        assert _titles(api, location="vancouver") == ["Python Developer"]
        assert _titles(api, compensation="true") == ["Data Analyst"]
        assert _titles(api, compensation="false") == ["Python Developer"]
        assert _titles(api, min_compensation=200_000) == []
        assert _titles(api, min_compensation=150_000) == ["Data Analyst"]
        assert _titles(api, posted_since="2026-03-04") == []
        assert _titles(api, status=["seen", "new"]) == ["Python Developer", "Data Analyst"]
        assert _titles(api, limit=1, offset=1) == ["Data Analyst"]
        assert api.client.get("/api/postings", params={"status": "hired"}).status_code == 422
        assert api.client.get("/api/postings", params={"limit": 0}).status_code == 422


def test_status_changes_need_a_token_and_follow_the_workflow(db: Database) -> None:
    fingerprint = _board(db)["python"]
    path = f"/api/postings/{fingerprint}/status"
    with api_for(db, token_name="board-owner") as api:
        refused = api.client.post(path, json={"status": "seen"})
        assert refused.status_code == 401
        forged = api.client.post(
            path, json={"status": "seen"}, headers={"Authorization": "Bearer nope"}
        )
        assert forged.status_code == 401
        assert api.client.get(f"/api/postings/{fingerprint}").json()["status"] == "new"

        seen = api.client.post(path, json={"status": "seen"}, headers=api.auth)
        assert seen.status_code == 200, seen.text
        assert seen.json() | {"date": None} == {
            "fingerprint": fingerprint,
            "previous": "new",
            "status": "seen",
            "changed": True,
            "date": None,
        }
        applied = api.client.post(
            path, json={"status": "applied", "note": "via the site"}, headers=api.auth
        )
        assert applied.status_code == 200

        invalid = api.client.post(path, json={"status": "new"}, headers=api.auth)
        assert invalid.status_code == 409
        assert invalid.json()["detail"] == (
            "a posting that is applied cannot become new"
            " (it may become: interviewing, offer, rejected, archived, ignored)"
        )
        unknown = api.client.post(path, json={"status": "hired"}, headers=api.auth)
        assert unknown.status_code == 422
        extra = api.client.post(path, json={"status": "seen", "x": 1}, headers=api.auth)
        assert extra.status_code == 422
        missing = api.client.post(
            f"/api/postings/{'0' * 32}/status", json={"status": "seen"}, headers=api.auth
        )
        assert missing.status_code == 404

        detail = api.client.get(f"/api/postings/{fingerprint}").json()
        assert detail["status"] == "applied"
        assert [(h["status"], h["note"], h["by"]) for h in detail["history"]] == [
            ("seen", None, "board-owner"),
            ("applied", "via the site", "board-owner"),
        ]
        assert detail["allowed"] == ["interviewing", "offer", "rejected", "archived", "ignored"]
        assert detail["items"][0]["uri"] == "craigslist:posting/2"
        assert api.client.get(f"/api/postings/{'0' * 32}").status_code == 404


def test_the_csv_export_is_exact_filtered_and_defuses_formulas(db: Database) -> None:
    engine = db.run(make_engine, name="postings-csv-test").engine_id
    hostile = _post(
        db,
        engine,
        "https://jobs.test/evil",
        PostingFields(
            '=HYPERLINK("http://evil.test","click")',
            "+Company",
            "-Location, with comma",
            compensation="@SUM(1)",
            posted=date(2026, 1, 2),
            source="board",
        ),
    )
    plain = _post(
        db,
        engine,
        "https://jobs.test/plain",
        PostingFields('Plain "quoted" title', None, None, compensation="$90k", source="feed"),
    )
    with api_for(db) as api:
        listed = api.client.get("/api/postings").json()["postings"]
        # The CSV writes ISO-8601 with "+00:00" where the JSON writes "Z".
        found = {p["fingerprint"]: p["found"].replace("Z", "+00:00") for p in listed}
        response = api.client.get("/api/postings.csv")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert 'filename="postings.csv"' in response.headers["content-disposition"]
        header = (
            '"fingerprint","status","title","company","location","compensation",'
            '"compensation_per_year","employment_type","posted","found","status_changed",'
            '"gone","gone_at","sources","urls"'
        )
        assert response.text.split("\r\n") == [
            header,
            f'"{plain}","new","Plain ""quoted"" title","","","$90k",90000,"","",'
            f'"{found[plain]}","","no","","feed","https://jobs.test/plain"',
            f'"{hostile}","new","\'=HYPERLINK(""http://evil.test"",""click"")",'
            f'"\'+Company","\'-Location, with comma","\'@SUM(1)",1,"","2026-01-02",'
            f'"{found[hostile]}","","no","","board","https://jobs.test/evil"',
            "",
        ]
        filtered = api.client.get("/api/postings.csv", params={"source": "feed"})
        assert filtered.text.count("\r\n") == 2  # the header and the feed's posting
        assert plain in filtered.text
        assert api.client.get("/api/postings.csv", params={"status": "nope"}).status_code == 422
