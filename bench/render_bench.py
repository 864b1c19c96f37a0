"""Browser rendering benchmark: Haystack's browser fetcher against Playwright driven directly.

    .venv/bin/python bench/render_bench.py [--pages 24] [--open 1,2,4] [--rounds 1]

Both drive the same Chromium (``/usr/bin/chromium``) on the local JavaScript site
(tests/jssite.py, served here on loopback): each render opens ``/feed-results`` in a new
browser context, waits until its script inserted the results (``li.result``) and reads the
DOM. With N pages open at once:

* **pages/s**: ``--pages`` renders by N concurrent tasks, after one warm-up render;
* **memory per open page**: the browser's process tree (proportional set size, so pages
  shared between Chromium's processes count once) with N rendered pages held open, minus the
  same browser with none open, divided by N.

The floor is Playwright alone: no request interception, no politeness, no guard. Haystack's
fetcher answers every request itself (``fetch/intercept.py``): navigations through the
fetcher (robots, host slots, breaker, retries, caps), the rest through its guarded client
with the body caps; the ratio says what those rules cost. Not a test: pytest never collects
this folder.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the local JavaScript site lives with the tests

from playwright.async_api import Page, async_playwright  # noqa: E402
from tests.jssite import FEED_ITEMS, serve_jssite  # noqa: E402

from haystack_collector.fetch import FetchSettings  # noqa: E402
from haystack_collector.fetch.browser import Browser  # noqa: E402
from haystack_collector.fetch.procs import find_marked, tree_pss  # noqa: E402
from haystack_collector.fetch.render import WaitSpec  # noqa: E402
from haystack_collector.fetch.settings import BrowserSettings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
# The crawl of a site of one's own: no politeness delay, robots read once and cached.
FETCH = FetchSettings(min_delay=0.0, jitter=0.0, per_host_concurrency=64, obey_robots=True)
MiB = 1024 * 1024


@dataclass
class Figures:
    pages_per_s: float
    per_page_mib: float


async def _throughput(render: Callable[[], Awaitable[None]], pages: int, tasks: int) -> float:
    await render()  # warm-up: robots.txt, the first context
    todo = iter(range(pages))

    async def worker() -> None:
        for _ in todo:
            await render()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return pages / (time.perf_counter() - started)


async def haystack(url: str, pages: int, n: int) -> Figures:
    browser = Browser(BrowserSettings(executable=CHROMIUM, pages=n), FETCH)
    wait = WaitSpec(selector="li.result")
    try:

        async def render() -> None:
            result = await browser.render(url, wait=wait)
            assert result.html.count('class="result"') == FEED_ITEMS, result.error

        rate = await _throughput(render, pages, n)
        await asyncio.sleep(1.0)
        idle = browser.memory()
        ready, release = asyncio.Event(), asyncio.Event()
        opened = 0

        async def hold() -> None:
            nonlocal opened
            async with browser.page() as page:
                await page.goto(url)
                await page.wait_for_selector("li.result")
                opened += 1
                if opened == n:
                    ready.set()
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(n)]
        await ready.wait()
        await asyncio.sleep(1.0)
        busy = browser.memory()
        release.set()
        await asyncio.gather(*holders)
        return Figures(rate, (busy - idle) / n / MiB)
    finally:
        await browser.aclose()


async def playwright_floor(url: str, pages: int, n: int) -> Figures:
    marker = f"--haystack-bench={uuid.uuid4().hex}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, marker])
        try:

            async def open_page() -> tuple[Page, Callable[[], Awaitable[None]]]:
                context = await browser.new_context()
                page = await context.new_page()
                await page.goto(url)
                await page.wait_for_selector("li.result")
                return page, context.close

            async def render() -> None:
                page, close = await open_page()
                html = await page.content()
                await close()
                assert html.count('class="result"') == FEED_ITEMS

            rate = await _throughput(render, pages, n)
            await asyncio.sleep(1.0)
            pid = find_marked(marker)
            assert pid is not None
            idle = tree_pss(pid)
            opened = await asyncio.gather(*(open_page() for _ in range(n)))
            await asyncio.sleep(1.0)
            busy = tree_pss(pid)
            for _, close in opened:
                await close()
            return Figures(rate, (busy - idle) / n / MiB)
        finally:
            await browser.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=24, help="renders per measurement")
    parser.add_argument("--open", default="1,2,4", help="pages open at once, comma-separated")
    args = parser.parse_args()
    counts = [int(n) for n in args.open.split(",")]
    with serve_jssite() as site:
        url = f"{site.url}/feed-results"
        print(f"{args.pages} renders of {url} per row; memory: PSS of the browser's tree")
        print(
            f"{'open':>4} {'haystack p/s':>12} {'floor p/s':>9} {'ratio':>6}"
            f" {'haystack MiB/page':>17} {'floor MiB/page':>14}"
        )
        for n in counts:
            ours = await haystack(url, args.pages, n)
            floor = await playwright_floor(url, args.pages, n)
            print(
                f"{n:>4} {ours.pages_per_s:>12.2f} {floor.pages_per_s:>9.2f}"
                f" {ours.pages_per_s / floor.pages_per_s:>6.2f}"
                f" {ours.per_page_mib:>17.1f} {floor.per_page_mib:>14.1f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
