"""The Items search becomes a watch in one click; the Watches page lists it, its deliveries
and its failures (Chromium, against ``haystack serve``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from haystack_collector.settings import Settings
from haystack_collector.store import ItemRecord
from haystack_collector.store import watches as watch_store
from haystack_collector.watch.notifier import notifier_from_settings
from tests.e2e.ui_fixtures import UI_ENGINE, BrowserPage, LiveApp, seed_items, set_token, wait_for
from tests.integration.watch.receivers import Webhook, webhook


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook() as receiver:
        yield receiver


def test_watch_this_search_creates_a_watch_in_one_click(
    ui_page: BrowserPage, ui_server: LiveApp, hook: Webhook
) -> None:
    page = ui_page.page
    seed_items(
        ui_server.db,
        [ItemRecord(uri="https://shop.test/kettle", data={"Title": "Copper kettle"})],
    )
    page.goto(f"/items?q=kettle&engine={UI_ENGINE}")
    expect(page.locator("#items tbody tr")).to_have_count(1)

    # Without a token the dialog says what is missing and stays open.
    page.click("#watch-search")
    expect(page.locator("#watch-described")).to_have_text(
        f"Items where q=kettle, engine={UI_ENGINE}, state=fetched"
    )
    expect(page.locator("#watch-name")).to_have_value("kettle")
    page.fill("#watch-channel", hook.url())
    page.click("#watch-create")
    expect(page.locator("#watch-error")).to_contain_text("This needs an API token")
    page.click("#watch-cancel")

    set_token(page, ui_server.token)
    page.click("#watch-search")
    expect(page.locator("#watch-channel")).to_have_value("")  # nothing was created yet
    page.fill("#watch-channel", hook.url())
    ui_page.screenshot("watches-01-dialog")
    page.click("#watch-create")
    expect(page.locator("#notice")).to_have_text("Watching: kettle (see Watches).")
    expect(page.locator("#watch-dialog")).not_to_be_visible()
    watch = ui_server.db.run_read(watch_store.get_watch, name="kettle")
    assert watch.filter == {"q": "kettle", "engine": UI_ENGINE, "state": ["fetched"]}
    assert watch.events == ("new", "changed")
    assert watch.channels == [hook.url()]

    # A new kettle arrives; a notifier (here, or the server's own) tells the webhook once.
    seed_items(
        ui_server.db,
        [
            ItemRecord(uri="https://shop.test/kettle-2", data={"Title": "Steel kettle"}),
            ItemRecord(uri="https://shop.test/pan", data={"Title": "Frying pan"}),
        ],
    )
    # Read the rows just seeded at once (the settle time has its own test).
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url="sqlite://", notify_settle=0
    )
    notifier_from_settings(ui_server.db, settings).run_once()
    wait_for(lambda: hook.posts)
    [post] = hook.posts
    assert post["json"]["title"] == "[haystack] kettle: 1 new"
    assert post["json"]["message"].strip() == "NEW: Steel kettle\n  https://shop.test/kettle-2"

    page.click("nav a[data-nav=watches]")
    row = page.locator("#watches tbody tr", has_text="kettle")
    expect(row).to_contain_text(f"engine={UI_ENGINE}, q=kettle, state=fetched")
    expect(row).to_contain_text("new, changed")
    expect(row).to_contain_text("1 sent")
    expect(page.locator("#deliveries tbody tr").first).to_contain_text("Steel kettle")
    expect(page.locator("#failures tbody")).to_contain_text("no failures")
    ui_page.screenshot("watches-02-page")
    # Only the tokenless attempt failed (the browser logs its 401).
    assert [error for error in ui_page.errors if "401" not in error] == []
