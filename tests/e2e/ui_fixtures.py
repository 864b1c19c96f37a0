"""Browser test fixtures: ``haystack serve`` on a free port and Debian's chromium.

``serve()`` runs in a subprocess (API, UI, embedded worker and run executor) on a private SQLite
database that the tests open too, to seed data and check what the UI changed. Playwright
drives /usr/bin/chromium; screenshots go to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events
from haystack_collector.store import EventSpec, ItemRecord
from haystack_collector.store._sql import utcnow
from haystack_collector.store.tokens import create_token
from tests.databases import migrated_database

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
UI_ENGINE = "uiTestEngine"
UI_ACTION = "uiTestAction"


@dataclass
class LiveApp:
    """A running ``haystack serve``: its base URL, its database (opened here too) and a token."""

    url: str
    db: Database
    token: str
    process: subprocess.Popen[str]


@dataclass
class BrowserPage:
    """A page plus what it did that a test may assert on: dialogs and console errors."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def run_serve(
    database_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``haystack serve`` (API, UI, embedded worker, scheduler, run executor) in a subprocess on a
    free port, with ``extra_env`` over its settings; yields its URL once /health answers."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HAYSTACK_")}
    env |= {
        "HAYSTACK_DATABASE_URL": database_url,
        "HAYSTACK_API_ALLOW_PRIVATE": "true",  # the test site is on loopback
        # A crawl paced for a test: pages a fifth of a second apart, watched as they arrive.
        "HAYSTACK_DOWNLOAD_DELAY": "0.2",
        # A browser polling several routes must not meet the per-client rate limit.
        "HAYSTACK_API_RATE_LIMIT": "1000",
        "HAYSTACK_API_RATE_BURST": "10000",
        "HAYSTACK_LOG_LEVEL": "WARNING",
    }
    env |= extra_env or {}
    # Its output goes to a file: a pipe nobody reads would stall the server once full.
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "haystack_collector", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _answers(url, process, output), timeout=30)
            yield url, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _answers(url: str, process: subprocess.Popen[str], output: IO[str]) -> bool:
    if process.poll() is not None:
        output.seek(0)
        pytest.fail(f"serve() exited with {process.returncode}:\n{output.read()}")
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def seed_items(db: Database, records: list[ItemRecord]) -> dict[str, int]:
    """Store ``records`` as items of a test engine, as fetched pages unless a record declares
    another state (the Items page lists fetched items by default); returns their ids by URI."""
    engine_id = db.run(store.register_engine, name=UI_ENGINE, version="1.0", description="UI tests")
    fetched = [replace(record, state=record.state or store.FETCHED) for record in records]
    return db.run(store.store_items, engine_id=engine_id, records=fetched).item_ids


def dead_event(db: Database, item_id: int, *, error: str) -> int:
    """Queue a test action for ``item_id`` and make it a dead letter with ``error``."""
    engine_id = db.run(store.register_engine, name=UI_ENGINE, version="1.0", description="UI tests")
    action_id = db.run(store.register_action, name=UI_ACTION, description="UI tests")
    db.run(store.enqueue_events, events=[EventSpec(engine_id, action_id, item_id)])
    e = item_events.c
    where = (e.engineId == engine_id) & (e.actionId == action_id) & (e.itemId == item_id)

    def kill(conn: Connection) -> int:
        conn.execute(
            update(item_events)
            .where(where)
            .values(itemEventDeadDate=utcnow(), itemEventLastError=error, itemEventAttempts=5)
        )
        return int(conn.execute(select(e.ItemEventId).where(where)).scalar_one())

    return db.run(kill)


def wait_for(condition: Callable[[], Any], *, timeout: float = 20.0, every: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {condition}")
        time.sleep(every)


@pytest.fixture(scope="module")
def ui_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated private SQLite database for one test module."""
    path = tmp_path_factory.mktemp("ui") / "haystack.db"
    with migrated_database(f"sqlite:///{path}") as database:
        yield database


@pytest.fixture(scope="module")
def ui_server(ui_db: Database) -> Iterator[LiveApp]:
    """The API and UI served for real by ``serve()``, with a token minted for writes."""
    token = ui_db.run(create_token, name="ui-tests")
    with run_serve(ui_db.url.render_as_string(hide_password=False)) as (url, process):
        yield LiveApp(url, ui_db, token, process)


# Module scope, not session: Playwright's sync API keeps an event loop running on the main
# thread while it is open, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def ui_browser(playwright_session: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    browser = playwright_session.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
    )
    yield browser
    browser.close()


@pytest.fixture
def ui_page(ui_browser: Browser, ui_server: LiveApp) -> Iterator[BrowserPage]:
    """A fresh browser context on the app that refuses every request off this machine."""
    context = ui_browser.new_context(
        base_url=ui_server.url, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    # A loaded CI machine (2 cores, many test processes) is slower than Playwright's default.
    expect.set_options(timeout=10_000)
    recorded = BrowserPage(page)

    def on_dialog(dialog: Dialog) -> None:
        recorded.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            recorded.errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: recorded.errors.append(f"page error: {error}"))
    # Offline: anything not served by loopback fails loudly instead of reaching a CDN.
    page.route(
        lambda url: not url.startswith(("http://127.0.0.1", "data:", "blob:")),
        lambda route: route.abort(),
    )
    try:
        yield recorded
    finally:
        context.close()
    # Every page works under the API's Content-Security-Policy: the browser refused nothing.
    assert [e for e in recorded.errors if "Content Security Policy" in e] == []


def set_token(page: Page, token: str) -> None:
    """Type the API token into the header form, as a user does."""
    page.fill("#api-token", token)
    page.click("#token-form button[type=submit]")
