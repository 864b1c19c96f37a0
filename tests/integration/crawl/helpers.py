"""Reading a crawl back from the database."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_data, item_links, items
from haystack_collector.engines.web_scraper import WebScraper
from haystack_collector.store.values import decode


def stored_data(db: Database) -> dict[str, dict[str, list[Any]]]:
    """Every item's data by URI and key, values in sequence order."""
    query = (
        select(
            items.c.ItemURI,
            item_data.c.itemData,
            item_data.c.itemDataValue,
            item_data.c.itemDataType,
        )
        .join(items, items.c.itemId == item_data.c.itemId)
        .order_by(item_data.c.itemId, item_data.c.itemData, item_data.c.itemDataSeq)
    )
    found: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    with db.read() as conn:
        for uri, key, text, tag in conn.execute(query):
            found[uri][key].append(decode(text, tag))
    return {uri: dict(data) for uri, data in found.items()}


def stored_pages(db: Database) -> dict[str, dict[str, list[Any]]]:
    """Only the fetched pages (those with a FetchedAt)."""
    return {uri: data for uri, data in stored_data(db).items() if "FetchedAt" in data}


def link_edges(db: Database) -> set[tuple[str, str]]:
    left, right = aliased(items), aliased(items)
    query = (
        select(left.c.ItemURI, right.c.ItemURI)
        .select_from(item_links)
        .join(left, left.c.itemId == item_links.c.itemId_left)
        .join(right, right.c.itemId == item_links.c.itemId_right)
    )
    with db.read() as conn:
        return {(str(a), str(b)) for a, b in conn.execute(query)}


def crawl_events(db: Database) -> dict[str, int]:
    engine_id = WebScraper.register(db).engine_id
    with db.read() as conn:
        return store.event_counts(conn, engine_id=engine_id)
