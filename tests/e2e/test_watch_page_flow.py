"""Watching a page, as a user does it: ``haystack watch add --url-prefix``, then ``haystack
crawl --main-text`` of a local page whose text changes between visits, and ``haystack worker
--drain``. A change only the watch's ignore pattern covers tells nothing; a real one arrives
at the webhook with its diff."""

from __future__ import annotations

import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner, Result

from haystack_collector import store
from haystack_collector.cli import app
from haystack_collector.db import Database
from haystack_collector.engines.web_scraper import CRAWL_ACTION, WebScraper
from haystack_collector.logs import reset_logging
from haystack_collector.store import EventSpec, versions
from tests.http_server import serve_http
from tests.integration.watch.receivers import Webhook, webhook


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("HAYSTACK_", "DB_")) and not name.startswith("HAYSTACK_TEST_"):
            monkeypatch.delenv(name)
    # A short settle time keeps the drains' last passes quick (its own test is elsewhere).
    monkeypatch.setenv("HAYSTACK_NOTIFY_SETTLE", "1")
    monkeypatch.chdir(tmp_path)
    yield
    reset_logging()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook() as receiver:
        yield receiver


def haystack(url: str, *args: str) -> Result:
    result = CliRunner().invoke(app, ["--database-url", url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def timetable(price: str, views: int, generated: str) -> str:
    return (
        "<html><head><title>Ferry timetable</title></head><body><main><h1>Ferry timetable</h1>"
        "<p>The morning ferry leaves at seven from the north pier every weekday.</p>"
        f"<p>A single ticket costs {price} euros for adults and half for children.</p>"
        f"<p>This notice was viewed {views} times.</p>"
        "<p>Bicycles travel free of charge on every crossing of the lake.</p>"
        f"</main><footer>Page generated at {generated}</footer></body></html>"
    )


class _Pages(BaseHTTPRequestHandler):
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


def test_a_watched_page_tells_a_real_change_with_its_diff_and_not_a_volatile_one(
    tmp_path: Path, hook: Webhook
) -> None:
    url = f"sqlite:///{tmp_path / 'page.db'}"
    pages = {"/ferry": timetable("4.50", 120, "10:00")}
    with serve_http(_Pages, pages=pages) as base:
        page = base + "/ferry"
        haystack(
            url,
            "watch",
            "add",
            "ferry",
            "--url-prefix",
            base + "/",
            "--event",
            "changed",
            "--ignore",
            r"viewed \d+ times",
            "--channel",
            hook.url(),
        )

        def visit() -> None:
            """Crawl the page again, as a re-visit does, then let a worker's notifier pass."""
            db = Database(url)
            try:
                item_id = db.run_read(store.find_item_id, uri=page)
                if item_id is not None:
                    engine = WebScraper.register(db)
                    spec = EventSpec(engine.engine_id, engine.action_ids[CRAWL_ACTION], item_id)
                    db.run(store.enqueue_events, events=[spec], reopen=True)
            finally:
                db.dispose()
            haystack(url, "crawl", page, "--max-depth", "0", "--delay", "0", "--main-text")
            haystack(url, "worker", "--drain", "-e", "webScraper")

        visit()
        assert hook.posts == []  # a first visit is no change (the watch asked for changes)

        # Only the view counter and the footer's time change: a version is kept (the counter is
        # text), but the watch ignores it.
        pages["/ferry"] = timetable("4.50", 121, "11:00")
        visit()
        db = Database(url)
        try:
            item_id = db.run_read(store.find_item_id, uri=page)
            assert db.run_read(versions.current_version, item_id=item_id) == 2
        finally:
            db.dispose()
        assert hook.posts == []

        # The price changes: told once, with the diff.
        pages["/ferry"] = timetable("5.20", 122, "12:00")
        visit()
        [post] = hook.posts
        assert post["json"]["title"] == "[haystack] ferry: 1 changed"
        lines = post["json"]["message"].splitlines()
        assert lines[:2] == ["CHANGED: Ferry timetable", f"  {page}"]
        assert "  - A single ticket costs 4.50 euros for adults and half for children." in lines
        assert "  + A single ticket costs 5.20 euros for adults and half for children." in lines
        assert not any("viewed" in line for line in lines)
        visit()  # nothing new: nothing more
        assert len(hook.posts) == 1
