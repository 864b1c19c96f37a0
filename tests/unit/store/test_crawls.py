"""``store.crawls``: which leases a resumed crawl may take back, and the names it reads."""

from __future__ import annotations

import os
import socket

from haystack_collector.engines import web_scraper
from haystack_collector.store.crawls import CRAWL_ROOT, _gone


def test_only_gone_local_processes_lose_their_claims() -> None:
    here = socket.gethostname()
    assert not _gone(f"{here}:{os.getpid()}:abcd")
    assert not _gone(f"{here}:1:abcd")  # init is alive
    assert not _gone("other-host:999999999:abcd")
    assert not _gone("garbage")
    assert _gone(f"{here}:999999999:abcd")


def test_the_crawl_root_is_the_name_the_web_scraper_writes() -> None:
    assert CRAWL_ROOT == web_scraper.CRAWL_ROOT
