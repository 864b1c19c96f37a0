"""``haystack crawl`` killed with SIGKILL mid-way, then run again: nothing lost or repeated."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from haystack_collector.urls import looks_like_trap
from tests.databases import migrated_database, recreate_server_database, selected_backends
from tests.integration.crawl.helpers import crawl_events, stored_pages
from tests.integration.crawl.site import Site, reference_crawl, serve

CONCURRENCY = 4
SUMMARY = re.compile(r"^pages=(\d+) seconds=(\d+\.\d+) pages_per_s=(\d+\.\d+)$")
BACKENDS = [b for b in selected_backends() if b in ("sqlite", "mariadb")]


def crawl_command(url: str, base: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "haystack_collector",
        "--database-url",
        url,
        "crawl",
        base + "/",
        "--max-depth",
        "40",
        "--concurrency",
        str(CONCURRENCY),
        "--delay",
        "0",
    ]


def wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"not reached within {timeout}s")


def database_url(tmp_path: Path, backend: str, name: str) -> str:
    """A private database for the crawl processes: a SQLite file or a fresh server database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'crawl.db'}"
    return recreate_server_database(backend, name).render_as_string(hide_password=False)


def start_crawl(url: str, base: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        crawl_command(url, base), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_crawl_is_finished_by_running_it_again(tmp_path: Path, backend: str) -> None:
    url = database_url(tmp_path, backend, "haystack_crawl_crash")
    site = Site(pages=150, with_error_page=False, sleep=0.01)
    with migrated_database(url) as db, serve(site) as base:
        expected = reference_crawl(
            site, max_depth=40, trap=lambda path: looks_like_trap(base + path) is not None
        )
        first = start_crawl(url, base, tmp_path)
        try:
            wait_for(lambda: sum(site.requests.values()) >= 60, timeout=30)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(timeout=10)
        killed_at = dict(site.requests)
        assert len(killed_at) < len(expected)  # killed mid-way, not after the end

        second = subprocess.run(
            crawl_command(url, base),
            check=False,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 0, second.stderr
        summary = SUMMARY.match(second.stdout.strip().splitlines()[-1])
        assert summary is not None, second.stdout

        pages = stored_pages(db)
        assert set(pages) == {base + path for path in expected}
        assert all(len(data["FetchedAt"]) == 1 for data in pages.values())
        assert crawl_events(db) == {"pending": 0, "claimed": 0, "done": len(pages), "dead": 0}
        refetched = {
            path: n for path, n in site.requests.items() if n > 1 and path != "/robots.txt"
        }
        assert sum(n - 1 for n in refetched.values()) <= CONCURRENCY, refetched
        assert int(summary.group(1)) + len(killed_at) >= len(pages) - 1  # robots.txt aside


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_stops_the_crawl_cleanly_and_running_it_again_finishes_it(
    tmp_path: Path, backend: str
) -> None:
    url = database_url(tmp_path, backend, "haystack_crawl_sigint")
    # Pages of 50 ms on 4 slots: the crawl takes about 2 s, so SIGINT always lands mid-way.
    site = Site(pages=150, with_error_page=False, sleep=0.05)
    with migrated_database(url) as db, serve(site) as base:
        expected = reference_crawl(
            site, max_depth=40, trap=lambda path: looks_like_trap(base + path) is not None
        )
        first = start_crawl(url, base, tmp_path)
        try:
            wait_for(lambda: sum(site.requests.values()) >= 60, timeout=30)
            first.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
            out, err = first.communicate(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(timeout=10)
        # A clean stop: exit 0, the summary of what this run did, nothing left claimed.
        assert first.returncode == 0, err
        interrupted = SUMMARY.match(out.strip().splitlines()[-1])
        assert interrupted is not None, out
        events = crawl_events(db)
        assert events["claimed"] == 0
        assert 0 < events["done"] < len(expected)
        assert events["pending"] > 0
        stored_before = set(stored_pages(db))

        second = subprocess.run(
            crawl_command(url, base),
            check=False,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 0, second.stderr

        pages = stored_pages(db)
        assert set(pages) == {base + path for path in expected}
        assert all(len(data["FetchedAt"]) == 1 for data in pages.values())
        assert crawl_events(db) == {"pending": 0, "claimed": 0, "done": len(pages), "dead": 0}
        # A graceful stop finishes or hands back what it held: no page is fetched twice.
        refetched = {p: n for p, n in site.requests.items() if n > 1 and p != "/robots.txt"}
        assert refetched == {}
        assert stored_before < set(pages)
