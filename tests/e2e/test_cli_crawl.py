"""``haystack crawl`` as a user runs it: options, the summary line, resuming, bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haystack_collector.cli import app
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.web_scraper import WebScraper
from tests.databases import migrated_database
from tests.integration.crawl.helpers import crawl_events, stored_pages
from tests.integration.crawl.site import Site, serve

SUMMARY = re.compile(r"^pages=(\d+) seconds=(\d+\.\d\d) pages_per_s=(\d+\.\d)$")


pytestmark = pytest.mark.usefixtures("user_shell")


@pytest.fixture
def site() -> Site:
    return Site(pages=40, with_error_page=False)


@pytest.fixture
def base(site: Site) -> Iterator[str]:
    with serve(site) as url:
        yield url


def haystack(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--database-url", url, *args])
    return result.exit_code, result.stdout, result.stderr


def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'crawl.db'}"


def test_crawl_prints_the_summary_last_and_stores_the_pages(
    tmp_path: Path, site: Site, base: str
) -> None:
    url = database(tmp_path)
    code, out, err = haystack(url, "crawl", base + "/", "--max-depth", "2", "--delay", "0")
    assert code == 0, err
    summary = SUMMARY.match(out.strip().splitlines()[-1])
    assert summary is not None, out
    with migrated_database(url) as db:
        pages = stored_pages(db)
        assert int(summary.group(1)) == len(pages) > 10
        assert all(max(data["Depth"]) <= 2 for data in pages.values())
        assert crawl_events(db)["pending"] == 0


@pytest.mark.parametrize("source", ["environment", "ini"])
def test_without_max_depth_the_web_scraper_depth_setting_limits_the_crawl(
    tmp_path: Path, base: str, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    if source == "environment":
        monkeypatch.setenv("HAYSTACK_WEB_SCRAPER_DEPTH", "1")
    else:
        ini = tmp_path / "PeregrinDaemon.cfg"
        ini.write_text("[Depths]\nwebScraper = 1\n", encoding="utf-8")
        monkeypatch.setenv("HAYSTACK_CONFIG_FILE", str(ini))
    url = database(tmp_path)
    code, _, err = haystack(url, "crawl", base + "/", "--delay", "0")
    assert code == 0, err
    with migrated_database(url) as db:
        depths = [max(data["Depth"]) for data in stored_pages(db).values()]
    assert max(depths) == 1
    assert len(depths) > 2  # the start page and its links


def test_max_depth_defaults_to_three(tmp_path: Path, base: str) -> None:
    url = database(tmp_path)
    code, _, err = haystack(url, "crawl", base + "/", "--delay", "0")
    assert code == 0, err
    with migrated_database(url) as db:
        assert max(max(data["Depth"]) for data in stored_pages(db).values()) == 3


def test_running_the_command_again_fetches_nothing_again(
    tmp_path: Path, site: Site, base: str
) -> None:
    url = database(tmp_path)
    args = ["crawl", base + "/", "--max-pages", "12", "--delay", "0", "-c", "3"]
    assert haystack(url, *args)[0] == 0
    before = sum(n for path, n in site.requests.items() if path != "/robots.txt")
    code, out, _ = haystack(url, *args)
    assert code == 0
    assert out.strip().splitlines()[-1].startswith("pages=0 ")
    assert sum(n for path, n in site.requests.items() if path != "/robots.txt") == before == 12
    with migrated_database(url) as db:
        assert len(stored_pages(db)) == 12


def test_ignore_robots_fetches_disallowed_pages(tmp_path: Path, site: Site, base: str) -> None:
    url = database(tmp_path)
    code, _, err = haystack(
        url, "crawl", base + "/", "--max-depth", "1", "--delay", "0", "--ignore-robots"
    )
    assert code == 0, err
    assert site.requests["/private/secret"] == 1
    assert "/robots.txt" not in site.requests


def test_delay_spaces_requests_to_a_host(tmp_path: Path, site: Site, base: str) -> None:
    site.html("/", "Home", ["/p/1", "/p/2", "/p/3"], canonical=[])
    url = database(tmp_path)
    code, out, err = haystack(
        url, "crawl", base + "/", "--max-depth", "1", "--delay", "0.3", "-c", "1"
    )
    assert code == 0, err
    summary = SUMMARY.match(out.strip().splitlines()[-1])
    assert summary is not None
    assert float(summary.group(2)) >= 0.9


@pytest.mark.parametrize(
    "target", ["not a url", "ftp://example.com/", "http://"], ids=["text", "ftp", "no-host"]
)
def test_a_bad_start_url_is_a_usage_error(tmp_path: Path, target: str) -> None:
    code, out, err = haystack(database(tmp_path), "crawl", target)
    assert code == 2, (out, err)
    assert err.startswith("error: ")


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    for args in (["--max-depth", "-1"], ["--concurrency", "0"], ["--delay", "-1"]):
        code, _, _ = haystack(database(tmp_path), "crawl", "http://example.com/", *args)
        assert code == 2, args


def test_worker_drain_finishes_a_seeded_crawl(
    tmp_path: Path, site: Site, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The frontier is only ItemEvents: any worker can finish what a seed started."""
    url = database(tmp_path)
    with migrated_database(url) as db:
        [seeded] = run_start_actions(WebScraper, db, {"url": base + "/", "max_depth": 1})
        assert seeded.ok, seeded.error
    monkeypatch.setenv("HAYSTACK_DOWNLOAD_DELAY", "0")
    code, _, err = haystack(url, "worker", "--drain", "--no-scheduler", "-e", "webScraper")
    assert code == 0, err
    with migrated_database(url) as db:
        assert len(stored_pages(db)) == len(site.links["/"]) + 1
        assert crawl_events(db)["pending"] == 0
