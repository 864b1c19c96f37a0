"""A ``haystack crawl``'s own reads: the pages fetched so far. (Leases of dead crawls are
released like any dead worker's: ``store.workers.release_dead_workers``.)

A crawl is a ``webScraper`` item graph: every page item carries ``CrawlRoot`` (the start
item's id) in ItemData, and fetched pages carry ``FetchedAt`` (see engines/web_scraper.py).
"""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import item_data

__all__ = ["CRAWL_ROOT", "FETCHED_AT", "count_crawl_pages"]

# The ItemData names a crawl's pages carry (engines/web_scraper.py writes them).
CRAWL_ROOT = "CrawlRoot"
FETCHED_AT = "FetchedAt"


def count_crawl_pages(conn: Connection, *, root_id: int) -> int:
    """Pages of the crawl rooted at ``root_id`` that were fetched (have ``FetchedAt``)."""
    # Core aliases: sqlalchemy.orm's aliased() would import the ORM (150 ms) for nothing.
    root = item_data.alias("root")
    fetched = item_data.alias("fetched")
    query = (
        select(func.count(func.distinct(root.c.itemId)))
        .select_from(root)
        .join(fetched, and_(fetched.c.itemId == root.c.itemId, fetched.c.itemData == FETCHED_AT))
        .where(root.c.itemData == CRAWL_ROOT, root.c.itemDataValue == str(root_id))
    )
    return int(conn.execute(query).scalar_one())
