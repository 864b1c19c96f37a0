#!/usr/bin/env python3
"""Scrapy, the crawl benchmark's peer crawler (a CrawlSpider run through CrawlerProcess).

Adapted from the shared crawl harness's ``scrapy_crawl.py``: the crawl and its settings are
the same; the interpreter line, type hints and the feed's default folder (the temp folder)
differ. It starts at
http://127.0.0.1:8088/index.html, follows same-host links (Scrapy's default LinkExtractor:
<a>/<area> href, default ignored extensions) and yields, for every HTML page, an item
{url, title, outlinks} to a JSON-lines feed.

Prints at the end exactly one line on stdout:
    pages=<n> seconds=<s> pages_per_s=<r>
where pages = items scraped (HTML pages answered 200) and seconds = wall time
of CrawlerProcess.start() (engine start to shutdown; Python/Scrapy import time
is not included - measure the whole process from outside for that).

Usage: scrapy_crawl.py [-c CONCURRENT_REQUESTS] [--url START] [--feed FILE]
Environment: CONCURRENT_REQUESTS (default 16) if -c is not given.
Run it with .bench-venv/bin/python: scripts/bench-setup.sh installs Scrapy there, never in
Haystack's own venv.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.http import HtmlResponse, Request
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule


class SiteSpider(CrawlSpider):
    name = "bench_site"

    def __init__(self, start_url: str, *args: Any, **kwargs: Any) -> None:
        parts = urlsplit(start_url)
        self.start_urls = [start_url]
        # OffsiteMiddleware matches the bare hostname (no port) ...
        self.allowed_domains = [parts.hostname]
        # ... but LinkExtractor(allow_domains=...) matches the netloc, port
        # included: with a bare "127.0.0.1" it extracts no link from
        # http://127.0.0.1:8088/ pages at all.
        self.rules = (
            Rule(LinkExtractor(allow_domains=[parts.netloc]), callback="parse_item", follow=True),
        )
        super().__init__(*args, **kwargs)  # compiles self.rules

    async def start(self) -> AsyncIterator[Request]:
        # Default start requests carry dont_filter=True, so the duplicate
        # filter never records index.html and fetches it a second time when
        # a page links back to it. A plain Request is recorded like any other.
        for url in self.start_urls:
            yield Request(url)

    def parse_start_url(self, response: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        # CrawlSpider sends the start page here, not to the rule callback.
        return self.parse_item(response)

    def parse_item(self, response: Any) -> Iterator[dict[str, Any]]:
        if not isinstance(response, HtmlResponse):
            return
        yield {
            "url": response.url,
            "title": (response.css("title::text").get() or "").strip(),
            "outlinks": len(response.css("a::attr(href)")),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description="Scrapy CrawlSpider benchmark crawler")
    ap.add_argument(
        "-c",
        "--concurrency",
        type=int,
        default=int(os.environ.get("CONCURRENT_REQUESTS", "16")),
        help="CONCURRENT_REQUESTS (also used as CONCURRENT_REQUESTS_PER_DOMAIN, "
        "since the whole crawl is one host); default 16",
    )
    ap.add_argument("--url", default="http://127.0.0.1:8088/index.html")
    default_feed = Path(tempfile.gettempdir()) / "scrapy-crawl.jsonl"
    ap.add_argument("--feed", default=str(default_feed), help="JSON lines output")
    args = ap.parse_args()

    settings = {
        "CONCURRENT_REQUESTS": args.concurrency,
        # Scrapy's default per-domain cap is 8; without this, 16 and 32 would
        # still run at most 8 requests at once against our single host.
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "WARNING",
        "AUTOTHROTTLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "TELNETCONSOLE_ENABLED": False,
        "FEEDS": {args.feed: {"format": "jsonlines", "overwrite": True, "encoding": "utf8"}},
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SiteSpider)
    process.crawl(crawler, start_url=args.url)
    t0 = time.monotonic()
    process.start()
    secs = time.monotonic() - t0

    stats = crawler.stats.get_stats()
    pages = stats.get("item_scraped_count", 0)
    print(
        f"requests={stats.get('downloader/request_count', 0)} "
        f"status_200={stats.get('downloader/response_status_count/200', 0)} "
        f"status_404={stats.get('downloader/response_status_count/404', 0)} "
        f"dupes_filtered={stats.get('dupefilter/filtered', 0)} "
        f"concurrency={args.concurrency} feed={args.feed} "
        f"finish_reason={stats.get('finish_reason')}",
        file=sys.stderr,
    )
    print(f"pages={pages} seconds={secs:.3f} pages_per_s={pages / secs if secs else 0:.1f}")


if __name__ == "__main__":
    main()
