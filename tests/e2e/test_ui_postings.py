"""The Postings page in Chromium: new postings stand out, scraped text stays text, and the
keyboard flow (j/k to move, s seen, a applied, x archive) changes statuses the API reports."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from haystack_collector.extract.postings import PostingFields, posting_fingerprint
from haystack_collector.store import ItemRecord
from tests.e2e.ui_fixtures import BrowserPage, LiveApp, seed_items, set_token

XSS = '<img src=x onerror="alert(1)">Engineer'
JOBS = [  # stored in this order, so the board lists them the other way round
    PostingFields("Archive Me", "Old Co", "Nowhere", source="ui-board"),
    PostingFields(
        "Apply Here", "Good Co", "Vancouver, BC", compensation="$120k", source="ui-board"
    ),
    PostingFields(XSS, "<b>Bold</b> Co", "Victoria, BC", source="ui-feed"),
]


def fingerprint(job: PostingFields) -> str:
    value = posting_fingerprint(job.title, job.company, job.location)
    assert value is not None
    return value


def api_status(app: LiveApp, job: PostingFields) -> str:
    response = httpx.get(f"{app.url}/api/postings/{fingerprint(job)}", timeout=10)
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def test_the_board_is_worked_through_from_the_keyboard(
    ui_page: BrowserPage, ui_server: LiveApp
) -> None:
    seed_items(
        ui_server.db,
        [
            ItemRecord(uri=f"https://ui-board.test/job/{n}", data=job.as_item_data())
            for n, job in enumerate(JOBS)
        ],
    )
    page = ui_page.page
    page.goto("/postings")
    rows = page.locator("#postings tbody tr.posting")
    expect(rows).to_have_count(3)
    expect(page.locator("#keys")).to_contain_text("j/k next/previous")
    expect(page.locator("#keys")).to_contain_text("x archive")
    # Newest first, every one new and highlighted; the first is selected.
    expect(rows.nth(0).locator(".posting-title")).to_have_text(XSS)  # text, not markup
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("<b>Bold</b> Co")
    expect(page.locator("#postings img")).to_have_count(0)
    expect(page.locator("#postings tr.posting-new")).to_have_count(3)
    expect(rows.nth(0)).to_have_class("posting posting-new selected")
    expect(rows.nth(1).locator(".posting-title")).to_have_attribute(
        "href", "https://ui-board.test/job/1"
    )

    # Without a token the change is refused, and the page says what to do.
    page.keyboard.press("s")
    expect(page.locator("#notice")).to_contain_text("needs an API token")
    assert api_status(ui_server, JOBS[2]) == "new"

    set_token(page, ui_server.token)
    page.locator("#postings").click(position={"x": 5, "y": 5})  # the keys go to the page
    page.keyboard.press("s")
    expect(rows.nth(0).locator(".badge").first).to_have_text("seen")
    expect(rows.nth(0)).not_to_have_class("posting posting-new selected")

    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "false")
    page.keyboard.press("a")
    expect(rows.nth(1).locator(".badge").first).to_have_text("applied")

    page.keyboard.press("j")
    page.keyboard.press("j")  # past the last row the selection stays on it
    expect(rows.nth(2)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("x")
    expect(rows.nth(2).locator(".badge").first).to_have_text("archived")

    page.keyboard.press("k")
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("a")
    expect(rows.nth(0).locator(".badge").first).to_have_text("applied")

    # A move the workflow does not allow is refused with the API's reason.
    page.keyboard.press("s")
    expect(page.locator("#notice")).to_contain_text("applied cannot become seen")
    expect(rows.nth(0).locator(".badge").first).to_have_text("applied")

    assert [api_status(ui_server, job) for job in JOBS] == ["archived", "applied", "applied"]
    history = httpx.get(f"{ui_server.url}/api/postings/{fingerprint(JOBS[2])}", timeout=10).json()[
        "history"
    ]
    assert [(entry["status"], entry["by"]) for entry in history] == [
        ("seen", "ui-tests"),
        ("applied", "ui-tests"),
    ]

    # Typing in a filter box is not a command; reloading with the default "open" view leaves
    # the archived posting out.
    page.fill("#q", "sax")
    assert api_status(ui_server, JOBS[2]) == "applied"
    page.fill("#q", "")
    page.reload()
    expect(rows).to_have_count(2)
    page.select_option("#status", "archived")
    page.click("#posting-filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).locator(".posting-title")).to_have_text("Archive Me")
    assert ui_page.dialogs == []
    ui_page.screenshot("postings-board")
