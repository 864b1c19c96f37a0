"""A feed entry whose fields change between two polls keeps its old values as a version."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.diff import diff_versions
from haystack_collector.store import versions
from tests.integration.engines.test_rss_engine import FeedServer, poll, serve

LINK = "https://news.test/story-1"


def feed(title: str, summary: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>News</title><link>https://news.test/</link>
<item><title>{title}</title><link>{LINK}</link><guid>{LINK}</guid>
<description>{summary}</description></item>
<item><title>Other</title><link>https://news.test/story-2</link></item>
</channel></rss>""".encode()


@pytest.fixture
def feeds() -> FeedServer:
    state = FeedServer()
    state.put("/news.rss", feed("Council votes", "The vote is today."))
    return state


@pytest.fixture
def base(feeds: FeedServer) -> Iterator[str]:
    with serve(feeds) as url:
        yield url


def _versions(db: Database, uri: str) -> list[versions.ItemVersion]:
    with db.read() as conn:
        item_id = store.find_item_id(conn, uri=uri)
        assert item_id is not None
        return versions.item_versions(conn, item_id=item_id)


def test_a_changed_entry_keeps_a_version_and_diffs_by_field(
    db: Database, feeds: FeedServer, base: str
) -> None:
    url = base + "/news.rss"
    poll(db, [url], follow=None)
    poll(db, [url], follow=None)  # 304: nothing changed, nothing kept
    assert feeds.statuses("/news.rss") == [200, 304]
    assert [v.version for v in _versions(db, LINK)] == [1]
    assert [v.version for v in _versions(db, url)] == [1]

    feeds.put("/news.rss", feed("Council votes no", "The vote is today."))
    poll(db, [url], follow=None)

    old, new = _versions(db, LINK)
    assert (old.version, new.version, new.current) == (1, 2, True)
    diff = diff_versions(old, new)
    assert not diff.page
    assert [(c.key, c.old, c.new) for c in diff.fields] == [
        ("Title", ["Council votes"], ["Council votes no"])
    ]
    assert [v.version for v in _versions(db, "https://news.test/story-2")] == [1]
    # The feed's own ETag and check time changed; the feed did not.
    assert [v.version for v in _versions(db, url)] == [1]
