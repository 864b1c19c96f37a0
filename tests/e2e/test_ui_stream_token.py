"""The live stream when reads need a token (``HAYSTACK_API_READ_ACCESS=token``), in chromium.

EventSource cannot send an Authorization header, so the UI reads ``/api/stream`` with fetch():
with the token the page shows new Status rows live, without one it says it cannot read, the
token never goes into a URL, and after a drop the stream reconnects and resumes after the last
event it saw (``Last-Event-ID``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Response, expect

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.store.tokens import create_token
from tests.databases import migrated_database
from tests.e2e.ui_fixtures import ROOT, free_port, set_token, wait_for

NEEDS_TOKEN = "cannot read: needs an API token"


@dataclass
class TokenApp:
    """``haystack serve`` with token-only reads, on a port kept across restarts."""

    db: Database
    token: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    output: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HAYSTACK_")}
        env |= {
            "HAYSTACK_DATABASE_URL": self.db.url.render_as_string(hide_password=False),
            "HAYSTACK_API_READ_ACCESS": "token",
            "HAYSTACK_API_RATE_LIMIT": "1000",
            "HAYSTACK_API_RATE_BURST": "10000",
            "HAYSTACK_LOG_LEVEL": "WARNING",
        }
        self.output = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "haystack_collector", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(self._answers, timeout=30)

    def _answers(self) -> bool:
        assert self.process is not None
        assert self.output is not None
        if self.process.poll() is not None:
            self.output.seek(0)
            pytest.fail(f"serve() exited with {self.process.returncode}:\n{self.output.read()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.output is not None:
            self.output.close()
        self.process = self.output = None


@pytest.fixture(scope="module")
def token_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenApp]:
    path = tmp_path_factory.mktemp("ui-token") / "haystack.db"
    with migrated_database(f"sqlite:///{path}") as db:
        app = TokenApp(db, db.run(create_token, name="ui-stream"))
        app.start()
        try:
            yield app
        finally:
            app.stop()


@dataclass
class Seen:
    """What the page asked of the server."""

    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    def request(self, request: Request) -> None:
        self.requests.append(request)

    def response(self, response: Response) -> None:
        self.responses.append(response)

    def streams(self) -> list[Request]:
        return [r for r in self.requests if "/api/stream" in r.url]


@pytest.fixture
def page_and_seen(ui_browser: Browser, token_app: TokenApp) -> Iterator[tuple[Page, Seen]]:
    context = ui_browser.new_context(base_url=token_app.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    expect.set_options(timeout=10_000)
    seen = Seen()
    page.on("request", seen.request)
    page.on("response", seen.response)
    page.route(
        lambda url: not url.startswith(("http://127.0.0.1", "data:", "blob:")),
        lambda route: route.abort(),
    )
    try:
        yield page, seen
    finally:
        context.close()


def test_without_a_token_the_page_says_it_cannot_read_the_stream(
    page_and_seen: tuple[Page, Seen],
) -> None:
    page, seen = page_and_seen
    page.goto("/status")
    expect(page.locator("#status-live")).to_have_text(NEEDS_TOKEN)
    expect(page.locator("#live-state")).to_be_visible()
    expect(page.locator("#live-state")).to_contain_text(
        "Live updates cannot be read without a valid API token"
    )
    refused = [r for r in seen.responses if "/api/stream" in r.url]
    assert refused
    assert {r.status for r in refused} == {401}


def test_a_wrong_token_is_refused_too(page_and_seen: tuple[Page, Seen]) -> None:
    page, _seen = page_and_seen
    page.goto("/status")
    set_token(page, "not-a-real-token")
    expect(page.locator("#token-state")).to_have_text("token set")
    expect(page.locator("#status-live")).to_have_text(NEEDS_TOKEN)


def test_with_the_token_status_lines_arrive_live_sent_in_a_header_never_a_url(
    page_and_seen: tuple[Page, Seen], token_app: TokenApp
) -> None:
    page, seen = page_and_seen
    page.goto("/status")
    expect(page.locator("#status-live")).to_have_text(NEEDS_TOKEN)
    set_token(page, token_app.token)  # reconnects at once with the token
    expect(page.locator("#status-live")).to_have_text("● live")
    expect(page.locator("#live-state")).to_be_hidden()

    # The status page does not poll: a row written now reaches it only through the stream.
    token_app.db.run(store.add_status, message="a line for a token holder")
    expect(page.locator("#status tbody tr").first).to_contain_text("a line for a token holder")

    authorized = [r for r in seen.streams() if r.all_headers().get("authorization")]
    assert authorized
    assert {r.all_headers()["authorization"] for r in authorized} == {f"Bearer {token_app.token}"}
    assert [r.url for r in seen.requests if token_app.token in r.url] == []

    # The dashboard's activity list is fed by the same stream.
    page.goto("/")
    expect(page.locator("#activity-live")).to_have_text("● live")
    token_app.db.run(store.add_status, message="and one for the dashboard")
    expect(page.locator("#activity li").first).to_contain_text("and one for the dashboard")


def test_after_a_drop_the_stream_reconnects_and_resumes_after_the_last_event(
    page_and_seen: tuple[Page, Seen], token_app: TokenApp
) -> None:
    page, seen = page_and_seen
    page.goto("/status")
    set_token(page, token_app.token)
    expect(page.locator("#status-live")).to_have_text("● live")
    before = token_app.db.run(store.add_status, message="seen before the restart")
    rows = page.locator("#status tbody tr")
    expect(rows.first).to_contain_text("seen before the restart")

    token_app.stop()
    expect(page.locator("#status-live")).to_have_text("reconnecting…", timeout=30_000)
    expect(page.locator("#live-state")).to_have_text("Live updates disconnected; reconnecting…")
    # Written while nobody serves the stream: only a resumed stream can bring it.
    token_app.db.run(store.add_status, message="written while the server was down")
    resumed_from = len(seen.streams())
    token_app.start()

    expect(page.locator("#status-live")).to_have_text("● live", timeout=30_000)
    expect(page.locator("#live-state")).to_be_hidden()
    expect(rows.first).to_contain_text("written while the server was down")
    expect(rows.filter(has_text="seen before the restart")).to_have_count(1)  # not sent again
    resumed = seen.streams()[resumed_from:]
    assert resumed
    assert {r.all_headers().get("last-event-id") for r in resumed} == {str(before)}
    assert {r.all_headers().get("authorization") for r in resumed} == {f"Bearer {token_app.token}"}


def test_the_page_scripts_use_no_event_source() -> None:
    scripts = Path(ROOT, "src/haystack_collector/ui/static/js").glob("*.js")
    assert not [p.name for p in scripts if "new EventSource" in p.read_text(encoding="utf-8")]
