"""The UI end to end in chromium: crawl a local site from the Engines page, watch the items
arrive, search, open one, change a config value, edit and delete rows in the admin.

Each step leaves a screenshot in ``test-artifacts/`` (a CI artifact).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from haystack_collector import store
from haystack_collector.db.schema import items, runs
from haystack_collector.store.status import get_config, set_config
from tests.e2e.ui_fixtures import BrowserPage, LiveApp, set_token, wait_for
from tests.integration.crawl.site import Site, serve

# The fixtures (ui_server, ui_page, ...) as a plugin: no conftest needed.

PAGES = 12
MAX_PAGES = 15


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    # Each page answers after a quarter of a second: the crawl lasts long enough to be watched.
    with serve(Site(pages=PAGES, with_error_page=False, sleep=0.25)) as url:
        yield url


def row_count(page: BrowserPage, selector: str) -> int:
    return page.page.locator(f"{selector} tbody tr:not(.empty)").count()


def item_total(app: LiveApp) -> int:
    """Fetched items: what the Items page lists by default."""
    query = select(func.count()).select_from(items).where(items.c.ItemState == "fetched")
    return int(app.db.run_read(lambda conn: conn.execute(query).scalar_one()))


def crawl_finished(app: LiveApp) -> bool:
    """The crawl's run is done and no page of it is waiting or being fetched."""
    engine_id = app.db.run_read(store.get_engine_id, name="webScraper")
    if engine_id is None:
        return False
    queue = app.db.run_read(store.event_counts, engine_id=engine_id)
    states = app.db.run_read(lambda conn: set(conn.execute(select(runs.c.runState)).scalars()))
    return queue["pending"] == queue["claimed"] == 0 and queue["done"] > 0 and states == {"done"}


def test_crawl_started_from_the_ui_fills_the_items_page_live(
    ui_page: BrowserPage, ui_server: LiveApp, site_url: str
) -> None:
    page = ui_page.page
    page.goto("/engines")
    set_token(page, ui_server.token)
    expect(page.locator("#token-state")).to_have_text("token set")
    page.locator("#engines tr", has_text="webScraper").get_by_role("button", name="Start…").click()
    # The form is the engine's settings schema: one input per field, typed.
    expect(page.locator("#setting-url")).to_have_attribute("type", "text")
    expect(page.locator("#setting-max_depth")).to_have_attribute("type", "number")
    expect(page.locator("#setting-max_depth")).to_have_attribute("min", "0")
    page.fill("#setting-url", site_url + "/")
    page.fill("#setting-max_depth", "2")
    page.fill("#setting-max_pages", str(MAX_PAGES))
    page.click("#engine-start")
    expect(page.locator("#engine-result")).to_contain_text("Started webScraper as run #")
    run_link = page.locator("#engine-result a.run-link")
    run_id = int(run_link.inner_text().lstrip("#"))
    ui_page.screenshot("01-engines-start")

    # The items page, opened while the crawl runs, fills up without a reload.
    page.goto("/items")
    expect(page.locator("#total")).not_to_be_empty()
    first = row_count(ui_page, "#items")
    wait_for(lambda: crawl_finished(ui_server), timeout=60)
    stored = item_total(ui_server)
    expect(page.locator("#total")).to_have_text(f"{stored} fetched items")
    expect(page.locator("#items tbody tr")).to_have_count(min(stored, 50))
    expect(page.locator("#items tbody")).to_contain_text("Page 3")
    assert first < min(stored, 50)
    ui_page.screenshot("02-items-live")

    page.goto(f"/runs#run-{run_id}")
    run_row = page.locator("#runs tr", has=page.locator(f"#run-{run_id}"))
    expect(run_row).to_contain_text("webScraper")
    expect(run_row.locator(".badge")).to_have_text("done", timeout=30_000)
    ui_page.screenshot("03-runs")

    # The site's host, as the workers report it: requested, healthy.
    page.goto("/hosts")
    host = page.locator("#hosts tr", has_text=urlsplit(site_url).netloc)
    expect(host.locator(".badge")).to_have_text("closed")
    assert int(host.locator("td").nth(2).inner_text()) > 0
    ui_page.screenshot("03b-hosts")

    # Full-text search finds one page; its detail shows its data and links.
    page.goto("/items")
    page.fill("#q", "Page 3")
    page.press("#q", "Enter")
    expect(page).to_have_url(re.compile(r"/items\?q=Page\+3"))
    hit = page.locator("#items a.item-title", has_text=re.compile(r"^Page 3$"))
    expect(hit).to_be_visible()
    ui_page.screenshot("04-items-search")
    hit.click()
    expect(page).to_have_url(re.compile(r"/items/\d+$"))
    expect(page.locator("#item-title")).to_have_text("Page 3")
    expect(page.locator("#item-summary")).to_contain_text(site_url + "/p/3")
    expect(page.locator("#item-data tr", has_text="Title")).to_contain_text("Page 3")
    expect(page.locator("#item-data tr", has_text="StatusCode")).to_contain_text("200")
    expect(page.locator("#links-out tbody")).to_contain_text(site_url + "/p/4")
    expect(page.locator("#links-in tbody")).to_contain_text(site_url + "/p/2")
    ui_page.screenshot("05-item-detail")
    # "Links in" as a filtered list: exactly the pages linking to this one.
    linking = set(page.locator("#links-in tbody td:nth-child(3)").all_inner_texts())  # URI
    page.locator("h2", has_text="Links in").get_by_role("link", name="as a list").click()
    expect(page).to_have_url(re.compile(r"/items\?linked_to=\d+$"))
    expect(page.locator("#total")).to_have_text(f"{len(linking)} fetched items")
    assert set(page.locator("#items tbody td:nth-child(4)").all_inner_texts()) == linking
    assert ui_page.dialogs == []


def test_the_jobs_page_follows_a_job_from_queued_to_done(
    ui_page: BrowserPage, ui_server: LiveApp, site_url: str
) -> None:
    page = ui_page.page
    page.goto("/runs")
    expect(page.locator("#runs tbody tr").first).to_be_visible()
    # Queued by someone else (through the API) while the page is open.
    started = httpx.post(
        f"{ui_server.url}/api/engines/webScraper/start",
        json={"url": site_url + "/p/0", "max_depth": 0, "max_pages": 1},
        headers={"Authorization": f"Bearer {ui_server.token}"},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    row = page.locator("#runs tr", has=page.locator(f"#run-{run_id}"))
    expect(row).to_be_visible(timeout=5_000)  # the stream reports it, no reload
    expect(row.locator(".badge")).to_have_text("done", timeout=30_000)
    expect(row).to_contain_text("items")


def test_config_value_changed_in_the_editor_is_stored(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    ui_server.db.run(set_config, name="ui.pageSize", value="25")
    page = ui_page.page
    page.goto("/config")
    set_token(page, ui_server.token)
    row = page.locator("#config tr", has_text="ui.pageSize")
    expect(row.locator("input.config-value")).to_have_value("25")
    row.locator("input.config-value").fill("50")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_have_text("Saved ui.pageSize.")
    assert ui_server.db.run_read(get_config, name="ui.pageSize") == "50"
    # The editor shows what was stored after it reloads.
    page.reload()
    expect(page.locator("#config tr", has_text="ui.pageSize").locator("input")).to_have_value("50")
    ui_page.screenshot("06-config")


def test_config_change_without_a_token_is_refused_and_said_so(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    ui_server.db.run(set_config, name="ui.refused", value="a")
    page = ui_page.page
    page.goto("/config")
    row = page.locator("#config tr", has_text="ui.refused")
    row.locator("input.config-value").fill("b")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text("needs an API token")
    assert ui_server.db.run_read(get_config, name="ui.refused") == "a"


def test_admin_edits_a_row_and_deletes_one_after_confirmation(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    db = ui_server.db
    db.run(set_config, name="ui.adminEdit", value="before")
    db.run(set_config, name="ui.adminDelete", value="doomed")
    page = ui_page.page
    page.goto("/admin")
    set_token(page, ui_server.token)
    page.locator("#tables a[data-table=Config]").click()
    expect(page.locator("#table-name")).to_have_text("Config")
    page.fill("#admin-q", "ui.admin")
    page.press("#admin-q", "Enter")
    expect(page.locator("#rows tbody tr")).to_have_count(2)
    ui_page.screenshot("07-admin-browse")

    page.locator("#rows tr", has_text="ui.adminEdit").get_by_role("button", name="Edit").click()
    form = page.locator("#record-form")
    expect(form.locator("input[name=configId]")).to_have_attribute("readonly", "")
    form.locator("input[name=configValue]").fill("after")
    ui_page.screenshot("08-admin-edit")
    with page.expect_request(lambda r: r.method == "PUT") as caught:
        form.get_by_role("button", name="Save").click()
    # Only what was changed is sent: timestamps and the rest are left as they are.
    assert caught.value.post_data_json == {"configValue": "after"}
    expect(page.locator("#notice")).to_contain_text("saved")
    expect(page.locator("#rows tr", has_text="ui.adminEdit")).to_contain_text("after")
    assert db.run_read(get_config, name="ui.adminEdit") == "after"

    doomed = page.locator("#rows tr", has_text="ui.adminDelete")
    # Cancelling the confirmation keeps the row.
    doomed.get_by_role("button", name="Delete").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("Delete Config row #")
    ui_page.screenshot("09-admin-delete-confirm")
    page.click("#confirm-cancel")
    assert db.run_read(get_config, name="ui.adminDelete") == "doomed"
    doomed.get_by_role("button", name="Delete").click()
    page.click("#confirm-ok")
    expect(page.locator("#notice")).to_contain_text("deleted")
    expect(page.locator("#rows tr", has_text="ui.adminDelete")).to_have_count(0)
    assert db.run_read(get_config, name="ui.adminDelete") is None
    assert ui_page.dialogs == []  # the confirmation is the page's own dialog, not alert()

    page.click("#admin-new")
    expect(form.locator("#record-title")).to_have_text("New Config row")
    form.locator("input[name=configName]").fill("ui.adminNew")
    form.locator("input[name=configValue]").fill("fresh")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_have_text("Row created.")
    expect(page.locator("#rows tr", has_text="ui.adminNew")).to_contain_text("fresh")
    assert db.run_read(get_config, name="ui.adminNew") == "fresh"


def test_admin_reports_a_refused_change(ui_page: BrowserPage, ui_server: LiveApp) -> None:
    ui_server.db.run(set_config, name="ui.taken", value="first")
    page = ui_page.page
    page.goto("/admin?table=Config")
    set_token(page, ui_server.token)
    expect(page.locator("#rows tr", has_text="ui.taken")).to_be_visible()
    page.click("#admin-new")
    page.locator("#record-form input[name=configName]").fill("ui.taken")
    page.locator("#record-form input[name=configValue]").fill("second")
    page.locator("#record-form").get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text("Error 409")
    expect(page.locator("#record-form")).to_be_visible()  # kept, so the user can fix it
    assert ui_server.db.run_read(get_config, name="ui.taken") == "first"


@pytest.mark.parametrize(
    ("path", "ready", "text", "shot"),
    [
        ("/", "#workers tbody tr .badge", "running", "10-dashboard"),
        ("/queue", "#queue-counts", "dead: 0", "11-queue"),
        ("/status", "#status tbody tr", "hello from the UI tests", "13-status"),
    ],
)
def test_dashboard_queue_and_status_render_their_data(
    ui_page: BrowserPage, ui_server: LiveApp, path: str, ready: str, text: str, shot: str
) -> None:
    ui_server.db.run(store.add_status, message="hello from the UI tests")
    page = ui_page.page
    page.goto(path)
    expect(page.locator(ready, has_text=text).first).to_be_visible()
    expect(page.locator("#notice")).to_be_hidden()
    if path == "/":
        expect(page.locator("#counts")).to_contain_text("items")
        expect(page.locator("#health")).to_contain_text("ok")
        for state in ("pending", "claimed", "done", "dead"):  # the queue's EventCounts
            expect(page.locator("#events")).to_contain_text(state)
        chart = page.locator("#items-chart")
        expect(chart).to_be_visible()
        page.wait_for_function("document.getElementById('items-chart').complete")
        assert chart.evaluate("img => img.naturalWidth") > 0
    ui_page.screenshot(shot)
    assert [e for e in ui_page.errors if "page error" in e] == []


def test_a_secret_config_value_is_only_editable_with_a_token(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    ui_server.db.run(set_config, name="smtp.password", value="hunter2")
    page = ui_page.page
    page.goto("/config")
    value = page.locator("#config tr", has_text="smtp.password").locator("input.config-value")
    expect(value).to_have_value("***")
    expect(value).to_have_attribute("readonly", "")
    expect(page.locator("#config tr", has_text="smtp.password").locator("button")).to_be_disabled()
    set_token(page, ui_server.token)
    expect(value).to_have_value("hunter2")
    expect(value).not_to_have_attribute("readonly", "")
