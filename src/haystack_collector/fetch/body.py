"""Reading a response body within the size and decompression limits."""

from __future__ import annotations

import dataclasses

import httpx

from haystack_collector.fetch.settings import FetchSettings


@dataclasses.dataclass(frozen=True, slots=True)
class BodyRead:
    """The bytes we kept, and why we stopped early if we did."""

    data: bytes
    reason: str | None = None  # None: the whole body was read
    bomb: bool = False  # the decompression guard fired: the content is not worth keeping


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """The body limits of ``FetchSettings``, checked after every chunk by either HTTP path."""

    max_body: int
    max_decoded: int
    ratio: float
    ratio_after: int

    @classmethod
    def of(cls, s: FetchSettings) -> Limits:
        return cls(
            s.max_body_bytes, s.max_decoded_bytes, s.max_decompression_ratio, s.ratio_check_after
        )

    def check(self, chunks: list[bytes], decoded: int, wire: int) -> BodyRead | None:
        """Where to stop, given the bytes read so far; None: read on."""
        if decoded > self.ratio_after and decoded > self.ratio * max(wire, 1):
            return BodyRead(b"", f"decompression ratio above {self.ratio:g}", True)
        if decoded > self.max_decoded:
            data = b"".join(chunks)[: self.max_decoded]
            return BodyRead(data, f"decoded body over max_decoded_bytes ({self.max_decoded})")
        if wire > self.max_body:
            # Identity bodies: wire == decoded, so this also bounds what we keep.
            data = b"".join(chunks)[: self.max_body]
            return BodyRead(data, f"body over max_body_bytes ({self.max_body})")
        return None


async def read_body(response: httpx.Response, settings: FetchSettings) -> BodyRead:
    """Stream a response's decoded body, stopping as soon as a limit is crossed."""
    limits = Limits.of(settings)
    chunks: list[bytes] = []
    decoded = 0
    encoded = response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
    # aiter_bytes yields gzip/deflate-decoded data; num_bytes_downloaded counts the wire.
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        decoded += len(chunk)
        # An already-loaded response (tests, MockTransport) reports no wire bytes.
        wire = (
            response.num_bytes_downloaded
            if encoded
            else max(response.num_bytes_downloaded, decoded)
        )
        stop = limits.check(chunks, decoded, wire)
        if stop is not None:
            return stop
    return BodyRead(b"".join(chunks))
