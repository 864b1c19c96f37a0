"""The fetcher's cheap HTTP path: one request on aiohttp, answered in httpx's vocabulary.

Measured on the crawl bench's Berkeley DB site (5,186 pages, 16 at a time, loopback nginx),
a bare fetch loop spends about 1.7-2.1 ms of CPU per request in httpx/httpcore and about
0.14 ms in aiohttp, so the crawl's own requests go this way. The ``Fetcher`` keeps httpx for
what needs its transport seam: an injected transport (unit tests) and the SSRF guard's
``GuardedTransport`` for API-origin work that may not reach private addresses.

Everything above the wire stays the same: failures are raised as the httpx exceptions the
fetcher already handles (so a stored ``Error`` reads the same whichever path fetched it), and
the body is read within the same limits as ``body.read_body``. Decompression is done here
(aiohttp's is switched off) so the wire bytes and the decoded bytes are both known.
"""

from __future__ import annotations

import builtins
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from yarl import URL

from haystack_collector.fetch.body import BodyRead, Limits
from haystack_collector.fetch.settings import FetchSettings

__all__ = ["AioWire", "WireResponse"]

# What the wire can decode; an answer in another coding is kept as it came (as httpx does).
ACCEPT_ENCODING = "gzip, deflate"
_ERROR_NAME = re.compile(r"\b([A-Z]\w*Error)\(")
# Decompressed in steps of at most this many bytes, so a bomb is caught early.
_STEP = 256 * 1024


@dataclass(frozen=True, slots=True)
class WireResponse:
    """One answer: its URL, status, headers, the body as read within the limits, time to headers."""

    url: str
    status: int
    headers: httpx.Headers
    read: BodyRead
    latency: float


class _Inflate:
    """gzip or deflate (zlib-wrapped or raw, as servers send both) in bounded steps."""

    def __init__(self, coding: str) -> None:
        self._raw_fallback = coding == "deflate"
        wbits = zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._z = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``data``, each made only when the one before was checked."""
        try:
            piece = self._z.decompress(data, _STEP)
        except zlib.error:
            if self._started or not self._raw_fallback:
                raise
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # a raw deflate stream
            piece = self._z.decompress(data, _STEP)
        self._started = True
        yield piece
        while self._z.unconsumed_tail:
            yield self._z.decompress(self._z.unconsumed_tail, _STEP)

    def flush(self) -> bytes:
        return self._z.flush()


def _decoders(content_encoding: str | None) -> list[_Inflate]:
    """The decoders to apply, outermost coding first."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    return [_Inflate(c) for c in reversed(codings) if c in ("gzip", "x-gzip", "deflate")]


def _decode(decoders: list[_Inflate], data: bytes) -> Iterator[bytes]:
    parts: Iterable[bytes] = (data,)
    for decoder in decoders:
        parts = _through(decoder, parts)
    yield from parts


def _through(decoder: _Inflate, parts: Iterable[bytes]) -> Iterator[bytes]:
    for part in parts:
        if part:
            yield from decoder.feed(part)


class AioWire:
    """One aiohttp session per fetcher (per event loop), opened on first use."""

    def __init__(self, settings: FetchSettings, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            s = self._settings
            self._session = aiohttp.ClientSession(
                # Per-host concurrency is HostSlots' job; the pool only keeps connections.
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
                headers={
                    "User-Agent": s.user_agent,
                    "Accept": "*/*",
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
                ),
                auto_decompress=False,
                # Cookies persist across requests as in httpx's client; IP hosts too.
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                # httpx/h11 accept header lines this long; aiohttp's default is 8 KiB.
                max_line_size=64 * 1024,
                max_field_size=64 * 1024,
            )
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None = None,
    ) -> WireResponse:
        """One request, no redirect followed; raises httpx's exceptions for failures."""
        started = self._clock()
        target = URL(url, encoded=True) if url.isascii() else URL(url)
        try:
            async with self._client().request(
                method,
                target,
                headers=headers,
                data=None if form is None else dict(form),
                allow_redirects=False,
            ) as response:
                latency = self._clock() - started
                found = httpx.Headers(list(response.raw_headers))
                read = await _read(response, found, Limits.of(self._settings))
                if read.reason is not None:
                    response.close()  # the rest of the body is not wanted: drop the connection
                return WireResponse(url, response.status, found, read, latency)
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc) from exc
        except zlib.error as exc:
            raise httpx.DecodingError(f"Error while decoding content: {exc}") from exc


async def _read(
    response: aiohttp.ClientResponse, headers: httpx.Headers, limits: Limits
) -> BodyRead:
    decoders = _decoders(headers.get("content-encoding"))
    chunks: list[bytes] = []
    decoded = wire = 0
    async for raw in response.content.iter_any():
        wire += len(raw)
        for chunk in _decode(decoders, raw) if decoders else (raw,):
            chunks.append(chunk)
            decoded += len(chunk)
            stop = limits.check(chunks, decoded, wire)
            if stop is not None:
                return stop
        if decoders:
            stop = limits.check(chunks, decoded, wire)
            if stop is not None:
                return stop
    for decoder in decoders:
        tail = decoder.flush()
        if tail:
            chunks.append(tail)
            decoded += len(tail)
            stop = limits.check(chunks, decoded, wire)
            if stop is not None:
                return stop
    return BodyRead(b"".join(chunks))


# aiohttp's failures and the httpx exception the same failure raises there, first match wins.
_AS_HTTPX: tuple[tuple[type[aiohttp.ClientError], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # not HTTP: bad status/headers
)


def _as_httpx(exc: aiohttp.ClientError) -> httpx.TransportError:
    """The httpx exception for ``exc``, so stored errors read the same on both paths."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientPayloadError):  # a body cut short: reset or not
        return httpx.ReadError(text) if _reset(exc) else httpx.RemoteProtocolError(text)
    for theirs, ours in _AS_HTTPX:
        if isinstance(exc, theirs):
            return ours(text)
    return httpx.ReadError(text)  # a reset or another OS error on an open connection


def _reset(exc: BaseException) -> bool:
    """Whether the connection was lost (a reset), not closed cleanly, under ``exc``.

    aiohttp chains the parser's complaint as the cause of a cut-short body and names the
    connection's own error only in the message (``... . ConnectionResetError(104, ...)``).
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return True
        seen = seen.__cause__ or seen.__context__
    for name in _ERROR_NAME.findall(str(exc)):
        named = getattr(builtins, name, None)
        if isinstance(named, type) and issubclass(named, OSError):
            return True
    return False
