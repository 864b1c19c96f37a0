"""A site where every link is a different failure, served by the raw server in its own thread.

``run_crawl`` runs its own event loop, so the asyncio fault server (``RawServer``) gets a loop
of its own in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.fixtures import real_bytes
from tests.integration.fetch.server import Handler, RawServer, Request, reset, respond

BIG = 50 * 1024 * 1024
HTML = {"Content-Type": "text/html; charset=utf-8"}

# path → what the crawl must record for it (the test reads this table).
FAULTS: dict[str, str] = {
    "/retry-after": "503 with Retry-After: 1, then 200",
    "/throttled": "429 twice, then 200",
    "/always-503": "503 on every attempt",
    "/slow-headers": "no headers within the read timeout",
    "/slow-body": "a body trickling past the total timeout",
    "/reset": "connection reset mid-body",
    "/short": "body shorter than its Content-Length",
    "/chunked": "broken chunked encoding",
    "/bomb": "gzip bomb",
    "/loop-a": "redirect loop",
    "/big.bin": "a 50 MB file",
    "/mislabelled": "a UTF-8 page labelled ISO-8859-1",
    "/nocharset": "GB2312 page with no charset anywhere",
    "/malformed": "malformed HTML",
    "/cal/2024/1": "an endless calendar",
}


def _page(title: str, *links: str) -> bytes:
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    return f"<html><head><title>{title}</title></head><body>{anchors}</body></html>".encode()


def _flaky(*answers: tuple[int, dict[str, str]]) -> Handler:
    queue = list(answers)

    async def handler(request: Request, writer: asyncio.StreamWriter) -> None:
        if queue:
            status, headers = queue.pop(0)
            await respond(writer, status, b"busy", headers)
        else:
            await respond(writer, 200, _page(f"Recovered {request.path}"), HTML)

    return handler


async def _home(request: Request, writer: asyncio.StreamWriter) -> None:
    await respond(writer, 200, _page("Faults", *FAULTS), HTML)


async def _always_503(request: Request, writer: asyncio.StreamWriter) -> None:
    await respond(writer, 503, b"down")


async def _slow_headers(request: Request, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(5)


async def _slow_body(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(200):
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.05)


async def _reset(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"<p>" * 300)
    await writer.drain()
    await asyncio.sleep(0.05)
    reset(writer)


async def _short(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this")
    await writer.drain()
    writer.close()


async def _chunked(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx")
    await writer.drain()
    writer.close()


def _gzip_bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(100)) + packer.flush()


_BOMB = _gzip_bomb()


async def _bomb(request: Request, writer: asyncio.StreamWriter) -> None:
    await respond(writer, 200, _BOMB, {"Content-Encoding": "gzip", **HTML})


async def _loop_a(request: Request, writer: asyncio.StreamWriter) -> None:
    await respond(writer, 302, headers={"Location": "/loop-b"})


async def _loop_b(request: Request, writer: asyncio.StreamWriter) -> None:
    await respond(writer, 301, headers={"Location": "/loop-a"})


async def _big(request: Request, writer: asyncio.StreamWriter) -> None:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {BIG}"
    writer.write(head.encode() + b"\r\n\r\n")
    chunk, sent = b"z" * 65536, 0
    try:
        while sent < BIG:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
    except ConnectionError:
        pass


def _fixture(name: str, content_type: str) -> Handler:
    body = real_bytes(name)

    async def handler(request: Request, writer: asyncio.StreamWriter) -> None:
        await respond(writer, 200, body, {"Content-Type": content_type})

    return handler


async def _mislabelled(request: Request, writer: asyncio.StreamWriter) -> None:
    body = _page("Café «Größe» 书签菜单", "/").replace(b"<head>", b"<head><meta charset=latin1>")
    await respond(writer, 200, body, {"Content-Type": "text/html; charset=iso-8859-1"})


async def _malformed(request: Request, writer: asyncio.StreamWriter) -> None:
    body = b"<html><head><title>Bad &amp broken</title><body><p><a href='/'>home<div></table>"
    await respond(writer, 200, body, HTML)


async def _calendar(request: Request, writer: asyncio.StreamWriter) -> None:
    year, month = (int(part) for part in request.path.split("/")[2:4])
    following = f"/cal/{year + month // 12}/{month % 12 + 1}"
    await respond(writer, 200, _page(f"Calendar {year}-{month}", following), HTML)


class _Routes(dict[str, Handler]):
    """Exact paths, plus every /cal/Y/M page of the endless calendar."""

    def get(self, path: str, default: Any = None) -> Any:
        if path.startswith("/cal/"):
            return _calendar
        return super().get(path, default)


def routes() -> dict[str, Handler]:
    return _Routes(
        {
            "/": _home,
            "/retry-after": _flaky((503, {"Retry-After": "1"})),
            "/throttled": _flaky((429, {}), (429, {"Retry-After": "0"})),
            "/always-503": _always_503,
            "/slow-headers": _slow_headers,
            "/slow-body": _slow_body,
            "/reset": _reset,
            "/short": _short,
            "/chunked": _chunked,
            "/bomb": _bomb,
            "/loop-a": _loop_a,
            "/loop-b": _loop_b,
            "/big.bin": _big,
            "/mislabelled": _mislabelled,
            "/nocharset": _fixture("feeds/rss20_gb2312_qqtech.xml", "text/html"),
            "/malformed": _malformed,
        }
    )


def serve_faults() -> contextlib.AbstractContextManager[RawServer]:
    """The fault site on 127.0.0.1:<free port>, in a thread; stopped (handlers cancelled) after."""
    return serve_routes(routes())


@contextmanager
def serve_routes(handlers: dict[str, Handler]) -> Iterator[RawServer]:
    """A RawServer with ``handlers`` on its own event loop in a background thread."""
    loop = asyncio.new_event_loop()
    server = RawServer(handlers)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.__aenter__())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="fault-site", daemon=True)
    thread.start()
    assert ready.wait(5), "the fault site did not start"
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(_shutdown(server), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def _shutdown(server: RawServer) -> None:
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not current:
            task.cancel()
    await server.__aexit__(None, None, None)
