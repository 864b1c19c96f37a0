"""A ``haystack crawl``'s own reads and writes: pages fetched so far, leases of dead crawls.

A crawl is a ``webScraper`` item graph: every page item carries ``CrawlRoot`` (the start
item's id) in ItemData, and fetched pages carry ``FetchedAt`` (see engines/web_scraper.py).
"""

from __future__ import annotations

import os
import socket

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import CLAIM_OWNER_MAX, item_data, item_events

__all__ = ["CRAWL_ROOT", "FETCHED_AT", "count_crawl_pages", "release_dead_claims"]

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


def release_dead_claims(conn: Connection, *, engine_id: int) -> int:
    """Release pending events of ``engine_id`` leased by processes of this host that are gone.

    A worker's owner is ``host:pid:token``; a pid that no longer exists cannot finish its
    claims, so waiting out their lease (minutes) would only stall the resumed crawl.
    """
    e = item_events.c
    owners = conn.execute(
        select(e.itemEventClaimedBy)
        .where(
            e.engineId == engine_id, e.itemEventDate.is_(None), e.itemEventClaimedBy.is_not(None)
        )
        .distinct()
    ).scalars()
    dead = [owner for owner in owners if _gone(owner)]
    if not dead:
        return 0
    result = conn.execute(
        update(item_events)
        .where(e.engineId == engine_id, e.itemEventDate.is_(None), e.itemEventClaimedBy.in_(dead))
        .values(itemEventClaimedBy=None, itemEventLeaseUntil=None)
    )
    return int(result.rowcount)


def _gone(owner: str) -> bool:
    """Whether ``owner`` (see ``worker.default_owner``) was a process of this host now gone."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():  # host, pid, token
        return False
    host, pid = parts[0], int(parts[1])
    here = socket.gethostname()
    # default_owner keeps the last CLAIM_OWNER_MAX characters: a long hostname loses its head.
    if host != here and not (len(owner) == CLAIM_OWNER_MAX and here.endswith(host)):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
