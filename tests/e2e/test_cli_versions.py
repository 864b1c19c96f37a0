"""Version retention from the settings, as a user runs Haystack: kept on write, pruned by hand."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from haystack_collector import store
from haystack_collector.cli import app
from haystack_collector.engines.web_scraper import CRAWL_ACTION, WebScraper
from haystack_collector.store import EventSpec, versions
from tests.databases import migrated_database
from tests.http_server import serve_http

pytestmark = pytest.mark.usefixtures("user_shell")


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str]]

    def do_GET(self) -> None:
        raw = self.pages.get(self.path, "").encode("utf-8")
        self.send_response(200 if raw else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def pages() -> dict[str, str]:
    return {}


@pytest.fixture
def base(pages: dict[str, str]) -> Iterator[str]:
    with serve_http(_Handler, pages=pages) as url:
        yield url


def haystack(url: str, *args: str, **env: str) -> str:
    result = CliRunner().invoke(app, ["--database-url", url, *args], env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def numbers(url: str, page: str) -> list[int]:
    with migrated_database(url) as db, db.read() as conn:
        item_id = store.find_item_id(conn, uri=page)
        assert item_id is not None
        return [v.version for v in versions.item_versions(conn, item_id=item_id)]


def crawl_edits(url: str, base: str, pages: dict[str, str], edits: int, **env: str) -> str:
    """Crawl the page, then ``edits`` times: change it, queue it again and crawl it again."""
    page = base + "/p"
    for n in range(edits + 1):
        pages["/p"] = f"<html><body><main><p>Edition number {n} of the notice.</p></main></body>"
        if n:
            with migrated_database(url) as db:
                engine = WebScraper.register(db)
                item_id = db.run_read(store.find_item_id, uri=page)
                assert item_id is not None
                spec = EventSpec(engine.engine_id, engine.action_ids[CRAWL_ACTION], item_id)
                db.run(store.enqueue_events, events=[spec], reopen=True)
        haystack(url, "crawl", page, "--max-depth", "0", "--delay", "0", "--main-text", **env)
    return page


def test_versions_keep_limits_what_each_write_keeps(
    tmp_path: Path, base: str, pages: dict[str, str]
) -> None:
    url = f"sqlite:///{tmp_path / 'keep.db'}"
    page = crawl_edits(url, base, pages, 3, HAYSTACK_VERSIONS_KEEP="2")
    assert numbers(url, page) == [2, 3, 4]  # two earlier versions and the current one

    assert haystack(url, "versions", "prune", "--keep", "1").strip() == (
        "1 versions pruned (keeping 1 per item)"
    )
    assert numbers(url, page) == [3, 4]


def test_versions_keep_zero_keeps_none(tmp_path: Path, base: str, pages: dict[str, str]) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    page = crawl_edits(url, base, pages, 2, HAYSTACK_VERSIONS_KEEP="0")
    assert numbers(url, page) == [1]


def test_versions_max_age_prunes_old_versions_but_the_newest(
    tmp_path: Path, base: str, pages: dict[str, str]
) -> None:
    url = f"sqlite:///{tmp_path / 'age.db'}"
    page = crawl_edits(url, base, pages, 3)
    assert numbers(url, page) == [1, 2, 3, 4]
    time.sleep(1.0)
    out = haystack(url, "versions", "prune", HAYSTACK_VERSIONS_MAX_AGE="0.00001")
    assert out.strip() == "2 versions pruned (keeping 50 per item, none older than 1e-05 days)"
    assert numbers(url, page) == [3, 4]
