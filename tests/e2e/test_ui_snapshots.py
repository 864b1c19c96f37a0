"""The item page shows a page's screenshot and links its rendered HTML and PDF, all served by
the snapshot route of a real ``haystack serve``, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from haystack_collector.db import Database
from haystack_collector.snapshots import snapshot_folder, snapshot_records, store_snapshot
from haystack_collector.store import ItemRecord
from haystack_collector.store.tokens import create_token
from tests.e2e.ui_fixtures import BrowserPage, LiveApp, run_serve, seed_items

PAGE_URI = "https://snapshots.test/results?q=<script>"
HTML = b'<html><body><h1 id="x">Rendered</h1><script>document.title="ran"</script></body></html>'
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def ui_server(ui_db: Database, downloads: Path) -> Iterator[LiveApp]:
    """``haystack serve`` whose downloads folder holds this module's snapshots."""
    token = ui_db.run(create_token, name="ui-snapshots")
    extra = {"HAYSTACK_DOWNLOADS_DIR": str(downloads)}
    with run_serve(ui_db.url.render_as_string(hide_password=False), extra) as (url, process):
        yield LiveApp(url, ui_db, token, process)


def screenshot_png(ui_page: BrowserPage) -> bytes:
    """A real PNG: a screenshot of a small page Chromium renders."""
    ui_page.page.set_content('<div style="width:300px;height:120px;background:#c33">snap</div>')
    return ui_page.page.screenshot(full_page=True)


def test_the_item_page_shows_the_screenshot_and_links_the_html_and_pdf(
    ui_page: BrowserPage, ui_server: LiveApp, downloads: Path
) -> None:
    png = screenshot_png(ui_page)
    folder = snapshot_folder(downloads)
    shots = [
        store_snapshot(folder, "png", png),
        store_snapshot(folder, "html", HTML),
        store_snapshot(folder, "pdf", PDF),
    ]
    links, records = snapshot_records(shots)
    ids = seed_items(ui_server.db, [ItemRecord(uri=PAGE_URI, links=links), *records])
    page = ui_page.page

    page.goto(f"/items/{ids[PAGE_URI]}")
    section = page.locator("#item-snapshots")
    expect(section).to_be_visible()
    image = page.locator("#snapshot-image")
    expect(image).to_have_attribute("src", f"/snapshots/{shots[0].sha256}")
    # The browser loaded and decoded it: a real image of the screenshot's size.
    page.wait_for_function("() => document.getElementById('snapshot-image').naturalWidth > 0")
    size = image.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert size[0] >= 300
    assert size[1] >= 120
    kinds = page.locator("#snapshot-links a.snapshot-link")
    expect(kinds).to_have_text(["Screenshot (PNG)", "Rendered HTML", "PDF"])
    expect(page.locator("#snapshot-links a[data-kind=html]")).to_have_attribute(
        "href", f"/snapshots/{shots[1].sha256}"
    )
    expect(page.locator("#snapshot-links a[data-kind=pdf]")).to_have_attribute(
        "href", f"/snapshots/{shots[2].sha256}"
    )
    # The links out list them too, as snapshot links to their urn:sha256 items.
    expect(page.locator("#links-out tbody")).to_contain_text("snapshot")
    ui_page.screenshot("item-snapshot-01")

    # The rendered HTML opens sandboxed: its script does not run.
    answer = httpx.get(f"{ui_server.url}/snapshots/{shots[1].sha256}", timeout=10)
    assert answer.headers["content-security-policy"].startswith("sandbox;")
    page.goto(f"/snapshots/{shots[1].sha256}")
    expect(page.locator("#x")).to_have_text("Rendered")
    assert page.title() != "ran"
    assert page.evaluate("() => document.title") != "ran"


def test_an_item_without_snapshots_shows_no_snapshot_section(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    ids = seed_items(ui_server.db, [ItemRecord(uri="https://snapshots.test/plain")])
    page = ui_page.page
    page.goto(f"/items/{ids['https://snapshots.test/plain']}")
    expect(page.locator("#item-summary")).to_contain_text("snapshots.test/plain")
    expect(page.locator("#item-snapshots")).to_be_hidden()
