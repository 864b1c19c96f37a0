"""Against a real local server: retries, timeouts, broken responses and hostile bodies."""

from __future__ import annotations

import asyncio
import time
import zlib

import pytest

from tests.integration.fetch.conftest import fetcher
from tests.integration.fetch.server import Handler, RawServer, Request, reset, respond


def flaky(*statuses: tuple[int, dict[str, str]]) -> Handler:
    """A handler answering with each (status, headers) in turn, then 200 "ok"."""
    queue = list(statuses)

    async def handler(request: Request, writer: asyncio.StreamWriter) -> None:
        if queue:
            status, headers = queue.pop(0)
            await respond(writer, status, b"busy", headers)
        else:
            await respond(writer, 200, b"ok", {"Content-Type": "text/plain"})

    return handler


async def test_503_with_retry_after_then_200_waits_as_told() -> None:
    async with RawServer({"/": flaky((503, {"Retry-After": "1"}))}) as server, fetcher() as f:
        result = await f.fetch(server.url("/"))
    assert (result.status, result.text, result.attempts) == (200, "ok", 2)
    assert server.starts[1] - server.starts[0] >= 0.95
    assert len(server.requests) == 2


async def test_429_is_retried_on_the_same_keep_alive_connection() -> None:
    handler = flaky((429, {}), (429, {"Retry-After": "0"}))
    async with RawServer({"/": handler}) as server, fetcher() as f:
        result = await f.fetch(server.url("/"))
    assert (result.status, result.attempts) == (200, 3)
    assert {r.connection for r in server.requests} == {1}


async def test_persistent_503_gives_up_with_an_error_result() -> None:
    handler = flaky(*[(503, {})] * 10)
    async with RawServer({"/": handler}) as server, fetcher(retry_attempts=3) as f:
        result = await f.fetch(server.url("/"))
    assert (result.status, result.error, result.attempts) == (503, "HTTP 503", 3)


async def test_slow_headers_time_out() -> None:
    async def slow(request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3)

    async with RawServer({"/": slow}) as server, fetcher(read_timeout=0.3, retry_attempts=2) as f:
        started = time.monotonic()
        result = await f.fetch(server.url("/"))
    assert result.error == "timeout (ReadTimeout)"
    assert result.attempts == 2
    assert time.monotonic() - started < 1.5


async def test_a_trickling_body_hits_the_total_timeout() -> None:
    async def trickle(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(100):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)  # always within the read timeout

    async with (
        RawServer({"/": trickle}) as server,
        fetcher(read_timeout=1.0, total_timeout=0.5, retry_attempts=1) as f,
    ):
        started = time.monotonic()
        result = await f.fetch(server.url("/"))
    assert result.error == "timeout (TimeoutError)"
    assert time.monotonic() - started < 1.5


async def test_a_connection_reset_mid_body_is_retried_then_reported() -> None:
    async def cut(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        await asyncio.sleep(0.05)
        reset(writer)

    async with RawServer({"/": cut}) as server, fetcher(retry_attempts=2) as f:
        result = await f.fetch(server.url("/"))
    assert result.error is not None
    assert result.error.startswith("connection error (ReadError")
    assert (result.attempts, len(server.requests)) == (2, 2)


async def test_a_body_shorter_than_its_content_length_is_an_error() -> None:
    async def short(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this")
        await writer.drain()
        writer.close()

    async with RawServer({"/": short}) as server, fetcher(retry_attempts=1) as f:
        result = await f.fetch(server.url("/"))
    assert result.error is not None
    assert result.error.startswith("connection error (RemoteProtocolError")


async def test_broken_chunked_encoding_is_an_error() -> None:
    async def broken(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx")
        await writer.drain()
        writer.close()

    async with RawServer({"/": broken}) as server, fetcher(retry_attempts=1) as f:
        result = await f.fetch(server.url("/"))
    assert result.error is not None
    assert result.error.startswith("connection error (RemoteProtocolError")


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 100 KB of gzip that inflates to 100 MB of zeros."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(100)) + packer.flush()


async def test_a_gzip_bomb_is_stopped_early_and_fast(gzip_bomb: bytes) -> None:
    async def bomb(request: Request, writer: asyncio.StreamWriter) -> None:
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/html"}
        await respond(writer, 200, gzip_bomb, headers)

    async with RawServer({"/": bomb}) as server, fetcher() as f:
        started = time.monotonic()
        result = await f.fetch(server.url("/"))
        elapsed = time.monotonic() - started
    assert len(gzip_bomb) < 200_000
    assert result.error == "decompression bomb: decompression ratio above 100"
    assert (result.truncated, result.body, result.attempts) == (True, b"", 1)
    assert elapsed < 1.0


async def test_a_redirect_loop_is_detected() -> None:
    async def to_b(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 302, headers={"Location": "/b"})

    async def to_a(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 301, headers={"Location": server.url("/a")})

    async with RawServer({"/a": to_b, "/b": to_a}) as server, fetcher() as f:
        result = await f.fetch(server.url("/a"))
    assert result.error == "redirect loop"
    assert result.redirects == [server.url("/a"), server.url("/b")]
    assert len(server.requests) == 2


async def test_a_large_file_over_the_cap_stops_reading_early() -> None:
    size, sent = 20 * 1024 * 1024, [0]

    async def large(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b"y" * 65536
        try:
            while sent[0] < size:
                writer.write(chunk)
                await writer.drain()
                sent[0] += len(chunk)
        except ConnectionError:
            pass

    async with RawServer({"/big": large}) as server, fetcher(max_body_bytes=1024 * 1024) as f:
        started = time.monotonic()
        result = await f.fetch(server.url("/big"))
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.1)
    assert (result.truncated, len(result.body), result.error) == (True, 1024 * 1024, None)
    assert result.reason == "body over max_body_bytes (1048576)"
    assert elapsed < 2.0
    assert sent[0] < size  # the server could not push the whole file: we hung up
