"""Watching a feed, as a user does it: ``haystack watch add``, ``haystack run rss`` and
``haystack worker --drain`` against a local feed whose content changes between visits.

The digests arrive at a local webhook and a local SMTP server: new entries, a changed entry
with its diff, nothing for a volatile footer, and nothing twice, also after a worker that had
sent is killed and a new one started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from haystack_collector.cli import app
from haystack_collector.logs import reset_logging
from tests.e2e.ui_fixtures import ROOT, wait_for
from tests.http_server import serve_http
from tests.integration.engines.test_rss_engine import FeedServer, _Handler
from tests.integration.watch.receivers import Mailbox, Webhook, smtp_server, text_of, webhook


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


def haystack(url: str, *args: str) -> Result:
    result = CliRunner().invoke(app, ["--database-url", url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def rss(*entries: tuple[str, str, str]) -> bytes:
    """An RSS document of (guid, title, description) entries."""
    items = "".join(
        f"<item><guid>https://news.test/{guid}</guid><title>{title}</title>"
        f"<link>https://news.test/{guid}</link><description>{text}</description></item>"
        for guid, title, text in entries
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.test/</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook() as receiver:
        yield receiver


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def test_a_watched_feed_tells_new_and_changed_entries_once(
    tmp_path: Path, hook: Webhook, mailbox: Mailbox
) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    feeds = FeedServer()
    feeds.put("/feed.xml", rss(("a", "Alpha", "First story"), ("b", "Beta", "Updated 10:00")))
    with serve_http(_Handler, server_state=feeds) as base:
        feed = json.dumps([f"{base}/feed.xml"])
        haystack(
            url,
            "watch",
            "add",
            "news",
            "--engine",
            "rss",
            "--key",
            "EntryId",
            "--event",
            "new",
            "--event",
            "changed",
            "--ignore",
            r"Updated \d\d:\d\d",
            "--channel",
            hook.url(),
            "--channel",
            mailbox.url(),
        )
        haystack(url, "run", "rss", "--set", f"feeds={feed}")
        haystack(url, "worker", "--drain", "-e", "rss")  # the notifier's pass at the end
        [post] = hook.posts
        assert post["json"]["title"] == "[haystack] news: 2 new"
        assert post["json"]["message"] == (
            "NEW: Alpha\n  https://news.test/a\n  Summary: First story\n\n"
            "NEW: Beta\n  https://news.test/b\n  Summary: Updated 10:00"
        )
        [mail] = mailbox.messages
        assert mail["Subject"] == "[haystack] news: 2 new"
        assert text_of(mail).replace("\r\n", "\n").strip() == post["json"]["message"]

        # Alpha's story changes, Beta's footer-like time only, and Gamma is new.
        feeds.put(
            "/feed.xml",
            rss(
                ("a", "Alpha", "First story, corrected"),
                ("b", "Beta", "Updated 11:00"),
                ("c", "Gamma", "Third story"),
            ),
        )
        haystack(url, "run", "rss", "--set", f"feeds={feed}")
        haystack(url, "worker", "--drain", "-e", "rss")
        assert len(hook.posts) == 2
        second = hook.posts[1]["json"]
        assert second["title"] == "[haystack] news: 1 new, 1 changed"
        assert second["message"] == (
            "NEW: Gamma\n  https://news.test/c\n  Summary: Third story\n\n"
            "CHANGED: Alpha\n  https://news.test/a\n  Summary: First story, corrected\n"
            "  - Summary: First story\n  + Summary: First story, corrected"
        )
        assert len(mailbox.messages) == 2

        # A worker that sent is killed; a new one sends nothing again.
        feeds.put(
            "/feed.xml",
            rss(
                ("a", "Alpha", "First story, corrected"),
                ("b", "Beta", "Updated 11:00"),
                ("c", "Gamma", "Third story"),
                ("d", "Delta", "Fourth story"),
            ),
        )
        haystack(url, "run", "rss", "--set", f"feeds={feed}")
        env = {key: value for key, value in os.environ.items() if not key.startswith("HAYSTACK_")}
        env |= {
            "HAYSTACK_DATABASE_URL": url,
            "HAYSTACK_NOTIFY_EVERY": "0.5",
            "HAYSTACK_NOTIFY_SETTLE": "1",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "haystack_collector", "worker", "-e", "rss"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: len(hook.posts) == 3 and len(mailbox.messages) == 3, timeout=60)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=20)
        assert hook.posts[2]["json"]["title"] == "[haystack] news: 1 new"
        haystack(url, "worker", "--drain", "-e", "rss")
        assert len(hook.posts) == 3
        assert len(mailbox.messages) == 3
        # Killed after sending, it may not have settled Delta's row: then it stays "sending"
        # (and turns "uncertain" after the lease), never sent again.
        listed = json.loads(haystack(url, "watch", "list", "--json").stdout)
        assert listed["watches"][0]["notifications"] in ({"sent": 5}, {"sent": 4, "sending": 1})
