"""Every collecting command starts one ``Runtime`` and differs only in the parts it runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from haystack_collector import runtime as runtime_module
from haystack_collector.cli import app
from haystack_collector.runtime import Runtime
from tests.integration.crawl.site import Site, serve

pytestmark = pytest.mark.usefixtures("user_shell")


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'haystack.db'}"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Runtime]:
    """The runtimes the command built (the real ones, run as usual)."""
    built: list[Runtime] = []
    real = Runtime.from_settings.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Runtime], *args: Any, **kwargs: Any) -> Runtime:
        runtime: Runtime = real(cls, *args, **kwargs)
        built.append(runtime)
        return runtime

    monkeypatch.setattr(runtime_module.Runtime, "from_settings", classmethod(spy))
    return built


@pytest.fixture
def base() -> Iterator[str]:
    with serve(Site(pages=3, with_error_page=False)) as found:
        yield found


def haystack(url: str, *args: str) -> str:
    result = CliRunner().invoke(app, ["--database-url", url, *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_worker_runs_the_worker_the_scheduler_and_the_job_runner(
    url: str, started: list[Runtime]
) -> None:
    haystack(url, "worker", "--drain", "-e", "webScraper", "-c", "3", "--lease", "30")
    [runtime] = started
    assert runtime.parts_built() == ["revisiter", "scheduler", "run_executor", "worker", "notifier"]
    assert runtime.worker is not None
    assert runtime.worker.concurrency == 3
    assert runtime.queue.policy.lease.total_seconds() == 30
    assert [engine.name for engine in runtime.engines] == ["webScraper"]


def test_worker_without_the_scheduler(url: str, started: list[Runtime]) -> None:
    haystack(url, "worker", "--drain", "--no-scheduler", "-e", "webScraper")
    assert started[0].parts_built() == ["run_executor", "worker", "notifier"]


def test_run_engine_runs_a_draining_worker_alone(
    url: str, started: list[Runtime], base: str
) -> None:
    haystack(url, "run", "webScraper", "--set", f"url={base}/", "--set", "max_depth=0")
    [runtime] = started
    assert runtime.parts_built() == ["worker"]
    assert runtime.worker is not None
    assert runtime.worker.drain
    assert runtime.worker.stats.finished == 1  # the start page, fetched by the runtime's worker


def test_run_engine_no_drain_runs_no_part(url: str, started: list[Runtime], base: str) -> None:
    haystack(url, "run", "webScraper", "--no-drain", "--set", f"url={base}/")
    assert started[0].parts_built() == []


def test_crawl_runs_a_draining_worker_with_its_own_fetch_settings(
    url: str, started: list[Runtime], base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAYSTACK_DOWNLOAD_DELAY", "0.5")
    lines = haystack(url, "crawl", f"{base}/", "--delay", "0", "-c", "5", "--ignore-robots")
    assert lines.splitlines()[-1].startswith("pages=")  # the summary line, as before
    [runtime] = started
    assert runtime.parts_built() == ["worker"]
    assert runtime.worker is not None
    assert runtime.worker.config_every is None  # the crawl's delay, not the Config table's
    fetch = runtime.fetchers.settings_for("webScraper")
    assert (fetch.min_delay, fetch.per_host_concurrency, fetch.obey_robots) == (0.0, 5, False)
    assert fetch.allow_private  # the command line's user may crawl private hosts
