"""The dashboard's items-per-day chart (counted by the database on every backend) and the
UI's server side: pages, static files and ``install_ui``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import update
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.api.app import create_app
from haystack_collector.db import Database
from haystack_collector.db.schema import items
from haystack_collector.settings import Settings
from haystack_collector.store import ItemRecord
from haystack_collector.store._sql import utcnow
from haystack_collector.store.tokens import create_token
from haystack_collector.ui import install_ui
from haystack_collector.ui.charts import HEIGHT, DayCount, bar_chart_svg, items_per_day
from tests.integration.api.core_fixtures import LOCAL_URL

SVG = "{http://www.w3.org/2000/svg}"
TODAY = date(2026, 3, 10)


def add_items(db: Database, created: dict[str, datetime]) -> None:
    """Items created at the given instants (naive UTC, as the columns hold them)."""
    engine_id = db.run(store.register_engine, name="chartTest", version="1.0")
    result = db.run(
        store.store_items, engine_id=engine_id, records=[ItemRecord(uri=uri) for uri in created]
    )

    def backdate(conn: Connection) -> None:
        for uri, moment in created.items():
            item_id = result.item_ids[uri]
            conn.execute(update(items).where(items.c.itemId == item_id).values(itemCreated=moment))

    db.run(backdate)


def test_items_are_counted_per_utc_day_with_empty_days_as_zero(db: Database) -> None:
    add_items(
        db,
        {
            "https://chart.test/a": datetime(2026, 3, 10, 0, 0, 0),
            "https://chart.test/b": datetime(2026, 3, 10, 23, 59, 59),
            "https://chart.test/c": datetime(2026, 3, 8, 12, 0),
            "https://chart.test/too-old": datetime(2026, 3, 6, 23, 59, 59),
        },
    )
    counts = db.run_read(items_per_day, days=4, today=TODAY)
    assert counts == [
        DayCount(date(2026, 3, 7), 0),
        DayCount(date(2026, 3, 8), 1),
        DayCount(date(2026, 3, 9), 0),
        DayCount(date(2026, 3, 10), 2),
    ]


def test_an_empty_database_draws_an_empty_chart(db: Database) -> None:
    counts = db.run_read(items_per_day, days=3, today=TODAY)
    assert [c.count for c in counts] == [0, 0, 0]
    svg = etree.fromstring(bar_chart_svg(counts).encode())
    assert [float(r.get("height", "")) for r in svg.iter(f"{SVG}rect")] == [0.0, 0.0, 0.0]


def test_bars_scale_to_the_busiest_day_and_carry_their_counts() -> None:
    counts = [DayCount(TODAY - timedelta(days=2 - n), c) for n, c in enumerate([5, 0, 10])]
    svg = etree.fromstring(bar_chart_svg(counts).encode())
    bars = list(svg.iter(f"{SVG}rect"))
    heights = [float(bar.get("height", "")) for bar in bars]
    assert heights[1] == 0
    assert heights[2] == pytest.approx(2 * heights[0])
    assert 0 < heights[2] < HEIGHT
    assert [bar.findtext(f"{SVG}title") for bar in bars] == [
        "2026-03-08: 5",
        "2026-03-09: 0",
        "2026-03-10: 10",
    ]
    assert svg.findtext(f"{SVG}title") == "Items per day, last 3 days"


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db.safe_url, api_read_access="open"), db)
    install_ui(app)
    install_ui(app)  # a second call (e.g. once create_app does it itself) changes nothing
    with TestClient(app, base_url=LOCAL_URL) as client:
        yield client


def test_the_chart_is_served_as_an_svg_image(db: Database, client: TestClient) -> None:
    add_items(db, {"https://chart.test/now": utcnow()})
    response = client.get("/ui/charts/items-per-day.svg", params={"days": 7})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-store"
    svg = etree.fromstring(response.content)
    titles = [bar.findtext(f"{SVG}title", "") for bar in svg.iter(f"{SVG}rect")]
    assert len(titles) == 7
    assert titles[-1].endswith(": 1")


@pytest.mark.parametrize("days", ["0", "367", "x"])
def test_a_bad_chart_range_is_a_422(client: TestClient, days: str) -> None:
    response = client.get("/ui/charts/items-per-day.svg", params={"days": days})
    assert response.status_code == 422
    assert "detail" in response.json()


def test_pages_are_html_and_unknown_pages_are_404(client: TestClient) -> None:
    for path in ("/", "/engines", "/items", "/items/7", "/runs", "/queue", "/hosts", "/status"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
    assert 'data-item-id="7"' in client.get("/items/7").text
    assert client.get("/items/seven").status_code == 422
    assert client.get("/no-such-page").status_code == 404
    assert client.get("/static/../ui/routes.py").status_code == 404
    # The UI is not part of the API's schema.
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith(("/ui", "/static")) for path in paths)
    assert "/items" not in paths


def test_the_chart_is_read_data_and_follows_the_read_access_setting(db: Database) -> None:
    app = create_app(Settings(database_url=db.safe_url, api_read_access="token"), db)
    install_ui(app)
    secret = db.run(create_token, name="chart-reader")
    with TestClient(app, base_url=LOCAL_URL) as client:
        refused = client.get("/ui/charts/items-per-day.svg")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        allowed = client.get(
            "/ui/charts/items-per-day.svg", headers={"Authorization": f"Bearer {secret}"}
        )
        assert allowed.status_code == 200
        # The pages themselves hold no data: they load, and their scripts ask with the token.
        assert client.get("/").status_code == 200
