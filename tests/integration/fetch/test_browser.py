"""The browser fetcher in real Chromium against the local JavaScript site (tests/jssite.py).

Each test proves one rule: a plain fetch of the site's pages gets none of their content and a
render gets all of it; waits and scrolling; the SSRF guard on every request of API work (and
its allow-list); robots.txt and the body caps on the navigation; resource blocking; the page
timeout; the page limit; a killed browser failing its task and being replaced; log lines with
the correlation id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from haystack_collector.db import Database
from haystack_collector.errors import ConfigError
from haystack_collector.fetch import Fetcher, FetchSettings
from haystack_collector.fetch.browser import Browser, BrowserCrashed, require_playwright
from haystack_collector.fetch.policy import host_key
from haystack_collector.fetch.procs import tree
from haystack_collector.fetch.render import ScrollSpec, SnapshotSpec, WaitSpec
from haystack_collector.fetch.settings import BrowserSettings
from haystack_collector.logs import ContextFilter, correlation_scope
from haystack_collector.origin import API, origin_scope
from haystack_collector.runtime import CRAWL, Runtime
from haystack_collector.settings import load_settings
from tests.jssite import (
    FEED_ITEMS,
    SCROLL_BATCH,
    SCROLL_TOTAL,
    JsSite,
    Recorder,
)

pytestmark = pytest.mark.timeout(120)


def fetch_settings(**overrides: Any) -> FetchSettings:
    options: dict[str, Any] = {
        "min_delay": 0.0,
        "jitter": 0.0,
        "obey_robots": False,
        "retry_initial": 0.01,
        "retry_maximum": 0.5,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "total_timeout": 10.0,
    }
    options.update(overrides)
    return FetchSettings(**options)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    found = Browser(BrowserSettings(page_timeout=15.0), fetch_settings())
    yield found
    await found.aclose()


async def test_plain_fetch_gets_nothing_the_render_gets_every_result(
    browser: Browser, jssite: JsSite
) -> None:
    async with Fetcher(fetch_settings()) as plain:
        fetched = await plain.fetch(f"{jssite.url}/feed-results")
    assert fetched.ok
    assert 'class="result"' not in fetched.text

    rendered = await browser.render(
        f"{jssite.url}/feed-results", wait=WaitSpec(selector="li.result")
    )
    assert rendered.ok
    assert rendered.status == 200
    assert not rendered.wait_timed_out
    assert rendered.html.count('class="result"') == FEED_ITEMS
    assert f'href="/item/{FEED_ITEMS}"' in rendered.html
    assert rendered.headers["content-type"].startswith("text/html")
    as_fetch = rendered.as_fetch_result()
    assert as_fetch.ok
    assert as_fetch.text == rendered.html


async def test_a_selector_that_never_appears_ends_the_wait_not_the_render(
    browser: Browser, jssite: JsSite
) -> None:
    rendered = await browser.render(
        f"{jssite.url}/feed-results", wait=WaitSpec(selector="li.missing", timeout=0.5)
    )
    assert rendered.ok
    assert rendered.wait_timed_out


async def test_scrolling_loads_the_whole_infinite_list_up_to_the_limit(
    browser: Browser, jssite: JsSite
) -> None:
    idle = WaitSpec(selector="li.entry")
    first = await browser.render(f"{jssite.url}/scroll", wait=idle)
    assert first.html.count('class="entry"') == SCROLL_BATCH

    every = await browser.render(
        f"{jssite.url}/scroll", wait=idle, scroll=ScrollSpec(max_scrolls=20, pause=2.0)
    )
    assert every.html.count('class="entry"') == SCROLL_TOTAL
    assert every.scrolls == SCROLL_TOTAL // SCROLL_BATCH - 1  # the sixth scroll found no more

    two = await browser.render(
        f"{jssite.url}/scroll", wait=idle, scroll=ScrollSpec(max_scrolls=2, pause=2.0)
    )
    assert two.html.count('class="entry"') == 3 * SCROLL_BATCH


async def test_a_page_that_never_finishes_loading_times_out(jssite: JsSite) -> None:
    browser = Browser(BrowserSettings(page_timeout=1.5), fetch_settings())
    try:
        started = asyncio.get_running_loop().time()
        rendered = await browser.render(f"{jssite.url}/never")
        took = asyncio.get_running_loop().time() - started
        assert rendered.error == "page timeout (1.5 s)"
        assert took < 8
        # The browser survived the timeout: the next page renders in it.
        after = await browser.render(f"{jssite.url}/feed-results", wait=WaitSpec("li.result"))
        assert after.ok
        assert browser.launches == 1
    finally:
        await browser.aclose()


async def test_api_work_cannot_make_the_page_reach_another_loopback_host(
    jssite: JsSite, recorder: Recorder
) -> None:
    # The site itself is allowed (guard_allow); the recorder on 127.0.0.2 is not.
    settings = fetch_settings(allow_private=True, guard_allow=frozenset({host_key(jssite.url)}))
    browser = Browser(BrowserSettings(), settings)
    page = f"{jssite.url}/sneaky?target={recorder.url}"
    try:
        with origin_scope(API):
            refused = await browser.render(page, wait=WaitSpec(selector="#sneaky", delay=0.5))
        assert refused.ok  # the page itself rendered
        assert recorder.hits == []
        socket = recorder.url.replace("http", "ws", 1) + "/ws"  # WebSockets pass no route
        assert {f"{recorder.url}/img.png", f"{recorder.url}/secret", socket} <= set(refused.refused)
        assert ">refused<" in refused.html

        # The same page from the command line reaches it: the guard, not the set-up, refused.
        trusted = await browser.render(page, wait=WaitSpec(selector="#sneaky", delay=0.5))
        assert trusted.refused == []
        # (Chromium's own local-network check stops the WebSocket itself from a served page.)
        assert sorted(recorder.hits) == ["/img.png", "/secret"]
        assert ">got: secret<" in trusted.html
    finally:
        await browser.aclose()


async def test_api_work_cannot_navigate_to_a_host_outside_the_allow_list(
    jssite: JsSite, recorder: Recorder
) -> None:
    browser = Browser(BrowserSettings(), fetch_settings(guard_allow=frozenset()))
    try:
        with origin_scope(API):
            refused = await browser.render(f"{jssite.url}/feed-results")
        assert refused.error is not None
        assert refused.error.startswith("blocked address")
        assert refused.html == ""
        assert jssite.hits == []
    finally:
        await browser.aclose()


async def test_robots_txt_governs_the_navigation(browser: Browser, jssite: JsSite) -> None:
    polite = fetch_settings(obey_robots=True)
    refused = await browser.render(f"{jssite.url}/private/page", settings=polite)
    assert refused.error == "disallowed by robots.txt"
    assert jssite.asked("/private") == []


async def test_the_body_caps_apply_to_the_page_and_to_what_it_loads(
    jssite: JsSite, caplog: pytest.LogCaptureFixture
) -> None:
    browser = Browser(BrowserSettings(), fetch_settings(max_body_bytes=50_000))
    results = WaitSpec(selector="li.result", timeout=2.0)
    try:
        big = await browser.render(f"{jssite.url}/big")
        assert big.truncated
        assert big.reason == "body over max_body_bytes (50000)"
        assert big.as_fetch_result().truncated
        # A script's answer over the cap never reaches the page; one under it does.
        over = await browser.render(f"{jssite.url}/feed-results?pad=60000", wait=results)
        assert jssite.asked("/api/results.json?pad=60000")
        assert over.wait_timed_out
        assert 'class="result"' not in over.html
        assert "refused: body over max_body_bytes (50000)" in caplog.text
        under = await browser.render(f"{jssite.url}/feed-results?pad=40000", wait=results)
        assert under.html.count('class="result"') == FEED_ITEMS
    finally:
        await browser.aclose()


async def test_blocked_resource_types_are_never_requested(jssite: JsSite) -> None:
    plain = Browser(BrowserSettings(), fetch_settings())
    lean = Browser(BrowserSettings(block=frozenset({"image", "font", "media"})), fetch_settings())
    try:
        await plain.render(f"{jssite.url}/big")
        assert jssite.asked("/img.png") == ["/img.png"]
        rendered = await lean.render(f"{jssite.url}/big")
        assert rendered.ok
        assert rendered.blocked == 1
        assert jssite.asked("/img.png") == ["/img.png"]  # not asked a second time
    finally:
        await plain.aclose()
        await lean.aclose()


async def test_the_page_limit_holds_pages_back(jssite: JsSite) -> None:
    browser = Browser(BrowserSettings(pages=1), fetch_settings())
    most = 0

    async def one() -> None:
        nonlocal most
        async with browser.page() as page:
            most = max(most, browser.open_pages)
            await page.goto(f"{jssite.url}/item/1")
            await asyncio.sleep(0.2)

    try:
        await asyncio.gather(one(), one(), one())
        assert most == 1
    finally:
        await browser.aclose()


async def test_a_killed_browser_fails_its_task_and_the_next_page_gets_a_new_one(
    jssite: JsSite,
) -> None:
    browser = Browser(BrowserSettings(page_timeout=20.0), fetch_settings())
    try:
        async with browser.page() as page:
            await page.goto(f"{jssite.url}/item/1")
        first = browser.pid
        assert first is not None

        async def kill_soon() -> None:
            await asyncio.sleep(1.0)  # /never is loading: the task is mid-flight
            os.kill(first, signal.SIGKILL)

        killer = asyncio.create_task(kill_soon())
        with pytest.raises(BrowserCrashed):
            await browser.render(f"{jssite.url}/never")
        await killer
        assert first not in tree(first) or not os.path.exists(f"/proc/{first}")

        again = await browser.render(f"{jssite.url}/feed-results", wait=WaitSpec("li.result"))
        assert again.ok
        assert again.html.count('class="result"') == FEED_ITEMS
        assert browser.launches == 2
        assert browser.pid != first
    finally:
        await browser.aclose()


async def test_snapshots_capture_a_png_and_a_pdf(browser: Browser, jssite: JsSite) -> None:
    rendered = await browser.render(
        f"{jssite.url}/feed-results",
        wait=WaitSpec("li.result"),
        snapshot=SnapshotSpec(screenshot=True, pdf=True),
    )
    assert rendered.screenshot is not None
    assert rendered.screenshot.startswith(b"\x89PNG")
    assert rendered.pdf is not None
    assert rendered.pdf.startswith(b"%PDF")
    plain = await browser.render(f"{jssite.url}/feed-results")
    assert plain.screenshot is None
    assert plain.pdf is None


async def test_log_lines_carry_the_correlation_id(
    browser: Browser, jssite: JsSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="haystack.fetch")
    caplog.handler.addFilter(ContextFilter())  # what every Haystack log handler does
    with correlation_scope("cid-render-1"):
        await browser.render(f"{jssite.url}/feed-results")
        await browser.render(f"{jssite.url}/private/x", settings=fetch_settings(obey_robots=True))
    fetched = [r for r in caplog.records if r.getMessage().startswith("fetched ")]
    failed = [r for r in caplog.records if r.getMessage().startswith("render failed")]
    assert fetched
    assert failed
    # The navigation's fetch log line is written inside a route handler (Playwright's task).
    assert {getattr(r, "correlation_id", None) for r in fetched + failed} == {"cid-render-1"}


def test_a_missing_playwright_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)
    with pytest.raises(ConfigError, match=r"haystack-collector\[browser\]"):
        require_playwright()


async def test_a_missing_browser_executable_is_a_clear_error(jssite: JsSite) -> None:
    browser = Browser(BrowserSettings(executable="/nonexistent/chromium"), fetch_settings())
    try:
        with pytest.raises(ConfigError, match="HAYSTACK_BROWSER_PATH"):
            await browser.render(f"{jssite.url}/item/1")
    finally:
        await browser.aclose()


async def test_the_runtime_hands_the_settings_to_its_browser(
    jssite: JsSite, sqlite_db: Database
) -> None:
    settings = load_settings(
        browser_block=["image"],
        browser_timeout=1.5,
        browser_pages=1,
        download_delay=0,
        obey_robots=False,
    )
    runtime = Runtime.from_settings(settings, db=sqlite_db, parts=CRAWL, engines=[])
    browser = runtime.fetchers.for_engine("webScraper").browser()
    try:
        big = await browser.render(f"{jssite.url}/big")
        assert big.blocked == 1  # HAYSTACK_BROWSER_BLOCK
        assert jssite.asked("/img.png") == []
        never = await browser.render(f"{jssite.url}/never")
        assert never.error == "page timeout (1.5 s)"  # HAYSTACK_BROWSER_TIMEOUT
        assert browser.browser.settings.pages == 1  # HAYSTACK_BROWSER_PAGES
    finally:
        await runtime.fetchers.aclose()
    assert not browser.browser.connected  # closed with the fetchers


async def test_a_hung_browser_is_killed_and_its_task_fails_to_be_retried(jssite: JsSite) -> None:
    browser = Browser(BrowserSettings(page_timeout=2.0, close_timeout=1.0), fetch_settings())
    try:
        async with browser.page() as page:
            await page.goto(f"{jssite.url}/item/1")
        hung = browser.pid
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)  # alive but answering nothing: a hung browser
        try:
            with pytest.raises(BrowserCrashed, match="hung"):
                await browser.render(f"{jssite.url}/feed-results")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(hung, signal.SIGCONT)
        assert not os.path.exists(f"/proc/{hung}/cmdline") or not tree(hung)[1:]
        again = await browser.render(f"{jssite.url}/feed-results", wait=WaitSpec("li.result"))
        assert again.html.count('class="result"') == FEED_ITEMS
        assert browser.launches == 2
    finally:
        await browser.aclose()
