"""``/api/revisits`` and ``/api/items/{id}/visits`` on every backend: policies set, listed and
removed (writes need a token), and an item's visits after a real re-visit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from haystack_collector.db import Database
from haystack_collector.engines.web_scraper import WebScraper
from tests.integration.api.core_fixtures import client_for, core_app, mint
from tests.integration.revisit.helpers import age, crawl_site, drain, fire, item_ids
from tests.integration.revisit.site import Site, serve


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with client_for(core_app(db)) as test_client:
        yield test_client


def test_policies_are_set_listed_and_removed_with_a_token(db: Database, client: TestClient) -> None:
    _, auth = mint(db)
    answer = client.put(
        "/api/revisits/webScraper", json={"every": 86400, "older_than": 43200}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "revisit:webScraper"
    answer = client.put(
        "/api/revisits/sites", json={"every": 3600, "site": "indeed", "batch": 10}, headers=auth
    )
    assert answer.status_code == 200
    assert (answer.json()["older_than"], answer.json()["batch"]) == (1800, 10)

    listed = client.get("/api/revisits").json()["policies"]
    assert [(p["name"], p["engine"], p["every"]) for p in listed] == [
        ("revisit:sites:indeed", "sites", 3600),
        ("revisit:webScraper", "webScraper", 86400),
    ]
    assert client.delete("/api/revisits/sites?site=indeed", headers=auth).status_code == 204
    assert client.delete("/api/revisits/sites?site=indeed", headers=auth).status_code == 404
    assert [p["name"] for p in client.get("/api/revisits").json()["policies"]] == [
        "revisit:webScraper"
    ]


def test_writes_need_a_token_and_bad_policies_are_refused(db: Database, client: TestClient) -> None:
    assert client.put("/api/revisits/webScraper", json={"every": 60}).status_code == 401
    assert client.delete("/api/revisits/webScraper").status_code == 401
    _, auth = mint(db)
    assert client.put("/api/revisits/nosuch", json={"every": 60}, headers=auth).status_code == 404
    refused = client.put("/api/revisits/fileDownloader", json={"every": 60}, headers=auth)
    assert refused.status_code == 422
    assert "does not re-visit" in refused.json()["detail"]
    assert client.put("/api/revisits/rss", json={"every": 0}, headers=auth).status_code == 422
    site = client.put("/api/revisits/rss", json={"every": 60, "site": "indeed"}, headers=auth)
    assert site.status_code == 422
    assert client.get("/api/revisits").json()["policies"] == []


def test_an_item_s_visits_after_a_re_visit(db: Database, client: TestClient) -> None:
    site = Site()
    site.html("/", "Home", "the start", ("/a",))
    site.html("/a", "A", "page a")
    with serve(site) as base:
        crawl_site(db, base + "/")
        [page] = item_ids(db, base + "/a")
        _, auth = mint(db)
        client.put("/api/revisits/webScraper", json={"every": 60, "older_than": 60}, headers=auth)
        age(db, WebScraper, [page], days=1)
        assert fire(db, "revisit:webScraper") == 1
        drain(db, [WebScraper])

    answer = client.get(f"/api/items/{page}/visits")
    assert answer.status_code == 200
    [visit] = answer.json()["visits"]
    assert (visit["item_id"], visit["outcome"], visit["status"]) == (page, "unchanged", 304)
    assert client.get("/api/items/999999/visits").status_code == 404
