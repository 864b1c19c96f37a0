"""The item page shows a changed page's versions and a readable diff of its text.

A page on a local HTTP server is crawled with ``haystack crawl --main-text`` as a user runs it,
changed, queued again (as a re-visit does) and crawled again; Chromium then opens its item.
The page's text carries markup-looking strings, which the diff must show as text.
"""

from __future__ import annotations

import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from playwright.sync_api import expect

from haystack_collector import store
from haystack_collector.engines.web_scraper import CRAWL_ACTION, WebScraper
from haystack_collector.store import EventSpec, versions
from tests.e2e.ui_fixtures import ROOT, BrowserPage, LiveApp, wait_for
from tests.http_server import serve_http

CRAWL = (sys.executable, "-m", "haystack_collector", "crawl")
HOSTILE = "<img src=x onerror=alert(1)>"


def notice(price: str, extra: str) -> str:
    return (
        "<html><head><title>Ferry timetable</title></head><body><main><h1>Ferry timetable</h1>"
        "<p>The morning ferry leaves at seven from the north pier every weekday.</p>"
        f"<p>A single ticket costs {price} euros for adults and half for children.</p>"
        f"<p>{extra}</p>"
        "<p>Bicycles travel free of charge on every crossing of the lake.</p>"
        "</main><footer>Page generated at 10:00</footer></body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str]]

    def do_GET(self) -> None:
        raw = self.pages.get(self.path, "").encode("utf-8")
        self.send_response(200 if raw else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


def _crawl(app: LiveApp, url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAYSTACK_")}
    env["HAYSTACK_DATABASE_URL"] = app.db.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [*CRAWL, url, "--max-depth", "0", "--delay", "0", "--main-text"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def changed_page(ui_server: LiveApp) -> int:
    """The item of a page crawled, changed and crawled again: two versions."""
    pages = {"/ferry": notice("4.50", "Escaped markup stays text: &lt;b&gt;bold&lt;/b&gt;")}
    db = ui_server.db
    with serve_http(_Handler, pages=pages) as base:
        url = base + "/ferry"
        _crawl(ui_server, url)
        item_id = db.run_read(store.find_item_id, uri=url)
        assert item_id is not None
        pages["/ferry"] = notice("5.20", f"New: winter timetable {HOSTILE.replace('<', '&lt;')}")
        engine = WebScraper.register(db)
        spec = EventSpec(engine.engine_id, engine.action_ids[CRAWL_ACTION], item_id)
        db.run(store.enqueue_events, events=[spec], reopen=True)
        _crawl(ui_server, url)
        wait_for(lambda: db.run_read(versions.current_version, item_id=item_id) == 2)
    return item_id


def test_the_item_page_shows_versions_and_the_diff_of_its_text(
    ui_page: BrowserPage, changed_page: int
) -> None:
    page = ui_page.page
    page.goto(f"/items/{changed_page}")

    rows = page.locator("#item-versions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("2 (current)")
    expect(page.locator("#diff-from")).to_have_value("1")
    expect(page.locator("#diff-to")).to_have_value("2")
    diff = page.locator("#version-diff")
    expect(diff).to_be_visible()
    expect(diff.locator(".diff-summary")).to_contain_text("Version 1")
    # The changed price is one line with the old word struck and the new one inserted.
    changed = diff.locator(".line-changed").filter(has_text="single ticket")
    expect(changed.locator("del")).to_have_text("4.50")
    expect(changed.locator("ins")).to_have_text("5.20")
    expect(diff.locator("del").filter(has_text="Escaped markup")).to_have_count(1)
    # Scraped text that looks like markup is shown as text, never run.
    added = diff.locator("ins").filter(has_text="winter timetable")
    expect(added).to_contain_text(HOSTILE)
    assert page.locator("#version-diff img").count() == 0
    expect(diff.locator("del", has_text="<b>bold</b>")).to_have_count(1)
    expect(diff).not_to_contain_text("Page generated")  # the footer is no main content
    # The colours are the stylesheet's: green for added, red for removed.
    assert changed.locator("ins").evaluate("n => getComputedStyle(n).backgroundColor") == (
        "rgb(200, 239, 200)"
    )
    assert changed.locator("del").evaluate("n => getComputedStyle(n).backgroundColor") == (
        "rgb(246, 202, 202)"
    )
    ui_page.screenshot("versions-01-diff")
    assert ui_page.dialogs == []
    assert ui_page.errors == []


def test_choosing_the_same_version_shows_no_change(ui_page: BrowserPage, changed_page: int) -> None:
    page = ui_page.page
    page.goto(f"/items/{changed_page}")
    expect(page.locator("#version-diff")).to_be_visible()
    page.locator("#diff-from").select_option("2")
    page.get_by_role("button", name="Show changes").click()
    expect(page.locator("#version-diff")).to_contain_text("The title and text are the same.")
    assert ui_page.errors == []
