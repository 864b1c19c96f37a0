"""Every UI page in chromium: served offline from this app, says when the API is away,
keeps the token, and drives the API's writes (engines, runs, queue) with clear errors."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Request, Route, expect

from haystack_collector import store
from haystack_collector.db.schema import item_events
from haystack_collector.store import ItemRecord
from haystack_collector.store._sql import utcnow
from haystack_collector.store.events import get_event
from haystack_collector.store.runs import create_run, get_run
from haystack_collector.store.schedules import add_schedule
from tests.e2e.ui_fixtures import BrowserPage, LiveApp, dead_event, seed_items, set_token

PAGES = [
    ("/", "Dashboard"),
    ("/engines", "Engines"),
    ("/items", "Items"),
    ("/postings", "Postings"),
    ("/runs", "Runs"),
    ("/queue", "Queue"),
    ("/hosts", "Hosts"),
    ("/status", "Status log"),
    ("/config", "Config"),
    ("/admin", "Database"),
]


@pytest.mark.parametrize(("path", "heading"), PAGES)
def test_every_page_is_served_whole_by_this_app(
    ui_page: BrowserPage, ui_server: LiveApp, path: str, heading: str
) -> None:
    page = ui_page.page
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = page.goto(path)
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    expect(page.locator("h1")).to_have_text(heading)
    expect(page).to_have_title(f"{heading} · Haystack")
    expect(page.locator("nav a.active")).to_have_text(heading)
    page.wait_for_timeout(1000)  # the page's first API calls (SSE pages never go idle)
    # Nothing but this server was asked for anything: no CDN, no web fonts.
    server = urlsplit(ui_server.url).netloc
    local = ("data:", "blob:")
    assert {urlsplit(url).netloc for url in requested if not url.startswith(local)} == {server}
    assert [url for url in failed if "/api/stream" not in url] == []
    assets = page.eval_on_selector_all(
        "script[src], link[href]",
        "nodes => nodes.map(n => n.getAttribute('src') || n.getAttribute('href'))",
    )
    assert all(a.startswith(("/static/", "data:")) for a in assets), assets
    assert [e for e in ui_page.errors if e.startswith("page error")] == []
    # Under the strict Content-Security-Policy (no inline code), with nothing refused.
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert [e for e in ui_page.errors if "Content Security Policy" in e] == []


def test_static_assets_are_served_with_their_types(ui_page: BrowserPage) -> None:
    page = ui_page.page
    css = page.request.get("/static/haystack.css")
    js = page.request.get("/static/js/haystack.js")
    assert css.status == js.status == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "javascript" in js.headers["content-type"]
    assert page.request.get("/static/js/nope.js").status == 404


def test_an_api_outage_shows_a_banner_and_the_page_recovers_by_itself(
    ui_page: BrowserPage,
) -> None:
    page = ui_page.page

    def refuse(route: Route) -> None:
        route.abort("connectionrefused")

    page.route("**/health", refuse)
    page.goto("/")
    banner = page.locator("#api-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("API is not answering")
    ui_page.screenshot("20-dashboard-api-down")
    page.unroute("**/health", refuse)
    expect(banner).to_be_hidden(timeout=15_000)
    expect(page.locator("#health")).to_contain_text("ok")


def test_a_database_outage_reported_by_health_is_shown(ui_page: BrowserPage) -> None:
    page = ui_page.page
    down: dict[str, object] = {
        "status": "down",
        "version": "0",
        "database": {"ok": False, "dialect": "sqlite", "latency_ms": 1.0, "error": "gone"},
        "pool": {"size": 1, "checked_in": 0, "checked_out": 0, "overflow": 0},
        "events": None,
        "workers": [],
    }

    def unavailable(route: Route) -> None:
        route.fulfill(status=503, content_type="application/json", body=json.dumps(down))

    page.route("**/health", unavailable)
    page.goto("/")
    expect(page.locator("#api-banner")).to_contain_text("database is not reachable")
    expect(page.locator("#health")).to_contain_text("down")
    expect(page.locator("#health")).to_contain_text("gone")
    page.unroute("**/health", unavailable)
    expect(page.locator("#api-banner")).to_be_hidden(timeout=15_000)


def test_the_token_is_kept_in_the_browser_and_sent_with_writes(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    page = ui_page.page
    page.goto("/config")
    expect(page.locator("#token-state")).to_have_text("no token")
    set_token(page, ui_server.token)
    expect(page.locator("#token-state")).to_have_text("token set")
    assert page.evaluate("localStorage.getItem('haystack.apiToken')") == ui_server.token
    page.goto("/engines")
    expect(page.locator("#api-token")).to_have_value(ui_server.token)

    with page.expect_request(lambda r: r.method == "POST") as caught:
        page.locator("#engines tr", has_text="fileScanner").get_by_role(
            "button", name="Disable"
        ).click()
    request: Request = caught.value
    assert request.headers["authorization"] == f"Bearer {ui_server.token}"
    assert urlsplit(request.url).path == "/api/engines/fileScanner/disable"
    row = page.locator("#engines tr", has_text="fileScanner")
    expect(row.locator(".badge")).to_have_text("disabled")
    engine_id = ui_server.db.run_read(store.get_engine_id, name="fileScanner")
    assert engine_id is not None
    assert ui_server.db.run_read(store.is_engine_disabled, engine_id=engine_id)
    row.get_by_role("button", name="Enable").click()
    expect(row.locator(".badge")).to_have_text("enabled")
    assert not ui_server.db.run_read(store.is_engine_disabled, engine_id=engine_id)


def test_a_wrong_token_is_refused_with_a_message(ui_page: BrowserPage) -> None:
    page = ui_page.page
    page.goto("/engines")
    set_token(page, "not-a-token")
    page.locator("#engines tr", has_text="rss").get_by_role("button", name="Stop").click()
    expect(page.locator("#confirm-text")).to_contain_text("Stop rss?")
    page.click("#confirm-ok")
    expect(page.locator("#notice")).to_contain_text("needs an API token")
    expect(page.locator("#engines tr", has_text="rss").locator(".badge")).to_have_text("enabled")


def test_the_settings_form_follows_each_engines_schema(ui_page: BrowserPage) -> None:
    page = ui_page.page
    page.goto("/engines#webScraper")
    expect(page.locator("#engine-name")).to_have_text("webScraper")
    fields = page.locator("#engine-fields [data-kind]")
    names = fields.evaluate_all("nodes => nodes.map(n => [n.name, n.dataset.kind])")
    assert names == [
        ["url", "string"],
        ["max_depth", "integer"],
        ["max_pages", "integer"],
        ["allowed_domains", "list"],
        ["main_text", "boolean"],
        ["volatile", "object"],
        ["render", "boolean"],
        ["snapshot", "list"],
    ]
    expect(page.locator("#setting-max_pages")).to_have_value("1000")
    expect(page.locator("#setting-max_pages")).to_have_attribute("min", "1")
    page.locator("#engines tr", has_text="fileScanner").get_by_role("button", name="Start…").click()
    expect(page.locator("#engine-name")).to_have_text("fileScanner")
    expect(page.locator("#setting-max_pages")).to_have_count(0)


def test_a_job_with_bad_parameters_is_refused_with_the_reason(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    page = ui_page.page
    page.goto("/runs")
    set_token(page, ui_server.token)
    page.click("summary")
    page.select_option("#scrape-engine", "webScraper")
    page.fill("#scrape-params", '{"bogus": 1}')
    page.get_by_role("button", name="Queue run").click()
    expect(page.locator("#notice")).to_contain_text("Error 422")
    expect(page.locator("#notice")).to_contain_text("bogus")
    page.fill("#scrape-params", "{not json")
    page.get_by_role("button", name="Queue run").click()
    expect(page.locator("#notice")).to_have_text("Parameters: not valid JSON.")


def test_dead_events_are_retried_or_discarded_from_the_queue(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    db = ui_server.db
    ids = seed_items(
        db, [ItemRecord(uri="https://queue.test/a"), ItemRecord(uri="https://queue.test/b")]
    )
    retried = dead_event(db, ids["https://queue.test/a"], error="HTTP 500 from queue.test")
    discarded = dead_event(db, ids["https://queue.test/b"], error="timed out")
    page = ui_page.page
    page.goto("/queue")
    set_token(page, ui_server.token)
    row_a = page.locator("#events tr", has_text="https://queue.test/a")
    expect(row_a).to_contain_text("HTTP 500 from queue.test")
    expect(page.locator("#queue-counts")).to_contain_text("dead: 2")
    ui_page.screenshot("21-queue-dead")
    row_a.get_by_role("button", name="Retry").click()
    expect(page.locator("#notice")).to_have_text(f"Event #{retried} queued again.")
    expect(row_a).to_have_count(0)
    assert db.run_read(get_event, event_id=retried).state == "pending"

    row_b = page.locator("#events tr", has_text="https://queue.test/b")
    row_b.get_by_role("button", name="Discard").click()
    page.click("#confirm-ok")
    expect(page.locator("#notice")).to_have_text(f"Event #{discarded} discarded.")
    expect(row_b).to_have_count(0)
    remaining = db.run_read(
        lambda conn: conn.execute(
            item_events.select().where(item_events.c.ItemEventId == discarded)
        ).first()
    )
    assert remaining is None or remaining.itemEventDeadDate is not None
    assert ui_page.dialogs == []


def test_items_are_paged_and_filtered(ui_page: BrowserPage, ui_server: LiveApp) -> None:
    page = ui_page.page
    db_items = [
        ItemRecord(uri=f"https://paged.test/{n:03d}", data={"Title": f"P{n}", "Batch": "paged"})
        for n in range(120)
    ]
    seed_items(ui_server.db, db_items)
    page.goto("/items?key=Batch&value=paged")
    expect(page.locator("#key")).to_have_value("Batch")
    expect(page.locator("#total")).to_have_text("120 fetched items")
    rows = page.locator("#items tbody tr")
    expect(rows).to_have_count(50)
    first_page = rows.locator("td:nth-child(4)").all_inner_texts()
    page.click("#next")
    expect(page.locator("#page-no")).to_have_text("page 2")
    expect(rows).to_have_count(50)
    second_page = rows.locator("td:nth-child(4)").all_inner_texts()
    page.click("#next")
    expect(rows).to_have_count(20)
    expect(page.locator("#next")).to_be_disabled()
    third_page = rows.locator("td:nth-child(4)").all_inner_texts()
    seen = first_page + second_page + third_page
    assert sorted(seen) == sorted(record.uri for record in db_items)
    page.click("#prev")
    expect(page.locator("#page-no")).to_have_text("page 2")
    expect(rows.locator("td:nth-child(4)").first).to_have_text(second_page[0])
    # Dates are whole UTC days: today includes today's items, yesterday none of them.
    today = utcnow().date()
    page.fill("#created_from", today.isoformat())
    page.fill("#created_to", today.isoformat())
    page.press("#q", "Enter")
    expect(page.locator("#total")).to_have_text("120 fetched items")
    page.fill("#created_to", (today - timedelta(days=1)).isoformat())
    page.press("#q", "Enter")
    expect(page.locator("#total")).to_have_text("0 fetched items")
    expect(rows).to_have_text(["no items match"])
    page.fill("#created_from", "")
    page.fill("#created_to", "")
    page.press("#q", "Enter")
    expect(page.locator("#total")).to_have_text("120 fetched items")
    # Exports carry the same filters.
    href = page.locator("#export-csv").get_attribute("href")
    assert href is not None
    assert re.search(r"key=Batch", href)
    assert re.search(r"value=paged", href)
    assert re.search(r"format=csv", href)
    export = page.request.get(href)
    assert export.status == 200
    assert export.text().count("https://paged.test/") == 120


def test_status_lines_arrive_live(ui_page: BrowserPage, ui_server: LiveApp) -> None:
    page = ui_page.page
    page.goto("/status")
    expect(page.locator("#status-live")).to_have_text("● live")
    ui_server.db.run(store.add_status, message="a line written while the page was open")
    expect(page.locator("#status tbody tr").first).to_contain_text(
        "a line written while the page was open"
    )
    page.goto("/")
    expect(page.locator("#activity-live")).to_have_text("● live")
    ui_server.db.run(store.add_status, message="and one for the dashboard")
    expect(page.locator("#activity li").first).to_contain_text("and one for the dashboard")


def test_the_admin_asks_for_a_token_first(ui_page: BrowserPage, ui_server: LiveApp) -> None:
    page = ui_page.page
    page.goto("/admin")
    expect(page.locator("#notice")).to_contain_text("needs an API token")
    expect(page.locator("#tables li")).to_have_count(0)
    set_token(page, ui_server.token)
    expect(page.locator("#tables a[data-table=Items]")).to_be_visible()
    expect(page.locator("#tables li")).to_have_count(10)


def test_an_engines_schedules_are_listed(ui_page: BrowserPage, ui_server: LiveApp) -> None:
    db = ui_server.db
    engine_id = db.run_read(store.get_engine_id, name="rss")
    assert engine_id is not None
    db.run(
        add_schedule,
        name="rss-mornings",
        engine_id=engine_id,
        cron="0 6 * * *",
        first_run=datetime(2999, 1, 1, 6, 0),
    )
    page = ui_page.page
    page.goto("/engines#rss")
    row = page.locator("#schedules tr", has_text="rss-mornings")
    expect(row).to_contain_text("0 6 * * *")
    expect(row.locator(".badge")).to_have_text("enabled")
    expect(row).to_contain_text("2999-01-01 06:00:00")


def test_a_rate_limited_read_waits_and_tries_again(ui_page: BrowserPage) -> None:
    page = ui_page.page
    answers: list[int] = []

    def limited_once(route: Route) -> None:
        if not answers:
            answers.append(429)
            route.fulfill(
                status=429,
                headers={"Retry-After": "1"},
                content_type="application/json",
                body='{"detail": "too many requests"}',
            )
        else:
            answers.append(200)
            route.continue_()

    page.route("**/api/hosts", limited_once)
    page.goto("/hosts")
    expect(page.locator("#hosts tbody tr").first).to_be_visible()
    assert answers[:2] == [429, 200]
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#api-banner")).to_be_hidden()


def test_a_missing_item_says_so(ui_page: BrowserPage) -> None:
    page = ui_page.page
    page.goto("/items/999999")
    expect(page.locator("#notice")).to_contain_text("Error 404")
    expect(page.locator("#item-title")).to_have_text("Item 999999")


def test_stopping_an_engine_asks_first_and_cancels_its_runs(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    db = ui_server.db
    engine_id = db.run_read(store.get_engine_id, name="fileDownloader")
    assert engine_id is not None
    # A run waiting on a paused engine (no worker takes it) until the stop cancels it.
    db.run(store.set_engine_disabled, engine_id=engine_id, disabled=True)
    run_id = db.run(
        create_run, engine_id=engine_id, settings={}, correlation_id=None, requested_by="test"
    )
    page = ui_page.page
    page.goto("/engines")
    set_token(page, ui_server.token)
    row = page.locator("#engines tr", has_text="fileDownloader")
    expect(row.locator(".badge")).to_have_text("disabled")
    row.get_by_role("button", name="Stop").click()
    page.click("#confirm-cancel")
    assert db.run_read(get_run, run_id=run_id).state == "queued"
    row.get_by_role("button", name="Stop").click()
    page.click("#confirm-ok")
    expect(page.locator("#notice")).to_have_text("fileDownloader: stop done.")
    expect(row.locator(".badge")).to_have_text("disabled")
    assert db.run_read(get_run, run_id=run_id).state == "cancelled"
    row.get_by_role("button", name="Enable").click()
    expect(row.locator(".badge")).to_have_text("enabled")
