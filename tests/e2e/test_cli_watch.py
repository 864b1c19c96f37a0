"""``haystack watch add|list|remove|test`` against a local webhook receiver."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from haystack_collector.cli import app
from haystack_collector.logs import reset_logging
from tests.integration.watch.receivers import Webhook, webhook


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("HAYSTACK_", "DB_")) and not name.startswith("HAYSTACK_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    reset_logging()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook() as receiver:
        yield receiver


def haystack(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--database-url", url, *args], catch_exceptions=False)


def test_add_list_test_and_remove_a_watch(tmp_path: Path, hook: Webhook) -> None:
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    secret_channel = hook.url().replace("json://", "json://bob:pa55w0rd-x@")
    added = haystack(
        url,
        "watch",
        "add",
        "python jobs",
        "--channel",
        secret_channel,
        "--keyword",
        "python",
        "--location",
        "Berlin",
        "--event",
        "new",
        "--event",
        "changed",
        "--ignore",
        r"\d+ views",
    )
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith(
        "watch 'python jobs' added: new, changed of keyword=python, location=Berlin, to json://"
    )
    assert "pa55w0rd-x" not in added.output

    listed = haystack(url, "watch", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [entry] = json.loads(listed.stdout)["watches"]
    assert entry["name"] == "python jobs"
    assert entry["filter"] == {"posting": {"keyword": "python", "location": "Berlin"}}
    assert entry["events"] == ["new", "changed"]
    assert entry["notifications"] == {}
    assert "pa55w0rd-x" not in listed.output
    assert "python jobs: new, changed of" in haystack(url, "watch", "list").stdout

    tested = haystack(url, "watch", "test", "python jobs")
    assert tested.exit_code == 0, tested.output
    assert tested.stdout.startswith("sent to json://")
    [post] = hook.posts
    assert post["json"]["title"] == "[haystack] python jobs: test message"
    assert "will receive the digests of the watch 'python jobs'" in post["json"]["message"]

    hook.status = 500
    failed = haystack(url, "watch", "test", "python jobs")
    assert failed.exit_code == 1
    assert "failed: json://" in failed.stderr
    assert "pa55w0rd-x" not in failed.output

    assert haystack(url, "watch", "remove", "python jobs").stdout == "watch 'python jobs' removed\n"
    assert haystack(url, "watch", "list", "--json").stdout.strip() == '{\n  "watches": []\n}'
    missing = haystack(url, "watch", "remove", "python jobs")
    assert missing.exit_code == 1
    assert "no watch 'python jobs'" in missing.stderr


def test_a_bad_watch_is_refused_with_exit_2(tmp_path: Path, hook: Webhook) -> None:
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    bad = haystack(url, "watch", "add", "x", "--channel", "nope://secret-token-123/x")
    assert bad.exit_code == 2
    assert "is not a URL Apprise can send to" in bad.stderr
    assert "secret-token-123" not in bad.stderr
    wrong = haystack(url, "watch", "add", "x", "--channel", hook.url(), "--event", "born")
    assert wrong.exit_code == 2
    assert "events: born is not one of new, changed, gone" in wrong.stderr
