"""``serve()`` in a real process: the API, the embedded worker and run executor, clean stops."""

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
def served(
    database: Path, *, worker: bool, **settings: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``serve()`` in a subprocess on a free port; yields it and its base URL once /health is up.

    ``settings`` are more HAYSTACK_ variables, by lower-case name (``api_processes="3"``).
    """
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HAYSTACK_")}
    env |= {
        "HAYSTACK_DATABASE_URL": f"sqlite:///{database}",
        "HAYSTACK_API_ALLOW_PRIVATE": "true",  # the test site is on loopback
        "HAYSTACK_DOWNLOAD_DELAY": "0",
        "HAYSTACK_WORKER_CONCURRENCY": "2",
    }
    env |= {f"HAYSTACK_{name.upper()}": value for name, value in settings.items()}
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
        run_url = f"{base}/api/runs/{started.json()['run_id']}"

        run = wait_for(
            lambda: (j := httpx.get(run_url).json())["state"] in ("done", "failed") and j,
            "the run",
        )
        assert (run["state"], run["error"], run["correlation_id"]) == ("done", None, "serve-e2e")
        assert run["items_stored"] == 1  # the crawl's root; its pages are the worker's

        def crawled() -> dict[str, Any] | None:
            engine = httpx.get(f"{base}/api/engines/webScraper").json()
            events = engine["events"]
            idle = events["pending"] == events["claimed"] == 0 and events["done"] > 1
            return engine if idle else None

        engine = wait_for(crawled, "the embedded worker to crawl the site")
        assert engine["events"]["dead"] == 0
        assert engine["last_run"]["run_id"] == run["run_id"]
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
        time.sleep(1.5)  # a run executor, were there one, would have claimed it by now
        run = httpx.get(f"{base}/api/runs/{started.json()['run_id']}").json()
        assert (run["state"], run["claimed_by"]) == ("queued", None)
        assert httpx.get(f"{base}/health").json()["workers"] == []

        code, output = stop(process, signal.SIGTERM)

    assert code == 0, output


def children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if int(fields.get("PPid", "0")) == pid and not fields.get("State", "").startswith("Z"):
            found.add(int(entry.name))
    return found


def api_processes(pid: int) -> set[int]:
    """``pid``'s API processes (multiprocessing also starts a resource tracker)."""
    return {
        child
        for child in children(pid)
        if "spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
    }


def test_several_api_processes_answer_on_one_port_and_stop_together(database: Path) -> None:
    with served(database, worker=True, api_processes="3") as (process, base):
        helpers = wait_for(lambda: len(found := api_processes(process.pid)) == 2 and found, "2")
        wait_for(lambda: all(_listening(pid) for pid in helpers), "the helpers to listen")
        # With the first process frozen, the others still answer on its port.
        process.send_signal(signal.SIGSTOP)
        try:
            answers = [httpx.get(f"{base}/api/items", timeout=10) for _ in range(20)]
        finally:
            process.send_signal(signal.SIGCONT)
        assert {answer.status_code for answer in answers} == {200}

        code, output = stop(process, signal.SIGTERM)

    assert code == 0, output
    assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in helpers), "an end")


def test_a_dead_api_process_is_replaced_and_orphans_stop(database: Path) -> None:
    with served(database, worker=False, api_processes="2") as (process, base):
        [first] = wait_for(lambda: len(found := api_processes(process.pid)) == 1 and found, "one")
        os.kill(first, signal.SIGKILL)
        [second] = wait_for(
            lambda: (found := api_processes(process.pid)) and first not in found and found,
            "a new API process",
        )
        wait_for(lambda: _listening(second), "the new process to listen")
        assert httpx.get(f"{base}/api/items").status_code == 200

        process.kill()  # the serving process dies without stopping anything
        process.wait()
        assert wait_for(lambda: not Path(f"/proc/{second}").exists(), "the orphan to stop", 15)


def _listening(pid: int) -> bool:
    """Whether ``pid`` holds the shared socket and has its event loop running (so it accepts;
    until then the kernel keeps new connections waiting for whichever process accepts)."""
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    # The inherited socket alone proves nothing; uvicorn's event loop adds an epoll instance.
    return any(link.startswith("socket:") for link in links) and any(
        "eventpoll" in link for link in links
    )
