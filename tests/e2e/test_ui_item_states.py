"""After ``haystack crawl --max-pages``, the Items page lists the pages fetched, not the URLs
only discovered; a state filter shows those (and every state), each row with its state."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from haystack_collector.db.schema import items
from tests.e2e.ui_fixtures import ROOT, BrowserPage, LiveApp
from tests.integration.crawl.site import Site, serve

MAX_PAGES = 8
CRAWL = (sys.executable, "-m", "haystack_collector", "crawl")


@pytest.fixture(scope="module")
def crawled(ui_server: LiveApp) -> Counter[str]:
    """A ``haystack crawl`` run as a user runs it, into the served database: its items' states."""
    with serve(Site(pages=60, with_error_page=False)) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAYSTACK_")}
        env["HAYSTACK_DATABASE_URL"] = ui_server.db.url.render_as_string(hide_password=False)
        done = subprocess.run(
            [*CRAWL, url + "/", "--max-pages", str(MAX_PAGES), "--delay", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    query = select(items.c.ItemState)
    return Counter(ui_server.db.run_read(lambda conn: list(conn.execute(query).scalars())))


def test_the_items_page_shows_the_fetched_pages_and_filters_the_rest(
    ui_page: BrowserPage, crawled: Counter[str]
) -> None:
    page = ui_page.page
    assert crawled["fetched"] == MAX_PAGES
    assert crawled["queued"] > MAX_PAGES  # far more discovered than fetched

    page.goto("/items")
    expect(page.locator("#state")).to_have_value("fetched")
    expect(page.locator("#total")).to_have_text(f"{MAX_PAGES} fetched items")
    rows = page.locator("#items tbody tr")
    expect(rows).to_have_count(MAX_PAGES)
    expect(page.locator("#items tbody .badge")).to_have_text(["fetched"] * MAX_PAGES)
    # Every page listed has its title: none of the "—" rows of URLs never fetched.
    titles = page.locator("#items a.item-title").all_inner_texts()
    assert "—" not in titles, titles
    ui_page.screenshot("item-states-01-fetched")

    # The discovered URLs are one choice away, with their state shown, and the URL says so.
    page.select_option("#state", "queued")
    expect(page).to_have_url(re.compile(r"/items\?state=queued$"))
    expect(page.locator("#total")).to_have_text(f"{crawled['queued']} queued items")
    expect(page.locator("#items tbody .badge").first).to_have_text("queued")
    ui_page.screenshot("item-states-02-queued")

    page.select_option("#state", "all")
    expect(page.locator("#total")).to_have_text(f"{sum(crawled.values())} items")

    # A link to a state opens on it; the detail page shows an item's state too.
    page.goto("/items?state=queued")
    expect(page.locator("#state")).to_have_value("queued")
    page.locator("#items tbody tr a").first.click()
    expect(page.locator("#item-summary")).to_contain_text("queued")
    assert ui_page.errors == []
