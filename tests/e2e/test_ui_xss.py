"""Scraped content is text everywhere: an item titled ``<script>alert(1)</script>`` (and
friends in its data, links, status lines, config and queue errors) never runs or renders."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from haystack_collector import store
from haystack_collector.store import ItemRecord, LinkSpec
from haystack_collector.store.status import set_config
from tests.e2e.ui_fixtures import BrowserPage, LiveApp, dead_event, seed_items, set_token

TITLE = "<script>alert(1)</script>"
# Each would set window.__xss if the browser ever parsed it as markup.
IMG = '<img src="/x" onerror="window.__xss=1;alert(2)">'
SVG = '<svg onload="window.__xss=2;alert(3)"></svg>'
URI = "https://xss.test/<script>alert(4)</script>"
SCRIPT_URI = "javascript:window.__xss=3;alert(5)"


@dataclass(frozen=True)
class Hostile:
    item_id: int
    target_id: int


@pytest.fixture(scope="module")
def hostile(ui_server: LiveApp) -> Hostile:
    db = ui_server.db
    ids = seed_items(
        db,
        [
            ItemRecord(
                uri=URI,
                data={"Title": TITLE, "Note": IMG, "Picture": {"alt": SVG, "src": SCRIPT_URI}},
                links=[LinkSpec(uri=SCRIPT_URI, link_type="references")],
            )
        ],
    )
    db.run(store.add_status, message=f"fetched {TITLE} {IMG}")
    db.run(set_config, name="xss.value", value=IMG)
    dead_event(db, ids[URI], error=f"failed on {TITLE}")
    return Hostile(ids[URI], ids[SCRIPT_URI])


def assert_inert(page: BrowserPage) -> None:
    """Nothing ran, and no element came from the data: only the page's own two scripts."""
    assert page.dialogs == []
    assert page.page.evaluate("window.__xss") is None
    assert page.page.locator("script").count() == 2
    assert page.page.locator("[onerror], [onload]").count() == 0
    assert page.page.locator("a[href^='javascript:' i]").count() == 0


def test_items_list_and_search_show_the_title_as_text(
    ui_page: BrowserPage, hostile: Hostile
) -> None:
    page = ui_page.page
    page.goto("/items")
    expect(page.locator("#items a.item-title", has_text=TITLE)).to_be_visible()
    expect(page.locator("#items td", has_text=URI)).to_be_visible()
    assert_inert(ui_page)
    page.fill("#q", "alert")
    page.press("#q", "Enter")
    expect(page.locator("#items a.item-title", has_text=TITLE)).to_be_visible()
    ui_page.screenshot("30-xss-items")
    assert_inert(ui_page)


def test_item_detail_shows_every_hostile_value_as_text(
    ui_page: BrowserPage, hostile: Hostile
) -> None:
    page = ui_page.page
    page.goto(f"/items/{hostile.item_id}")
    expect(page.locator("#item-title")).to_have_text(TITLE)
    expect(page).to_have_title(f"{TITLE} · Haystack")
    expect(page.locator("#item-data tr", has_text="Note")).to_contain_text(IMG)
    expect(page.locator("#item-data tr", has_text="Picture")).to_contain_text("onload")
    # The javascript: link target is shown, but never becomes a link to itself.
    out = page.locator("#links-out tbody a", has_text=SCRIPT_URI)
    expect(out).to_have_attribute("href", f"/items/{hostile.target_id}")
    # A real http(s) URI stays a link, percent-encoded by the URL parser.
    encoded = URI.replace("<", "%3C").replace(">", "%3E")
    expect(page.locator("#item-summary a", has_text=URI)).to_have_attribute("href", encoded)
    ui_page.screenshot("31-xss-item")
    assert_inert(ui_page)


@pytest.mark.parametrize(
    ("path", "where", "text"),
    [
        ("/", "#activity", TITLE),
        ("/status", "#status", IMG),
        ("/queue", "#events", f"failed on {TITLE}"),
    ],
)
def test_status_lines_and_queue_errors_are_text(
    ui_page: BrowserPage, hostile: Hostile, path: str, where: str, text: str
) -> None:
    page = ui_page.page
    page.goto(path)
    expect(page.locator(where, has_text=text).first).to_be_visible()
    assert_inert(ui_page)


def test_config_and_admin_show_hostile_values_as_text(
    ui_page: BrowserPage, ui_server: LiveApp, hostile: Hostile
) -> None:
    page = ui_page.page
    page.goto("/config")
    expect(page.locator("#config tr", has_text="xss.value").locator("input")).to_have_value(IMG)
    assert_inert(ui_page)
    set_token(page, ui_server.token)
    page.goto("/admin?table=ItemData")
    page.fill("#admin-q", "alert")
    page.press("#admin-q", "Enter")
    expect(page.locator("#rows td", has_text=TITLE)).to_be_visible()
    expect(page.locator("#rows td", has_text=IMG)).to_be_visible()
    ui_page.screenshot("32-xss-admin")
    assert_inert(ui_page)
    page.locator("#rows tr", has_text=TITLE).get_by_role("button", name="Edit").click()
    expect(page.locator("#record-form input[name=itemDataValue]")).to_have_value(TITLE)
    assert_inert(ui_page)
