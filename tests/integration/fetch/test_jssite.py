"""The local JavaScript site's search page keeps its contract (tests/jssite.py), proven in
Chromium through the browser fetcher: each form input filters, results paginate with a
client-side next link or a load-more button, and a plain fetch sees no result at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from haystack_collector.fetch import Fetcher, FetchSettings
from haystack_collector.fetch.browser import Browser
from haystack_collector.fetch.settings import BrowserSettings
from tests.jssite import PAGE_SIZE, JsSite, expected

pytestmark = pytest.mark.timeout(120)

FAST = FetchSettings(min_delay=0.0, jitter=0.0, obey_robots=False)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    found = Browser(BrowserSettings(page_timeout=30.0), FAST)
    yield found
    await found.aclose()


def test_the_data_set_is_the_documented_one() -> None:
    assert len(expected("python")) == 40
    assert len(expected("python", "engineering")) == 30
    assert len(expected("python", "engineering", remote=True)) == 10
    found = expected("python", "engineering", remote=True, since="2024-02-01")
    assert [job.n for job in found] == [34, 38, 46, 50, 58]
    assert len(expected("python", "sales")) == 10


async def test_a_plain_fetch_of_the_search_page_gets_no_result(jssite: JsSite) -> None:
    async with Fetcher(FAST) as plain:
        page = await plain.fetch(f"{jssite.url}/search")
    assert page.ok
    assert 'id="search"' in page.text
    assert 'class="result"' not in page.text


async def test_every_input_filters_and_the_next_link_pages_through(
    browser: Browser, jssite: JsSite
) -> None:
    async with browser.page() as page:
        await page.goto(f"{jssite.url}/search")
        await page.fill("input[name=q]", "python")
        await page.select_option("select[name=category]", "engineering")
        await page.check("input[name=remote]")
        await page.fill("input[name=since]", "2024-02-01")
        await page.click("#search button[type=submit]")
        await page.wait_for_selector("div.result")
        titles = await page.locator("div.result h2.title a").all_inner_texts()
        want = expected("python", "engineering", remote=True, since="2024-02-01")
        assert titles == [job.title for job in want]
        assert await page.locator("a.next").count() == 0  # 5 results: one page
        first = page.locator("div.result").first
        assert await first.locator(".posted").inner_text() == want[0].posted
        assert await first.locator(".location").inner_text() == "Remote"
        assert await first.locator(".company").inner_text() == want[0].company
        assert await page.locator("div.result .salary").count() == sum(
            1 for job in want if job.salary
        )

        # 30 results: three pages of 10 through the client-side next link.
        await page.uncheck("input[name=remote]")
        await page.fill("input[name=since]", "")
        await page.click("#search button[type=submit]")
        want = expected("python", "engineering")
        seen: list[str] = []
        for number in range(3):
            await page.wait_for_function(
                "n => document.querySelector('div.result h2 a').textContent === n",
                arg=want[number * PAGE_SIZE].title,
            )
            seen += await page.locator("div.result h2.title a").all_inner_texts()
            if number < 2:
                await page.click("a.next")
        assert seen == [job.title for job in want]
        assert await page.locator("a.next").count() == 0
        hrefs = await page.locator("div.result h2.title a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        assert hrefs == [f"/job/{job.n}" for job in want[20:]]
    assert jssite.asked("/no-js-search") == []  # the script intercepted every submit


async def test_the_load_more_button_appends_every_page(browser: Browser, jssite: JsSite) -> None:
    async with browser.page() as page:
        await page.goto(f"{jssite.url}/search?more=1")
        await page.fill("input[name=q]", "python")
        await page.click("#search button[type=submit]")
        want = expected("python")
        for shown in range(PAGE_SIZE, len(want), PAGE_SIZE):
            await page.wait_for_function(
                "n => document.querySelectorAll('div.result').length === n", arg=shown
            )
            await page.click("button.load-more")
        await page.wait_for_function(
            "n => document.querySelectorAll('div.result').length === n", arg=len(want)
        )
        assert await page.locator("button.load-more").count() == 0
        titles = await page.locator("div.result h2.title a").all_inner_texts()
        assert titles == [job.title for job in want]
        assert await page.locator("a.next").count() == 0
