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


async def read_body(response: httpx.Response, settings: FetchSettings) -> BodyRead:
    """Stream a response's decoded body, stopping as soon as a limit is crossed."""
    s = settings
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
        if decoded > s.ratio_check_after and decoded > s.max_decompression_ratio * max(wire, 1):
            return BodyRead(b"", f"decompression ratio above {s.max_decompression_ratio:g}", True)
        if decoded > s.max_decoded_bytes:
            data = b"".join(chunks)[: s.max_decoded_bytes]
            return BodyRead(data, f"decoded body over max_decoded_bytes ({s.max_decoded_bytes})")
        if wire > s.max_body_bytes:
            # Identity bodies: wire == decoded, so this also bounds what we keep.
            data = b"".join(chunks)[: s.max_body_bytes]
            return BodyRead(data, f"body over max_body_bytes ({s.max_body_bytes})")
    return BodyRead(b"".join(chunks))
