"""What a browser render waits for, how it scrolls, what it captures, and what it returns.

Waiting is explicit (``WaitSpec``): until a selector appears, until the network is idle, or a
fixed delay, each bounded by a timeout; a wait that runs out is reported
(``RenderResult.wait_timed_out``), not an error: a results page that lists nothing never shows
its result selector. Scrolling (``ScrollSpec``) loads an infinite list: scroll to the bottom,
wait for the page to grow, and stop after ``max_scrolls`` or once it no longer grows.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

import httpx

from haystack_collector.fetch.result import FetchResult

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = [
    "IDLE",
    "RenderResult",
    "ScrollSpec",
    "SnapshotSpec",
    "WaitSpec",
    "apply_wait",
    "scroll_page",
]


@dataclasses.dataclass(frozen=True, slots=True)
class WaitSpec:
    """What to wait for once the page has loaded; all of those given, each within ``timeout``."""

    selector: str | None = None  # CSS selector that must be attached to the document
    network_idle: bool = False  # no request for 500 ms (Playwright's "networkidle")
    delay: float = 0.0  # seconds, after the others
    timeout: float = 10.0  # seconds, for the selector and for network idle each

    def __post_init__(self) -> None:
        if self.delay < 0 or self.timeout <= 0:
            raise ValueError("a wait's delay must be >= 0 and its timeout > 0")


# What engines wait for when the user named no wait: a script that fetches its content has
# fetched it once the network has been idle for 500 ms (bounded by the timeout).
IDLE = WaitSpec(network_idle=True)


@dataclasses.dataclass(frozen=True, slots=True)
class ScrollSpec:
    """Scroll to the bottom up to ``max_scrolls`` times, each time waiting up to ``pause``
    seconds for the page to grow; stop early when it does not."""

    max_scrolls: int = 0  # 0: no scrolling
    pause: float = 2.0

    def __post_init__(self) -> None:
        if self.max_scrolls < 0 or self.pause <= 0:
            raise ValueError("max_scrolls must be >= 0 and pause > 0")


@dataclasses.dataclass(frozen=True, slots=True)
class SnapshotSpec:
    """What a render captures besides the HTML (stored elsewhere: see the snapshot store)."""

    screenshot: bool = True  # full page, PNG
    pdf: bool = False


@dataclasses.dataclass(slots=True)
class RenderResult:
    """One rendered page: its final URL and navigation response, and the DOM as HTML."""

    url: str  # final URL of the page
    status: int | None = None  # of the navigation response; None when none arrived
    headers: httpx.Headers = dataclasses.field(default_factory=httpx.Headers)
    html: str = ""  # the rendered DOM (``page.content()``) after waits and scrolling
    error: str | None = None  # why the render failed (the navigation's fetch error, a timeout)
    redirects: list[str] = dataclasses.field(default_factory=list)
    truncated: bool = False
    reason: str | None = None  # why the navigation's body or the HTML was cut
    elapsed: float = 0.0
    attempts: int = 0  # of the navigation's fetch
    retry_after: float | None = None  # with error "circuit open"
    wait_timed_out: bool = False  # a wait ran out (the page is returned as it was)
    scrolls: int = 0  # scrolls that made the page grow
    refused: list[str] = dataclasses.field(default_factory=list)  # requests the guard refused
    blocked: int = 0  # requests not made: resource types blocked by the settings
    screenshot: bytes | None = None  # PNG, when the snapshot asked for it
    pdf: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def as_fetch_result(self) -> FetchResult:
        """The render as a fetch of its HTML: what the extractors and stores take."""
        body = self.html.encode("utf-8")
        result = FetchResult(
            self.url,
            self.status,
            self.headers,
            body,
            text=self.html,
            encoding="utf-8",
            content_type="text/html; charset=utf-8" if self.html else None,
            elapsed=self.elapsed,
            redirects=list(self.redirects),
            truncated=self.truncated,
            reason=self.reason,
            error=self.error,
            attempts=self.attempts,
            retry_after=self.retry_after,
        )
        return result


async def apply_wait(page: Page, wait: WaitSpec) -> bool:
    """Wait as ``wait`` says; returns False when a wait ran out (the page is used as it is)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout  # noqa: PLC0415

    ms = wait.timeout * 1000
    complete = True
    if wait.network_idle:
        try:
            await page.wait_for_load_state("networkidle", timeout=ms)
        except PlaywrightTimeout:
            complete = False
    if wait.selector is not None:
        try:
            await page.wait_for_selector(wait.selector, state="attached", timeout=ms)
        except PlaywrightTimeout:
            complete = False
    if wait.delay:
        await asyncio.sleep(wait.delay)
    return complete


# The document's height and how many elements it holds: either growing means new content.
_SIZE = "() => [document.documentElement.scrollHeight, document.getElementsByTagName('*').length]"
_GREW = """([height, count]) =>
    document.documentElement.scrollHeight > height
    || document.getElementsByTagName('*').length > count"""


async def scroll_page(page: Page, scroll: ScrollSpec) -> int:
    """Scroll as ``scroll`` says; returns how many scrolls loaded something new."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout  # noqa: PLC0415

    grew = 0
    for _ in range(scroll.max_scrolls):
        size = await page.evaluate(_SIZE)
        await page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
        try:
            await page.wait_for_function(_GREW, arg=size, timeout=scroll.pause * 1000)
        except PlaywrightTimeout:
            break  # nothing new: the end of the list
        grew += 1
    return grew
