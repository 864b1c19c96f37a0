"""``haystack crawl --render`` on the local JavaScript site: every result, where a plain crawl
finds none; the choice is stored with the crawl, so a resumed crawl renders too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haystack_collector.cli import app
from haystack_collector.engines.web_scraper import CRAWL_SETTINGS, CrawlSpec
from tests.databases import migrated_database
from tests.integration.crawl.helpers import crawl_events, stored_data, stored_pages
from tests.jssite import FEED_ITEMS, JsSite

pytestmark = [pytest.mark.usefixtures("user_shell"), pytest.mark.timeout(180)]


def haystack(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--database-url", url, *args])
    return result.exit_code, result.stdout, result.stderr


def items_found(pages: dict[str, dict[str, list[object]]], site: JsSite) -> list[str]:
    return sorted(uri for uri in pages if uri.startswith(f"{site.url}/item/"))


def test_crawl_render_collects_every_result_a_plain_crawl_misses(
    tmp_path: Path, jssite: JsSite
) -> None:
    start = f"{jssite.url}/feed-results"
    plain = f"sqlite:///{tmp_path / 'plain.db'}"
    code, out, err = haystack(plain, "crawl", start, "--delay", "0")
    assert code == 0, err
    with migrated_database(plain) as db:
        pages = stored_pages(db)
        assert list(pages) == [start]  # the shell has no links
        assert items_found(pages, jssite) == []

    rendered = f"sqlite:///{tmp_path / 'rendered.db'}"
    # The item pages have no results list: their wait ends at its (short) limit.
    args = ["crawl", start, "--delay", "0", "--render", "--wait-selector", "li.result"]
    args += ["--wait-timeout", "3"]
    code, out, err = haystack(rendered, *args, "--max-depth", "1")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith(f"pages={FEED_ITEMS + 1} ")
    with migrated_database(rendered) as db:
        pages = stored_pages(db)
        expected = sorted(f"{jssite.url}/item/{n}" for n in range(1, FEED_ITEMS + 1))
        assert items_found(pages, jssite) == expected
        assert pages[f"{jssite.url}/item/3"]["Title"] == ["Page 3"]
        assert crawl_events(db)["pending"] == 0
        # Stored with the crawl: whoever resumes it renders with the same waits.
        [raw] = stored_data(db)[start][CRAWL_SETTINGS]
        spec = CrawlSpec.from_json(raw if isinstance(raw, dict) else json.loads(str(raw)))
        assert spec.render
        assert spec.wait is not None
        assert spec.wait.selector == "li.result"


def test_wait_options_need_render(tmp_path: Path, jssite: JsSite) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = haystack(url, "crawl", f"{jssite.url}/feed-results", "--wait-idle")
    assert code != 0
    assert "--render" in err
