"""The ``sites`` engine with ``fetch: browser`` and ``snapshot:`` in the definition: every
rendered results page keeps its HTML and screenshot, stored once by hash and linked."""

from __future__ import annotations

from pathlib import Path

import pytest

from haystack_collector.db import Database
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.sites import Sites
from haystack_collector.fetch import FetchSettings
from tests.integration.crawl.helpers import link_edges, stored_data
from tests.jssite import FEED_ITEMS, JsSite

pytestmark = pytest.mark.timeout(180)

FAST = FetchSettings(min_delay=0.0, jitter=0.0, per_host_concurrency=4)
FEED = """
name: jsfeed-snap
start_urls: ["{base}/feed-results"]
fetch: browser
wait: {{selector: li.result, timeout: 5}}
snapshot: [html, png]
listing:
  selector: li.result
  fields:
    title: a
    url: {{css: a, attr: href, type: url}}
"""


def test_a_rendered_results_page_keeps_its_snapshots(
    db: Database, jssite: JsSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAYSTACK_DOWNLOADS_DIR", str(tmp_path / "dl"))
    path = tmp_path / "jsfeed.yaml"
    path.write_text(FEED.format(base=jssite.url), encoding="utf-8")
    for _ in range(2):  # the second run renders the same page: nothing new is stored
        [result] = run_start_actions(Sites, db, {"site": str(path)}, fetchers=Fetchers(FAST))
        assert result.ok, result.error

    page = f"{jssite.url}/feed-results"
    files = sorted((tmp_path / "dl" / "snapshots").iterdir())
    kinds = sorted(path.suffix for path in files)
    assert kinds.count(".html") == 1
    assert ".png" in kinds
    html = next(path for path in files if path.suffix == ".html").read_text(encoding="utf-8")
    assert html.count('class="result"') == FEED_ITEMS  # rendered, not the empty shell
    shots = {right for left, right in link_edges(db) if left == page and "urn:sha256:" in right}
    assert {f"urn:sha256:{path.stem}" for path in files} == shots
    data = stored_data(db)
    kinds_stored = sorted(data[uri]["SnapshotKind"][0] for uri in shots)
    assert kinds_stored.count("html") == 1
    assert data[page]["SiteListings"] == [FEED_ITEMS]
