"""Work that came through the API never reaches the private network, on any hop.

This machine has no public address, so in these tests 127.0.0.1 plays the public internet
(``loopback_plays_public``) and 127.0.0.2, the rest of 127/8, plays the private network a
token holder must not reach. The worker and run executor run as ``haystack serve`` runs them: with
``allow_private`` on for the command line's own work. Each test also runs the same work from
the command line, which does reach 127.0.0.2: the guard, not the test set-up, stops API work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_events
from haystack_collector.engines import Engine
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.file_downloader import FileDownloader
from haystack_collector.engines.rss import Rss
from haystack_collector.engines.web_scraper import WebScraper
from haystack_collector.fetch import FetchSettings, ssrf
from haystack_collector.origin import API, origin_scope
from haystack_collector.paths import PathRoots
from haystack_collector.queue import SqlQueue
from haystack_collector.runs import RunExecutor
from haystack_collector.store import EventSpec, ItemRecord
from haystack_collector.store import runs as run_store
from haystack_collector.worker import Worker
from tests.http_server import serve_http
from tests.integration.api.items_fixtures import Api, api_for

ENGINES: list[type[Engine]] = [WebScraper, Rss, FileDownloader]
# How ``haystack serve`` fetches: its own work may go private, API work may not.
SERVE_FETCH = FetchSettings(allow_private=True, obey_robots=False, min_delay=0.0, jitter=0.0)
FETCHERS = Fetchers(SERVE_FETCH)  # the runtime's, handed to the worker and the runner


@pytest.fixture
def loopback_plays_public(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ssrf.forbidden_reason

    def forbidden(ip: ssrf.IPAddress) -> str | None:
        return None if str(ip) == "127.0.0.1" else real(ip)

    monkeypatch.setattr(ssrf, "forbidden_reason", forbidden)


@dataclass
class Internal:
    """The private network: one server on 127.0.0.2 that answers everything and counts."""

    url: str
    hits: list[str] = field(default_factory=list)


class _Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]]
    lock: ClassVar[threading.Lock]

    def do_GET(self) -> None:
        with self.lock:
            self.hits.append(self.path)
        body = b"%PDF-1.4 internal secret"
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf" if ".pdf" in self.path else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Public(BaseHTTPRequestHandler):
    internal: ClassVar[str]

    def do_GET(self) -> None:
        inside = self.internal
        if self.path == "/go":
            self.send_response(302)
            self.send_header("Location", f"{inside}/redirected")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        pages = {
            "/page": ("text/html", f'<a href="{inside}/linked">internal</a>'),
            "/files": ("text/html", f'<a href="{inside}/secret.pdf">report</a>'),
            "/feed.xml": (
                "application/rss+xml",
                "<rss version='2.0'><channel><title>t</title>"
                f"<item><title>e</title><link>{inside}/entry</link></item></channel></rss>",
            ),
        }
        content_type, text = pages.get(self.path, ("text/html", "<p>public</p>"))
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def internal() -> Iterator[Internal]:
    hits: list[str] = []
    with serve_http(_Recorder, host="127.0.0.2", hits=hits, lock=threading.Lock()) as url:
        yield Internal(url, hits)


@pytest.fixture
def public(internal: Internal) -> Iterator[str]:
    with serve_http(_Public, internal=internal.url) as url:
        yield url


@pytest.fixture
def api(db: Database, loopback_plays_public: None, tmp_path: Path) -> Iterator[Api]:
    with api_for(db, downloads_dir=tmp_path) as api:  # downloads may go to tmp_path
        yield api


def scrape(api: Api, engine: str, parameters: dict[str, Any]) -> int:
    answer = api.client.post(
        "/api/runs/scrape", json={"engine": engine, "parameters": parameters}, headers=api.auth
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["run_id"])


def drain(db: Database, roots: Path | None = None, timeout: float = 30.0) -> None:
    """Run a run executor and a worker, as ``haystack serve`` does, until nothing is left.

    ``roots``: the folder API paths may use (the test's downloads folder).
    """
    folder = roots or Path.cwd()

    async def main() -> None:
        runner = RunExecutor(
            db, ENGINES, poll=0.05, roots=PathRoots((folder,), folder, folder), fetchers=FETCHERS
        )
        worker = Worker(
            db,
            SqlQueue(db),
            ENGINES,
            drain=True,
            idle_sleep=0.05,
            runs_outstanding=runner.outstanding,
            fetchers=FETCHERS,
        )
        runs = asyncio.create_task(runner.run())
        try:
            await asyncio.wait_for(worker.run(), timeout)
        finally:
            runner.stop()
            await runs

    asyncio.run(main())


def error_of(db: Database, uri: str) -> str:
    """The ``Error`` the engine recorded on the item of ``uri``."""
    item_id = db.run_read(store.find_item_id, uri=uri)
    assert item_id is not None, f"no item {uri}"
    return str(db.run_read(store.get_item_value, item_id=item_id, key="Error"))


def event_origins(db: Database) -> set[str | None]:
    with db.read() as conn:
        return set(conn.execute(select(item_events.c.itemEventOrigin)).scalars())


def run_error(db: Database, run_id: int) -> str | None:
    return db.run_read(run_store.get_run, run_id=run_id).error


# What each engine is asked to do, and the internal path it would reach without the guard: a
# link followed, a redirect, a feed entry's follow-up, a file linked from a page.
WORK: list[tuple[str, dict[str, Any], str]] = [
    ("webScraper", {"url": "{public}/page", "allowed_domains": ["127.0.0.2"]}, "/linked"),
    ("webScraper", {"url": "{public}/go"}, "/redirected"),
    (
        "rss",
        {"feeds": ["{public}/feed.xml"], "follow_action": "webScraper:WebCrawler"},
        "/entry",
    ),
    ("fileDownloader", {"urls": ["{public}/files"], "folder": "{folder}"}, "/secret.pdf"),
]
WORK_IDS = ["link", "redirect", "feed-follow-up", "download"]


def filled(settings: Any, **values: str) -> Any:
    if isinstance(settings, str):
        return settings.format(**values)
    if isinstance(settings, list):
        return [filled(each, **values) for each in settings]
    return {key: filled(value, **values) for key, value in settings.items()}


@pytest.mark.parametrize(("engine", "settings", "path"), WORK, ids=WORK_IDS)
def test_api_work_never_reaches_the_private_network(
    api: Api,
    public: str,
    internal: Internal,
    tmp_path: Path,
    engine: str,
    settings: dict[str, Any],
    path: str,
) -> None:
    run_id = scrape(api, engine, filled(settings, public=public, folder=str(tmp_path)))
    drain(api.db, tmp_path)

    assert run_error(api.db, run_id) is None
    assert internal.hits == []
    assert event_origins(api.db) == {"api"}  # the run's events and their follow-ups alike


@pytest.mark.parametrize(("engine", "settings", "path"), WORK, ids=WORK_IDS)
def test_the_same_work_from_the_command_line_reaches_it(
    db: Database,
    public: str,
    internal: Internal,
    tmp_path: Path,
    engine: str,
    settings: dict[str, Any],
    path: str,
) -> None:
    for each in ENGINES:  # as a worker would have: rss resolves its follow action by name
        each.register(db)
    chosen = next(each for each in ENGINES if each.name == engine)
    run_start_actions(
        chosen, db, filled(settings, public=public, folder=str(tmp_path)), fetchers=FETCHERS
    )
    drain(db)

    assert internal.hits == [path]
    assert event_origins(db) == {None}


def test_a_blocked_hop_is_recorded_on_its_item(api: Api, public: str, internal: Internal) -> None:
    scrape(api, "webScraper", {"url": f"{public}/page", "allowed_domains": ["127.0.0.2"]})
    scrape(api, "webScraper", {"url": f"{public}/go"})
    scrape(api, "rss", {"feeds": [f"{public}/feed.xml"], "follow_action": "webScraper:WebCrawler"})
    drain(api.db)

    assert "blocked address: 127.0.0.2" in error_of(api.db, f"{internal.url}/linked")
    assert "blocked address: 127.0.0.2" in error_of(api.db, f"{public}/go")
    assert "blocked address: 127.0.0.2" in error_of(api.db, f"{internal.url}/entry")


# --- rows written through the admin API ---------------------------------------------------


def admin_write(api: Api, method: str, path: str, values: dict[str, Any]) -> dict[str, Any]:
    answer = api.client.request(method, f"/api/admin/tables/{path}", json=values, headers=api.auth)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def queue_crawl(db: Database, item_id: int) -> None:
    """Queue the item's crawl as trusted code would (no API origin in this context)."""
    registered = WebScraper.register(db)
    spec = EventSpec(registered.engine_id, registered.action_ids["WebCrawler"], item_id)
    db.run(store.enqueue_events, events=[spec])


def test_an_item_typed_in_through_the_admin_api_is_fetched_as_api_work(
    api: Api, internal: Internal
) -> None:
    row = admin_write(api, "POST", "Items/records", {"ItemURI": f"{internal.url}/typed"})
    assert row["ItemOrigin"] == "api"
    queue_crawl(api.db, row["itemId"])  # queued by trusted code, still API work
    drain(api.db)

    assert internal.hits == []
    assert "blocked address" in error_of(api.db, f"{internal.url}/typed")


def test_an_event_or_a_uri_edited_through_the_admin_api_is_api_work(
    api: Api, internal: Internal
) -> None:
    trusted = api.db.run(store.get_or_create_item, uri=f"{internal.url}/a", engine_id=None).item_id
    edited = api.db.run(
        store.get_or_create_item, uri="http://127.0.0.1:9/b", engine_id=None
    ).item_id
    registered = WebScraper.register(api.db)
    admin_write(
        api,
        "POST",
        "ItemEvents/records",
        {
            "engineId": registered.engine_id,
            "actionId": registered.action_ids["WebCrawler"],
            "itemId": trusted,
        },
    )
    admin_write(api, "PUT", f"Items/records/{edited}", {"ItemURI": f"{internal.url}/b"})
    queue_crawl(api.db, edited)
    drain(api.db)

    assert internal.hits == []
    assert event_origins(api.db) == {"api", None}


def test_the_origin_columns_cannot_be_written_by_hand(api: Api) -> None:
    for table, column in (("Items", "ItemOrigin"), ("ItemEvents", "itemEventOrigin")):
        answer = api.client.post(
            f"/api/admin/tables/{table}/records", json={column: None}, headers=api.auth
        )
        assert answer.status_code == 422, answer.text
        assert column in answer.text


def test_api_work_downloads_only_into_the_folders_the_api_may_use(
    db: Database, public: str, tmp_path: Path
) -> None:
    # A page item's download folder is data a token holder can edit (the admin API): when API
    # work reads it, it is confined again, here to the working folder's downloads and data.
    outside = tmp_path / "outside"
    registered = FileDownloader.register(db)
    page = db.run(
        store.store_items,
        engine_id=registered.engine_id,
        records=[
            ItemRecord(uri=f"{public}/files", data={"DownloadSettings": {"folder": str(outside)}})
        ],
    ).item_ids[f"{public}/files"]
    spec = EventSpec(registered.engine_id, registered.action_ids["downloadAll"], page)
    with origin_scope(API):
        db.run(store.enqueue_events, events=[spec])
    drain(db)

    assert not outside.exists()
    with db.read() as conn:
        error = conn.execute(select(item_events.c.itemEventLastError)).scalar_one()
    assert "outside the folders the API may use" in str(error)
