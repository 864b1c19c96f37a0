"""Rendering a page in the task's browser and keeping its snapshots: shared by the engines."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from haystack_collector.engines.base import ActionContext
from haystack_collector.engines.defaults import engine_defaults
from haystack_collector.fetch import Fetcher, FetchResult
from haystack_collector.fetch.render import IDLE
from haystack_collector.fetch.render_options import ScrollOptions, WaitOptions
from haystack_collector.snapshots import (
    SnapshotKind,
    keep_rendered,
    link_snapshots,
    snapshot_spec,
)

__all__ = ["render_page"]


async def render_page(
    ctx: ActionContext,
    fetcher: Fetcher,
    url: str,
    *,
    wait: WaitOptions | None,
    scroll: ScrollOptions | None,
    snapshot: Sequence[SnapshotKind],
    page_uri: str,
) -> FetchResult:
    """``url`` rendered in the browser, its navigation fetched with ``fetcher``'s settings (its
    slots, robots and breaker); no ``wait`` waits for network idle. The ``snapshot`` kinds are
    stored and linked from ``page_uri``. A browser that dies raises: the queue retries."""
    rendered = await ctx.browser().render(
        url,
        settings=fetcher.settings,
        wait=IDLE if wait is None else wait.spec(),
        scroll=None if scroll is None else scroll.spec(),
        snapshot=snapshot_spec(snapshot),
    )
    if snapshot:
        shots = await asyncio.to_thread(
            keep_rendered, engine_defaults().downloads, rendered, snapshot
        )
        if shots:
            await asyncio.to_thread(
                ctx.db.run, link_snapshots, engine_id=ctx.engine_id, page_uri=page_uri, shots=shots
            )
            ctx.items_stored += len(shots)
    return rendered.as_fetch_result()
