"""Feed polls as re-visits (every poll of a feed polled before records a visit) and files
rescanned one by one, on every backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from haystack_collector.db import Database
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.file_scanner import RESCAN_ACTION, FileScanner
from haystack_collector.engines.rss import FETCH_ACTION, Rss
from tests.integration.crawl.helpers import stored_data
from tests.integration.revisit.helpers import (
    FAST,
    age,
    drain,
    event_of,
    fire,
    item_ids,
    pending,
    set_policy,
    state,
    version,
    visits,
)
from tests.integration.revisit.site import Page, Site, serve


def rss(*titles: str) -> str:
    entries = "".join(
        f"<item><title>{t}</title><link>http://example.com/{n}</link><guid>g{n}</guid></item>"
        for n, t in enumerate(titles)
    )
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>The feed</title>"
        f"<link>http://example.com/</link><description>d</description>{entries}</channel></rss>"
    )


@pytest.fixture
def feed() -> Site:
    site = Site()
    site.pages["/feed.xml"] = Page(rss("one", "two"))
    return site


@pytest.fixture
def feed_url(feed: Site) -> Iterator[str]:
    with serve(feed) as url:
        yield url + "/feed.xml"


def poll(db: Database, url: str) -> None:
    [result] = run_start_actions(Rss, db, {"feeds": [url]}, fetchers=Fetchers(FAST))
    assert result.ok, result.error
    drain(db, [Rss])


def test_every_later_poll_of_a_feed_records_a_visit(
    db: Database, feed: Site, feed_url: str
) -> None:
    poll(db, feed_url)
    [item] = item_ids(db, feed_url)
    assert visits(db, item) == []  # the first poll collects it: no re-visit yet
    first = version(db, item)

    poll(db, feed_url)
    assert feed.asked("/feed.xml")[-1] == (feed.pages["/feed.xml"].tag, None, 304)
    assert visits(db, item) == [("unchanged", 304)]
    assert version(db, item) == first  # the store saw no change either

    feed.pages["/feed.xml"] = Page(rss("one", "two", "three"))
    poll(db, feed_url)
    assert visits(db, item)[-1] == ("changed", 200)
    assert version(db, item) > first
    assert stored_data(db)[feed_url]["EntryCount"] == [3]

    feed.pages["/feed.xml"] = Page("", status=410)
    poll(db, feed_url)
    assert visits(db, item)[-1] == ("gone", 410)
    assert state(db, item) == "gone"


def test_a_feed_policy_re_queues_the_polls_of_feeds_polled_long_ago(
    db: Database, feed: Site, feed_url: str
) -> None:
    poll(db, feed_url)
    [item] = item_ids(db, feed_url)
    set_policy(db, Rss, older_than=86400)
    assert fire(db, "revisit:rss") == 0  # polled just now
    age(db, Rss, [item], days=2)

    assert fire(db, "revisit:rss") == 1
    assert pending(db, Rss, FETCH_ACTION) == {item}
    drain(db, [Rss])
    assert visits(db, item) == [("unchanged", 304)]


def test_a_poll_without_an_answer_records_no_visit(db: Database, feed: Site, feed_url: str) -> None:
    poll(db, feed_url)
    [item] = item_ids(db, feed_url)
    feed.pages["/feed.xml"] = Page("", status=503)

    poll(db, feed_url)

    assert visits(db, item) == []
    assert state(db, item) == "failed"  # the feed says so, as before; but no visit


# --- files --------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    for name in ("same.txt", "edited.txt", "touched.txt", "deleted.txt"):
        (root / name).write_text(f"the text of {name}", encoding="utf-8")
    return root


def test_rescanned_files_are_unchanged_changed_or_gone(db: Database, folder: Path) -> None:
    [scanned] = run_start_actions(FileScanner, db, {"folders": [str(folder)]})
    assert scanned.ok, scanned.error
    names = ("same.txt", "edited.txt", "touched.txt", "deleted.txt")
    ids = dict(zip(names, item_ids(db, *((folder / n).as_uri() for n in names)), strict=True))
    before = {name: version(db, item) for name, item in ids.items()}
    set_policy(db, FileScanner, older_than=0)
    (folder / "edited.txt").write_text("new text, another size", encoding="utf-8")
    stat = (folder / "touched.txt").stat()
    os.utime(folder / "touched.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    (folder / "deleted.txt").unlink()

    assert fire(db, "revisit:fileScanner") == 4
    drain(db, [FileScanner])

    assert visits(db, ids["same.txt"]) == [("unchanged", None)]
    assert version(db, ids["same.txt"]) == before["same.txt"]
    assert visits(db, ids["edited.txt"]) == [("changed", None)]
    data = stored_data(db)
    assert data[(folder / "edited.txt").as_uri()]["FileSize"] == [22]
    assert visits(db, ids["touched.txt"]) == [("changed", None)]  # a new mtime, same bytes
    assert visits(db, ids["deleted.txt"]) == [("gone", None)]
    assert state(db, ids["deleted.txt"]) == "gone"
    assert event_of(db, FileScanner, RESCAN_ACTION, ids["same.txt"]).state == "done"
    # Visited just now: the next tick of a day-old policy queues none of them.
    set_policy(db, FileScanner, older_than=86400)
    assert fire(db, "revisit:fileScanner") == 0
