"""``store.crawls``: the names a crawl's reads rely on."""

from __future__ import annotations

from haystack_collector.engines import web_scraper
from haystack_collector.store.crawls import CRAWL_ROOT


def test_the_crawl_root_is_the_name_the_web_scraper_writes() -> None:
    assert CRAWL_ROOT == web_scraper.CRAWL_ROOT
