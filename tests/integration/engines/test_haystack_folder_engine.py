"""The ``haystack`` folder engine through the Worker on real bookmark files, on every backend."""

from __future__ import annotations

import asyncio
import hashlib
import os
import plistlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_data, item_events, items
from haystack_collector.engines import ActionResult, run_start_actions
from haystack_collector.engines.haystack_folder import PROCESS_ACTION, SCAN_ACTION, HaystackFolder
from haystack_collector.engines.web_scraper import CRAWL_ACTION, WebScraper
from haystack_collector.extract.bookmarks import extract_bookmarks
from haystack_collector.queue import SqlQueue
from haystack_collector.worker import Worker
from tests.fixtures import REAL
from tests.integration.crawl.helpers import link_edges, stored_data

FOLLOW = "webScraper:WebCrawler"
REAL_FILES = (
    "netscape_chromium_nested.htm",
    "netscape_firefox_nested.htm",
    "netscape_delicious.htm",
    "firefox_export_zh_menu.html",
    "shortcut_minimal_Google.url",
    "shortcut_crlf_prop3_GitHub.url",
)
READING = b"# to read\nhttps://read.test/one\n\nhttps://read.test/two\nnot a link\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A haystack folder: the real files, a URL list, a webloc, garbage and a hidden file."""
    root = tmp_path / "haystack"
    (root / "sub").mkdir(parents=True)
    for name in REAL_FILES:
        shutil.copyfile(REAL / "bookmarks" / name, root / name)
    (root / "sub" / "reading.txt").write_bytes(READING)
    (root / "Apple.webloc").write_bytes(
        plistlib.dumps({"URL": "https://www.apple.test/"}, fmt=plistlib.FMT_BINARY)
    )
    (root / "garbage.bin").write_bytes(bytes(range(256)) * 16)
    (root / ".hidden.txt").write_bytes(b"https://hidden.test/\n")
    return root


def uri(path: Path) -> str:
    return path.resolve().as_uri()


def scan(db: Database, folder: Path, **settings: object) -> ActionResult:
    [result] = run_start_actions(
        HaystackFolder, db, {"folder": str(folder), "follow_action": FOLLOW, **settings}
    )
    return result


def drain(db: Database) -> None:
    worker = Worker(
        db,
        SqlQueue(db),
        [HaystackFolder],
        concurrency=3,
        drain=True,
        idle_sleep=0.05,
        finish_flush=0.05,
    )
    stats = asyncio.run(asyncio.wait_for(worker.run(), 60))
    assert stats.failed == 0


def run(db: Database, folder: Path, **settings: object) -> ActionResult:
    result = scan(db, folder, **settings)
    assert result.ok, result.error
    drain(db)
    return result


def contained(db: Database, left: str) -> set[str]:
    return {right for a, right in link_edges(db) if a == left}


def web_urls(name: str) -> set[str]:
    found = extract_bookmarks((REAL / "bookmarks" / name).read_bytes())
    return {b.url for b in found if b.url.startswith(("http://", "https://"))}


def followed(db: Database) -> set[str]:
    scraper = WebScraper.register(db)
    query = (
        select(items.c.ItemURI)
        .join(item_events, item_events.c.itemId == items.c.itemId)
        .where(
            item_events.c.engineId == scraper.engine_id,
            item_events.c.actionId == scraper.action_ids[CRAWL_ACTION],
        )
    )
    with db.read() as conn:
        return {str(u) for u in conn.execute(query).scalars()}


def process_events(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return store.event_counts(conn, engine_id=HaystackFolder.register(db).engine_id)


def set_mtime(path: Path, when: datetime) -> None:
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def test_files_and_their_urls_are_stored_and_linked(db: Database, folder: Path) -> None:
    WebScraper.register(db)

    result = run(db, folder)

    assert result.events_enqueued == 9  # 6 real files, the list, the webloc, the garbage
    data = stored_data(db)
    for name in REAL_FILES:
        assert contained(db, uri(folder / name)) == web_urls(name), name
    assert len(contained(db, uri(folder / "firefox_export_zh_menu.html"))) == 136
    assert len(contained(db, uri(folder / "netscape_firefox_nested.htm"))) == 21

    chromium = folder / "netscape_chromium_nested.htm"
    raw = chromium.read_bytes()
    file_data = data[uri(chromium)]
    assert file_data["FileName"] == ["netscape_chromium_nested.htm"]
    assert file_data["FileSize"] == [16786]
    assert file_data["SHA256"] == [hashlib.sha256(raw).hexdigest()]
    assert file_data["SHA256"][0].startswith("6fc2017ba07b85a7")
    assert file_data["FileDate"] == [datetime.fromtimestamp(chromium.stat().st_mtime, UTC)]
    assert file_data["Format"] == ["netscape"]
    assert file_data["LinkCount"] == [18]
    assert "Error" not in file_data
    jabber = data["http://www.jabber.org/"]
    assert jabber["Title"] == ["jabber.org - the original XMPP instant messaging service"]
    assert jabber["Folder"] == ["Personal toolbar"]
    assert jabber["Added"] == [datetime.fromtimestamp(1466010266, UTC)]
    assert "Tags" not in jabber

    mozilla = data[
        "https://support.mozilla.org/en-US/kb/export-firefox-bookmarks-to-backup-or-transfer"
    ]
    assert mozilla["Tags"] == ["firefox", "bookmark", "export"]
    assert mozilla["Description"][0].startswith("Export your bookmarks to an HTML file")

    assert contained(db, uri(folder / "shortcut_minimal_Google.url")) == {"http://www.google.com/"}
    assert data["http://www.google.com/"]["Title"] == ["shortcut_minimal_Google"]
    assert contained(db, uri(folder / "Apple.webloc")) == {"https://www.apple.test/"}
    assert data[uri(folder / "Apple.webloc")]["Format"] == ["webloc"]
    reading = uri(folder / "sub" / "reading.txt")
    assert contained(db, reading) == {"https://read.test/one", "https://read.test/two"}
    assert data[reading]["Format"] == ["text"]

    garbage = data[uri(folder / "garbage.bin")]
    assert garbage["Error"] == ["not a bookmark file: binary or unrecognized content"]
    assert contained(db, uri(folder / "garbage.bin")) == set()
    assert uri(folder / ".hidden.txt") not in data
    assert "https://hidden.test/" not in data

    everything = set().union(*(contained(db, uri(p)) for p in folder.rglob("*") if p.is_file()))
    assert followed(db) == everything
    assert process_events(db) == {"pending": 0, "claimed": 0, "done": 9, "dead": 0}


def test_a_rerun_skips_unchanged_files_and_reprocesses_changed_ones(
    db: Database, folder: Path
) -> None:
    WebScraper.register(db)
    run(db, folder)
    first = stored_data(db)
    followed_before = followed(db)

    again = run(db, folder)

    assert (again.items_stored, again.events_enqueued) == (0, 0)
    assert stored_data(db) == first
    assert process_events(db)["done"] == 9

    # The list loses one URL and gains another.
    reading = folder / "sub" / "reading.txt"
    reading.write_bytes(b"https://read.test/two\nhttps://read.test/three\n")
    set_mtime(reading, datetime(2030, 1, 1, tzinfo=UTC))

    changed = run(db, folder)

    assert changed.events_enqueued == 1
    after = stored_data(db)
    assert contained(db, uri(reading)) == {"https://read.test/two", "https://read.test/three"}
    assert after[uri(reading)]["LinkCount"] == [2]
    assert after[uri(reading)]["FileDate"] == [datetime(2030, 1, 1, tzinfo=UTC)]
    assert after[uri(reading)]["SHA256"] != first[uri(reading)]["SHA256"]
    assert followed(db) == followed_before | {"https://read.test/three"}
    for name in REAL_FILES:  # untouched files were not processed again
        assert after[uri(folder / name)] == first[uri(folder / name)]


def test_a_touched_file_with_the_same_content_is_not_extracted_again(
    db: Database, folder: Path
) -> None:
    WebScraper.register(db)
    run(db, folder)
    delicious = folder / "netscape_delicious.htm"
    before = stored_data(db)[uri(delicious)]
    set_mtime(delicious, datetime(2031, 5, 5, tzinfo=UTC))

    result = run(db, folder)

    assert result.events_enqueued == 1
    after = stored_data(db)[uri(delicious)]
    assert after["FileDate"] == [datetime(2031, 5, 5, tzinfo=UTC)]
    for key in ("SHA256", "LinkCount", "Format", "FileSize"):
        assert after[key] == before[key]
    assert len(contained(db, uri(delicious))) == 5
    assert run(db, folder).events_enqueued == 0  # and the new time is what counts now


def test_unreadable_and_oversized_files_record_an_error_and_do_not_stop_the_rest(
    db: Database, folder: Path
) -> None:
    vanishing = folder / "gone.txt"
    vanishing.write_bytes(b"https://gone.test/\n")
    result = scan(db, folder, max_file_bytes=100_000, follow_action=None)
    assert result.ok, result.error
    vanishing.unlink()  # between the scan and the processing
    drain(db)

    data = stored_data(db)
    assert data[uri(vanishing)]["Error"][0].startswith("cannot read: ")
    assert "FileSize" not in data[uri(vanishing)]
    big = uri(folder / "firefox_export_zh_menu.html")
    assert data[big]["Error"] == ["too large: 215612 bytes > 100000"]
    assert contained(db, big) == set()
    assert len(contained(db, uri(folder / "netscape_chromium_nested.htm"))) == 18
    assert followed(db) == set()
    assert process_events(db)["dead"] == 0

    # The file that could not be read is tried again by the next scan once it is back.
    vanishing.write_bytes(b"https://gone.test/\n")
    run(db, folder, max_file_bytes=100_000, follow_action=None)
    assert contained(db, uri(vanishing)) == {"https://gone.test/"}
    assert "Error" not in stored_data(db)[uri(vanishing)]


def test_a_file_that_stops_being_a_bookmark_file_gets_an_error(db: Database, folder: Path) -> None:
    reading = folder / "sub" / "reading.txt"
    run(db, folder, follow_action=None)
    reading.write_bytes(b"nothing useful here\n")
    set_mtime(reading, datetime(2032, 1, 1, tzinfo=UTC))

    run(db, folder, follow_action=None)

    data = stored_data(db)[uri(reading)]
    assert data["Error"] == ["no http(s) URL found (text file)"]
    assert contained(db, uri(reading)) == set()


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"folder": "missing"}, "ConfigError: not a folder"),
        ({"follow_action": "nobody:Nothing"}, "no engine named 'nobody' is registered"),
        ({"max_file_bytes": 0}, "max_file_bytes: Input should be greater than or equal to 1"),
    ],
)
def test_bad_settings_fail_the_scan(
    db: Database, tmp_path: Path, settings: dict[str, object], error: str
) -> None:
    chosen: dict[str, object] = {"folder": str(tmp_path), **settings}
    if chosen["folder"] == "missing":
        chosen["folder"] = str(tmp_path / "missing")

    [result] = run_start_actions(HaystackFolder, db, chosen)

    assert not result.ok
    assert error in (result.error or "")
    assert process_events(db)["pending"] == 0


def test_the_data_folder_is_the_default_folder_and_where_relative_ones_start(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HAYSTACK_DATA_DIR is the haystack folder, as ``[Paths] haystack`` was originally."""
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    (data / "top.txt").write_bytes(b"https://top.test/\n")
    (data / "inbox" / "reading.txt").write_bytes(READING)
    monkeypatch.setenv("HAYSTACK_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)  # the working folder is not where relative folders start

    [relative] = run_start_actions(HaystackFolder, db, {"folder": "inbox"})
    assert relative.ok, relative.error
    assert relative.items_stored == 1  # inbox/reading.txt only
    [default] = run_start_actions(HaystackFolder, db, {})
    assert default.ok, default.error

    drain(db)
    stored = stored_data(db)
    assert uri(data / "top.txt") in stored
    assert contained(db, uri(data / "inbox" / "reading.txt")) == {
        "https://read.test/one",
        "https://read.test/two",
    }

    [missing] = run_start_actions(HaystackFolder, db, {"folder": "nowhere"})
    assert not missing.ok
    assert f"not a folder: {str(data / 'nowhere')!r}" in (missing.error or "")


def test_actions_are_declared(db: Database) -> None:
    assert set(HaystackFolder.register(db).action_ids) == {SCAN_ACTION, PROCESS_ACTION}


def test_credentials_in_a_url_file_are_never_stored(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "creds"
    root.mkdir()
    secret = "ghp_" + "Zx9kQ2vL8mN4pR7tY1wB6cD3fG5hJ0sAqq"
    (root / "git-credentials").write_text(
        f"https://alice:{secret}@github.com\nhttps://bob@gitlab.example/group/\n", encoding="utf-8"
    )
    WebScraper.register(db)

    run(db, root)

    with db.read() as conn:
        uris = {str(u) for u in conn.execute(select(items.c.ItemURI)).scalars()}
    assert "https://github.com" in uris
    assert "https://gitlab.example/group/" in uris
    assert contained(db, uri(root / "git-credentials")) == {
        "https://github.com",
        "https://gitlab.example/group/",
    }
    with db.read() as conn:
        every_value = " ".join(
            str(v) for v in conn.execute(select(item_data.c.itemDataValue)).scalars()
        )
    assert secret not in every_value
    assert all(secret not in u and "alice" not in u for u in uris)
