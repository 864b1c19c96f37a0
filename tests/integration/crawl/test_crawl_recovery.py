"""``kill -9`` a ``haystack crawl``, then ``haystack worker --drain`` at once: the worker judges
the crawl dead, releases what it held, and finishes the crawl with the crawl's own choices
(delay 0, 4 per host), not its own slow defaults.

Killed on "another machine" (its row says so), the crawl is dead once the stall timeout has
passed; on this machine, at once, since its process is gone (the stall timeout is left at its
30 s default there, which the drain need not wait out)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from haystack_collector.db import Database
from haystack_collector.db.schema import items
from haystack_collector.store.workers import list_workers
from haystack_collector.urls import looks_like_trap
from tests.databases import migrated_database
from tests.factories import as_if_on_another_machine
from tests.integration.crawl.helpers import crawl_events, stored_pages
from tests.integration.crawl.site import Site, reference_crawl, serve
from tests.integration.crawl.test_crawl_crash import BACKENDS, database_url, wait_for

CONCURRENCY = 4
STALL = 3.0  # seconds: HAYSTACK_WORKER_STALL_TIMEOUT for both processes, "another machine"
# The worker's own settings, were it to use them: 5 s between requests, one at a time. The
# ~200 pages left would take over 15 minutes; the crawl's own choices take seconds.
SLOW_DEFAULTS = {"HAYSTACK_DOWNLOAD_DELAY": "5", "HAYSTACK_PER_HOST_CONCURRENCY": "1"}


def haystack(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "haystack_collector", "--database-url", url, *args]


def environment(machine: str, **extra: str) -> dict[str, str]:
    stall = {"HAYSTACK_WORKER_STALL_TIMEOUT": str(STALL)} if machine == "another" else {}
    return {**os.environ, **stall, **extra}


def duplicate_uris(db: Database) -> int:
    query = select(items.c.ItemURI).group_by(items.c.ItemURI).having(func.count() > 1)
    with db.read() as conn:
        return len(conn.execute(query).all())


@pytest.mark.parametrize("machine", ["another", "same"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_crawl_is_finished_by_a_drain_within_the_stall_timeout_and_its_own_pace(
    tmp_path: Path, backend: str, machine: str
) -> None:
    url = database_url(tmp_path, backend, "haystack_crawl_recovery")
    site = Site(pages=300, with_error_page=False, sleep=0.02)
    with migrated_database(url) as db, serve(site) as base:
        expected = reference_crawl(
            site, max_depth=40, trap=lambda path: looks_like_trap(base + path) is not None
        )
        crawl = [base + "/", "--max-depth", "40", "-c", str(CONCURRENCY), "--delay", "0"]
        started = time.monotonic()
        first = subprocess.Popen(
            haystack(url, "crawl", *crawl),
            cwd=tmp_path,
            env=environment(machine),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: site.requests.total() >= 80, timeout=60)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=10)
        killed_at = dict(site.requests)
        crawled_for = time.monotonic() - started
        if machine == "another":
            as_if_on_another_machine(db, "")
        assert len(killed_at) < len(expected) - 100  # killed early on, not near the end

        drain_started = time.monotonic()
        second = subprocess.run(
            haystack(url, "worker", "--drain", "--no-scheduler", "-c", str(CONCURRENCY)),
            check=False,
            cwd=tmp_path,
            env=environment(machine, **SLOW_DEFAULTS),
            capture_output=True,
            text=True,
            timeout=120,
        )
        drained_in = time.monotonic() - drain_started
        assert second.returncode == 0, second.stderr

        pages = stored_pages(db)
        assert set(pages) == {base + path for path in expected}
        assert crawl_events(db) == {"pending": 0, "claimed": 0, "done": len(pages), "dead": 0}
        assert all(len(data["FetchedAt"]) == 1 for data in pages.values())
        assert duplicate_uris(db) == 0
        # Fetched twice: only pages in flight at the kill (robots.txt: once per process).
        refetched = {p: n for p, n in site.requests.items() if n > 1 and p != "/robots.txt"}
        assert sum(n - 1 for n in refetched.values()) <= CONCURRENCY, refetched
        # The stall timeout (none on this machine), plus the remaining pages at the first
        # run's pace (start-up included, with room for a slower machine), not the lease.
        left = len(expected) - len(killed_at)
        pace = crawled_for / max(len(killed_at), 1)
        stall = STALL if machine == "another" else 0.0
        assert drained_in < stall + 2 * left * pace + 5, (drained_in, left, pace)
        # The crawl's worker was judged dead by the drain, which stopped cleanly.
        states = sorted(row.state for row in db.run_read(list_workers))
        assert states == ["dead", "stopped"]
