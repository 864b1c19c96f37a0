"""The ``sites`` engine rendering pages in real Chromium (``fetch: browser``, ``render``),
against the local JavaScript site: a plain fetch finds no listing, a render finds all."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from haystack_collector.db import Database
from haystack_collector.engines.base import run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.sites import SITE_RENDER, Sites
from haystack_collector.errors import ConfigError
from haystack_collector.extract.sites import load_site
from haystack_collector.fetch import FetchSettings
from haystack_collector.queue import SqlQueue
from haystack_collector.worker import Worker
from tests.integration.crawl.helpers import stored_data
from tests.jssite import FEED_ITEMS, SCROLL_TOTAL, JsSite

pytestmark = pytest.mark.timeout(180)

FAST = FetchSettings(min_delay=0.0, jitter=0.0, per_host_concurrency=4, obey_robots=False)

FEED = """
name: jsfeed
start_urls: ["{base}/feed-results"]
{fetch}
listing:
  selector: li.result
  fields:
    title: a
    url: {{css: a, attr: href, type: url}}
detail:
  fields:
    heading: h1
job:
  title: title
"""

# The detail pages have no results list: their wait ends at its (short) limit.
BROWSER = """fetch: browser
wait: {selector: li.result, timeout: 3}"""


def definition(folder: Path, base: str, fetch: str) -> str:
    path = folder / "jsfeed.yaml"
    path.write_text(FEED.format(base=base, fetch=fetch), encoding="utf-8")
    return str(path)


def run(db: Database, fetchers: Fetchers, **settings: object) -> None:
    [result] = run_start_actions(Sites, db, settings, fetchers=fetchers)
    assert result.ok, result.error
    worker = Worker(
        db,
        SqlQueue(db),
        [Sites],
        concurrency=2,
        drain=True,
        idle_sleep=0.05,
        finish_flush=0.05,
        fetchers=fetchers,
    )
    stats = asyncio.run(asyncio.wait_for(worker.run(), 120))
    assert stats.failed == 0


def listings(db: Database, site: JsSite) -> dict[str, dict[str, list[object]]]:
    return {uri: d for uri, d in stored_data(db).items() if uri.startswith(f"{site.url}/item/")}


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_browser_definition_finds_every_listing_a_plain_one_misses(
    db: Database, jssite: JsSite, tmp_path: Path
) -> None:
    plain = definition(tmp_path, jssite.url, "")
    run(db, Fetchers(FAST), site=plain)
    assert listings(db, jssite) == {}

    rendered = definition(tmp_path, jssite.url, BROWSER)
    run(db, Fetchers(FAST), site=rendered)
    found = listings(db, jssite)
    assert len(found) == FEED_ITEMS
    item = found[f"{jssite.url}/item/7"]
    assert item["title"] == ["Title 7"]
    assert item["heading"] == ["Page 7"]  # the detail page, rendered too
    assert item["JobTitle"] == ["Title 7"]
    assert SITE_RENDER not in item  # the definition itself says how to fetch


# The browser does not touch the database: the store's side is the sites engine's own tests',
# on every backend.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_render_setting_renders_a_plain_definition_and_its_details(
    db: Database, jssite: JsSite, tmp_path: Path
) -> None:
    plain = definition(tmp_path, jssite.url, "")
    run(db, Fetchers(FAST), site=plain, render=True)
    found = listings(db, jssite)
    assert len(found) == FEED_ITEMS
    assert found[f"{jssite.url}/item/1"]["heading"] == ["Page 1"]
    assert found[f"{jssite.url}/item/1"][SITE_RENDER] == [True]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_scroll_block_loads_the_whole_infinite_list(
    db: Database, tmp_path: Path, jssite: JsSite
) -> None:
    path = tmp_path / "scroll.yaml"
    path.write_text(
        f"""
name: jsscroll
start_urls: ["{jssite.url}/scroll"]
fetch: browser
wait: {{selector: li.entry}}
scroll: {{max_scrolls: 20, pause: 2}}
listing:
  selector: li.entry
  fields:
    entry: "::text"
""",
        encoding="utf-8",
    )
    run(db, Fetchers(FAST), site=str(path))
    entries = [d["entry"][0] for uri, d in stored_data(db).items() if "#listing-" in uri]
    assert sorted(entries) == sorted(f"Entry {n}" for n in range(1, SCROLL_TOTAL + 1))


def test_wait_and_scroll_need_fetch_browser(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """
name: bad
start_urls: ["http://127.0.0.1/"]
wait: {selector: li}
listing:
  selector: li
  fields:
    title: a
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="fetch: browser"):
        load_site(path)
