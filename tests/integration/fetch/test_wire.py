"""The fetcher's aiohttp path against a real local server: codings, cookies, connections."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import httpx
import pytest

from haystack_collector.fetch import Fetcher, FetchSettings
from haystack_collector.origin import origin_scope
from tests.integration.fetch.conftest import fetcher
from tests.integration.fetch.server import RawServer, Request, respond

TEXT = "<title>Coded</title>" + "body text " * 500


def deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(TEXT.encode())),
        ("deflate", zlib.compress(TEXT.encode())),
        ("deflate", deflate_raw(TEXT.encode())),  # servers send raw deflate too
        ("gzip, gzip", gzip.compress(gzip.compress(TEXT.encode()))),
        ("identity", TEXT.encode()),
    ],
)
async def test_content_codings_are_decoded(coding: str, body: bytes) -> None:
    async def coded(request: Request, writer: asyncio.StreamWriter) -> None:
        headers = {"Content-Encoding": coding, "Content-Type": "text/html; charset=utf-8"}
        await respond(writer, 200, body, headers)

    async with RawServer({"/": coded}) as server, fetcher() as f:
        result = await f.fetch(server.url("/"))
    assert (result.status, result.error, result.text) == (200, None, TEXT)
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


async def test_an_unknown_coding_is_kept_as_it_came() -> None:
    async def br(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, b"\x8b\x03\x80opaque", {"Content-Encoding": "br"})

    async with RawServer({"/": br}) as server, fetcher() as f:
        result = await f.fetch(server.url("/"))
    assert (result.status, result.body) == (200, b"\x8b\x03\x80opaque")


async def test_corrupt_gzip_raises_as_on_the_httpx_path() -> None:
    corrupt = b"\x1f\x8b\x08\x00garbage-garbage"

    async def bad(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, corrupt, {"Content-Encoding": "gzip"})

    async with RawServer({"/": bad}) as server, fetcher() as f:
        with pytest.raises(httpx.DecodingError):
            await f.fetch(server.url("/"))
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=corrupt)
    )
    async with Fetcher(FetchSettings(obey_robots=False), transport=transport) as f:
        with pytest.raises(httpx.DecodingError):
            await f.fetch("http://site.test/")


async def test_cookies_and_connections_are_kept_between_requests() -> None:
    async def first(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, b"set", {"Set-Cookie": "session=abc; Path=/"})

    async def second(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, request.headers.get("cookie", "").encode())

    async with RawServer({"/a": first, "/b": second}) as server, fetcher() as f:
        await f.fetch(server.url("/a"))
        result = await f.fetch(server.url("/b"))
    assert result.body == b"session=abc"
    assert {r.connection for r in server.requests} == {1}
    assert server.requests[0].headers["user-agent"].startswith("Haystack/")


async def test_api_work_under_the_ssrf_guard_goes_through_httpx() -> None:
    async def ok(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, b"ok")

    async with RawServer({"/": ok}) as server, fetcher() as f:
        with origin_scope("api"):
            refused = await f.fetch(server.url("/"))
        allowed = await f.fetch(server.url("/"))
    assert refused.error is not None
    assert refused.error.startswith("blocked address")
    assert allowed.body == b"ok"
    assert len(server.requests) == 1
