"""A rendering crawl whose browser is killed mid-page: the page goes back to the queue (its
event retried, never lost) and a new browser renders it."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from haystack_collector.crawl import CrawlOptions, crawl, crawl_fetch_settings, crawl_runtime
from haystack_collector.fetch import FetchSettings
from haystack_collector.fetch.procs import find_marked, tree
from haystack_collector.fetch.render_options import WaitOptions
from haystack_collector.queue import QueuePolicy
from haystack_collector.resilience import RetryPolicy
from tests.databases import migrated_database
from tests.integration.crawl.helpers import crawl_events, stored_pages
from tests.jssite import JsSite

pytestmark = pytest.mark.timeout(180)

# A failed page is due again a moment later (the real policy waits 30 s and more).
QUICK_RETRY = QueuePolicy(retry=RetryPolicy(attempts=3, initial=0.2, maximum=0.5))


def our_browser() -> int | None:
    """This process's browser (other tests on the machine may run browsers of their own)."""
    ours = set(tree(os.getpid()))
    root = find_marked("--haystack-browser=")
    if root in ours:
        return root
    for pid in ours:  # another test's browser answered first: look among ours only
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--haystack-browser=" in cmdline and b"--type=" not in cmdline:
            return pid
    return None


def test_a_killed_browser_sends_its_page_back_to_the_queue(tmp_path: Path, jssite: JsSite) -> None:
    url = f"sqlite:///{tmp_path / 'render.db'}"
    start = f"{jssite.url}/slow?ms=2500"
    options = CrawlOptions(
        url=start,
        max_depth=0,
        concurrency=1,
        delay=0.0,
        obey_robots=False,
        render=True,
        wait=WaitOptions(selector="a[href='/item/99']", timeout=10),
    )
    killed: list[int] = []

    def kill_mid_page() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not jssite.asked("/api/slow.js"):
            time.sleep(0.05)
        pid = our_browser()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with migrated_database(url) as db:
        fetch = crawl_fetch_settings(FetchSettings(), options)
        killer = threading.Thread(target=kill_mid_page)
        killer.start()
        first = crawl(crawl_runtime(db, options, fetch, policy=QUICK_RETRY), options)
        killer.join()
        assert killed, "the browser was never seen"
        # The page failed with the browser and went back to the queue, not lost...
        assert (first.stats.failed, first.stats.retried) == (1, 1), first
        if first.pages == 0:  # ...due again after the drain ended: the next run takes it
            assert crawl_events(db)["pending"] == 1
            time.sleep(1.5)  # its retry is due (the queue's dates count whole seconds)
            second = crawl(crawl_runtime(db, options, fetch, policy=QUICK_RETRY), options)
            assert second.pages == 1, (second, crawl_events(db))
        pages = stored_pages(db)
        page = pages[start]
        assert page["StatusCode"] == [200]
        assert page.get("Error") in (None, [None])
        assert crawl_events(db)["pending"] == 0
        assert len(jssite.asked("/api/slow.js")) == 2
