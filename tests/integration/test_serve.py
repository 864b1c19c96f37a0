"""``serve()`` in a real process: the API, the embedded worker and job runner, clean stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from haystack_collector.store.tokens import create_token
from tests.databases import migrated_database
from tests.integration.crawl.helpers import stored_pages
from tests.integration.crawl.site import Site, serve

ROOT = Path(__file__).resolve().parents[2]
SERVE = (
    "import sys\n"
    "from haystack_collector.serve import serve\n"
    "from haystack_collector.settings import load_settings\n"
    "serve(load_settings(), host='127.0.0.1', port=int(sys.argv[1]), worker=sys.argv[2] == 'yes')\n"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextmanager
def served(database: Path, *, worker: bool) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``serve()`` in a subprocess on a free port; yields it and its base URL once /health is up."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HAYSTACK_")}
    env |= {
        "HAYSTACK_DATABASE_URL": f"sqlite:///{database}",
        "HAYSTACK_API_ALLOW_PRIVATE": "true",  # the test site is on loopback
        "HAYSTACK_DOWNLOAD_DELAY": "0",
        "HAYSTACK_WORKER_CONCURRENCY": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port), "yes" if worker else "no"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/health").status_code == 200, "/health")
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[str], number: signal.Signals) -> tuple[int, str]:
    process.send_signal(number)
    output, _ = process.communicate(timeout=30)
    return process.returncode, output


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "served.db"
    with migrated_database(f"sqlite:///{path}"):
        pass
    return path


def token(database: Path) -> dict[str, str]:
    with migrated_database(f"sqlite:///{database}") as db:
        return {"Authorization": f"Bearer {db.run(create_token, name='serve-test')}"}


def test_serve_crawls_a_site_started_through_the_api_and_stops_on_sigint(
    database: Path,
) -> None:
    site = Site(pages=20, with_error_page=False)
    auth = token(database)
    with serve(site) as url, served(database, worker=True) as (process, base):
        health = httpx.get(f"{base}/health").json()
        assert health["status"] == "ok"
        started = httpx.post(
            f"{base}/api/engines/webScraper/start",
            json={"url": url + "/", "max_depth": 1, "max_pages": 50},
            headers=auth | {"X-Correlation-ID": "serve-e2e"},
        )
        assert started.status_code == 202, started.text
        job_url = f"{base}/api/jobs/{started.json()['job_id']}"

        job = wait_for(
            lambda: (j := httpx.get(job_url).json())["state"] in ("done", "failed") and j,
            "the job",
        )
        assert (job["state"], job["error"], job["correlation_id"]) == ("done", None, "serve-e2e")
        assert job["items_stored"] == 1  # the crawl's root; its pages are the worker's

        def crawled() -> dict[str, Any] | None:
            engine = httpx.get(f"{base}/api/engines/webScraper").json()
            events = engine["events"]
            idle = events["pending"] == events["claimed"] == 0 and events["done"] > 1
            return engine if idle else None

        engine = wait_for(crawled, "the embedded worker to crawl the site")
        assert engine["events"]["dead"] == 0
        assert engine["last_job"]["job_id"] == job["job_id"]
        assert any(
            worker["state"] == "running" for worker in httpx.get(f"{base}/health").json()["workers"]
        )

        code, output = stop(process, signal.SIGINT)

    assert code == 0, output
    with migrated_database(f"sqlite:///{database}") as db:
        pages = stored_pages(db)
    assert pages[url + "/"]["Title"] == ["Home"]
    assert pages[url + "/p/3"]["Title"] == ["Page 3"]
    assert site.requests["/p/3"] == 1
    assert engine["events"]["done"] == len(pages)


def test_serve_without_a_worker_only_queues_and_stops_on_sigterm(database: Path) -> None:
    auth = token(database)
    with served(database, worker=False) as (process, base):
        started = httpx.post(
            f"{base}/api/engines/webScraper/start",
            json={"url": "http://127.0.0.1:9/"},
            headers=auth,
        )
        assert started.status_code == 202
        time.sleep(1.5)  # a job runner, were there one, would have claimed it by now
        job = httpx.get(f"{base}/api/jobs/{started.json()['job_id']}").json()
        assert (job["state"], job["claimed_by"]) == ("queued", None)
        assert httpx.get(f"{base}/health").json()["workers"] == []

        code, output = stop(process, signal.SIGTERM)

    assert code == 0, output
