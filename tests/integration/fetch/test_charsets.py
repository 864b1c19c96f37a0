"""Real pages and feeds served with wrong or missing charsets come out readable."""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures import real_bytes
from tests.integration.fetch.conftest import fetcher
from tests.integration.fetch.server import Handler, RawServer, Request, respond

CASES = {
    # path: (fixture, Content-Type sent, text that must come out)
    "/folha": ("feeds/rss091_iso8859-1_folha.rss", "text/xml; charset=utf-8", "Campeões"),
    "/qq": ("feeds/rss20_gb2312_qqtech.xml", "application/rss+xml", "世纪华通发20亿回购预案"),
    "/cl2009": (
        "craigslist_search/cl2009_newyork_fuo_ligneroset_bare_p.html",
        "text/html",
        "Ligne Roset \u201cContours\u201d",
    ),
    "/zh": ("bookmarks/firefox_export_zh_menu.html", "text/html; charset=iso-8859-1", "书签菜单"),
}


def serve(name: str, content_type: str) -> Handler:
    async def handler(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, real_bytes(name), {"Content-Type": content_type})

    return handler


@pytest.mark.parametrize("path", sorted(CASES))
async def test_wrong_and_missing_charsets(path: str) -> None:
    name, content_type, needle = CASES[path]
    async with RawServer({path: serve(name, content_type)}) as server, fetcher() as f:
        result = await f.fetch(server.url(path))
    assert result.error is None
    assert needle in result.text
    assert result.body == real_bytes(name)
