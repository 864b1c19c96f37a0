"""`haystack crawl` and `haystack worker` never load the API stack (FastAPI, uvicorn):
start-up time and memory are spent on what collects. A crawl loads only its own engine, and no
metrics library (nobody scrapes a crawl's process)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.crawl.site import Site, serve

pytestmark = pytest.mark.usefixtures("user_shell")

API_STACK = ("fastapi", "starlette", "uvicorn", "haystack_collector.api.app")
# What only other engines, the scheduler or a /metrics endpoint need.
NOT_FOR_A_CRAWL = ("prometheus_client", "feedparser", "parsel", "yaml", "croniter")


@pytest.fixture
def base() -> Iterator[str]:
    with serve(Site(pages=3, with_error_page=False)) as found:
        yield found


def modules_after(*args: str, among: tuple[str, ...] = API_STACK) -> list[str]:
    """Run ``haystack ARGS`` in a fresh interpreter; which of ``among`` it loaded meanwhile."""
    probe = (
        "import json, sys\n"
        "from haystack_collector.cli import app\n"
        "try:\n"
        f"    app({list(args)!r}, prog_name='haystack')\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        f"print(json.dumps(sorted(m for m in {list(among)!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_crawl_loads_no_api_no_other_engine_and_no_metrics(tmp_path: Path, base: str) -> None:
    url = f"sqlite:///{tmp_path / 'haystack.db'}"
    args = ("--database-url", url, "crawl", f"{base}/", "--delay", "0")
    assert modules_after(*args, among=API_STACK + NOT_FOR_A_CRAWL) == []


def test_worker_loads_no_api(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'haystack.db'}"
    assert modules_after("--database-url", url, "worker", "--drain") == []
