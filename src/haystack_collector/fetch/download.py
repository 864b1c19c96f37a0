"""Streaming downloads to disk: size cap, sniffing, safe names, SHA-256, dedup, resume.

``Fetcher.download`` drives ``download_file`` with the fetcher's client, checks, host slots,
breakers and retry policy. One download:

* streams into ``<folder>/<sha256(url)[:32]>.part`` (the key is the requested URL, so a later
  call finds it), with the response's validators in ``<...>.part.meta`` (JSON);
* resumes a part with ``Range: bytes=N-`` and ``If-Range: <strong ETag or Last-Modified>``:
  a 206 whose Content-Range starts at N appends, a 200 (the file changed, or Range is not
  supported) starts again from byte 0; a part without a usable validator is never resumed;
* a transport error mid-body is retried by the policy, and the retry resumes the part;
* stops beyond ``max_bytes`` (or refuses a Content-Length over it) and deletes the part;
* sniffs the first bytes and refuses a type mismatch (see ``haystack_collector.files``);
* hashes while streaming and stores each content once: ``<folder>/.sha256/<digest>`` names the
  file that holds it, and a second URL with the same bytes gets that file back
  (``duplicate``), its own bytes deleted.

Like ``fetch``, it never raises for anything the remote side can cause: the ``Download``
says what happened in ``error``. Local file-system errors (disk full) do raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from haystack_collector.errors import CircuitOpenError
from haystack_collector.fetch.failures import (
    FetchFailure,
    Throttled,
    header_number,
    parse_retry_after,
)
from haystack_collector.fetch.hosts import HostSlots
from haystack_collector.fetch.policy import host_key
from haystack_collector.fetch.result import FetchResult
from haystack_collector.fetch.settings import FetchSettings
from haystack_collector.fetch.ssrf import BlockedAddress
from haystack_collector.fetch.validators import Validators
from haystack_collector.files import SNIFF_BYTES, check_type, file_name_for
from haystack_collector.resilience import BreakerRegistry, RetryPolicy, async_retrying

__all__ = [
    "FILE_MODE",
    "ContentRange",
    "Download",
    "DownloadTools",
    "PartFile",
    "download_file",
    "open_data_file",
    "parse_content_range",
    "place_file",
    "read_data_file",
    "resume_headers",
]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_INDEX = ".sha256"


@dataclass(slots=True)
class Download:
    """How one download went; ``local_path`` is set only when the file was kept."""

    url: str  # as requested
    final_url: str
    status: int | None = None
    file_name: str | None = None  # the safe name it was (or would have been) stored under
    size: int = 0  # bytes of the whole file received
    sha256: str | None = None
    content_type: str | None = None
    sniffed: str | None = None
    local_path: Path | None = None
    duplicate: bool = False  # identical bytes were already stored: ``local_path`` is that file
    resumed_from: int = 0  # the byte offset the successful attempt resumed at
    attempts: int = 0
    redirects: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.local_path is not None


@dataclass(frozen=True, slots=True)
class DownloadTools:
    """What ``download_file`` borrows from a ``Fetcher``."""

    client: httpx.AsyncClient
    settings: FetchSettings
    check: Callable[[str], Awaitable[str | None]]
    slots: HostSlots
    breakers: BreakerRegistry
    policy: RetryPolicy
    sleep: Callable[[float], Awaitable[None]]
    rand: Callable[[], float]


# --- resume logic (pure) ------------------------------------------------------------------


def resume_headers(offset: int, validators: Validators | None) -> dict[str, str]:
    """``Range``/``If-Range`` to resume at ``offset``; empty when it cannot be done safely.

    If-Range needs a strong validator: a weak ETag (``W/``) never matches, so Last-Modified is
    used instead; with neither, a changed file would be spliced onto the old part unnoticed.
    """
    if offset <= 0 or validators is None:
        return {}
    etag = validators.etag
    if etag and not etag.startswith("W/"):
        condition = etag
    elif validators.last_modified:
        condition = validators.last_modified
    else:
        return {}
    return {"Range": f"bytes={offset}-", "If-Range": condition}


@dataclass(frozen=True, slots=True)
class ContentRange:
    """A ``Content-Range: bytes start-end/total`` header (total None for ``*``)."""

    start: int
    end: int
    total: int | None


def parse_content_range(value: str | None) -> ContentRange | None:
    """The parsed header, or None when absent or malformed."""
    if not value:
        return None
    unit, _, spec = value.strip().partition(" ")
    span, _, total = spec.partition("/")
    start, _, end = span.partition("-")
    first, last = header_number(start), header_number(end)
    size = None if total == "*" else header_number(total)
    if unit.lower() != "bytes" or first is None or last is None:
        return None
    if total != "*" and size is None:
        return None
    return ContentRange(first, last, size) if first <= last else None


@dataclass(frozen=True, slots=True)
class PartFile:
    """The part file of one URL in one folder, and its validators beside it."""

    path: Path
    meta: Path
    url: str

    @classmethod
    def for_url(cls, folder: Path, url: str) -> PartFile:
        key = hashlib.sha256(url.encode()).hexdigest()[:32]
        return cls(folder / f"{key}.part", folder / f"{key}.part.meta", url)

    def resumable(self) -> tuple[int, Validators | None]:
        """Bytes already on disk and the validators they were fetched under."""
        if self.path.is_symlink():  # not ours: discarded, never read through
            return 0, None
        try:
            size = self.path.stat().st_size
            raw = json.loads(self.meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0, None
        if not isinstance(raw, dict) or raw.get("url") != self.url:
            return 0, None
        validators = Validators(raw.get("etag"), raw.get("last_modified"))
        return (size, validators) if validators else (0, None)

    def remember(self, headers: httpx.Headers) -> None:
        meta = {
            "url": self.url,
            "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"),
        }
        self.meta.write_text(json.dumps(meta), encoding="utf-8")

    def head(self) -> bytes:
        with self.path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)

    def hasher(self) -> hashlib._Hash:
        """SHA-256 of the bytes already in the part."""
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        return digest

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)


# --- placing a finished file --------------------------------------------------------------


def place_file(folder: Path, part: Path, name: str, sha256: str) -> tuple[Path, bool]:
    """Move a finished part to ``folder/name`` unless its content is already stored.

    Returns the file holding the content and whether it was already there. A different file
    already called ``name`` keeps its name; the newcomer gets ``stem-<sha12>.ext``.
    """
    index = folder / _INDEX / sha256
    existing = _indexed(folder, index)
    if existing is not None:
        part.unlink(missing_ok=True)
        return existing, True
    target = _free_name(folder, name, sha256)
    os.replace(part, target)
    index.parent.mkdir(exist_ok=True)
    try:
        with index.open("x", encoding="utf-8") as handle:
            handle.write(target.name)
    except FileExistsError:  # another download of the same bytes finished first: keep theirs
        other = _indexed(folder, index)
        if other is not None and other != target:
            target.unlink()
            return other, True
        index.write_text(target.name, encoding="utf-8")
    return target, False


def _indexed(folder: Path, index: Path) -> Path | None:
    try:
        name = index.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    target = folder / name
    if name and _inside(folder, target) and target.is_file():
        return target
    index.unlink(missing_ok=True)  # stale: the file was removed by hand
    return None


def _free_name(folder: Path, name: str, sha256: str) -> Path:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    candidates = (name, *(f"{stem}-{sha256[:12]}{'-' + str(n) if n else ''}" for n in range(100)))
    for candidate in candidates:
        full = candidate if candidate == name else f"{candidate}.{ext}" if ext else candidate
        target = folder / full
        if not _inside(folder, target):  # names are sanitised; this is the second lock
            raise ValueError(f"refusing a file name that leaves the folder: {name!r}")
        if not target.exists():
            return target
    raise FileExistsError(f"no free name for {name!r} in {folder}")


def _inside(folder: Path, target: Path) -> bool:
    return target.resolve().parent == folder.resolve()


# --- the download -------------------------------------------------------------------------


@dataclass(slots=True)
class _Hop:
    """One request's outcome: a finished download or a redirect to follow."""

    download: Download | None = None
    location: str | None = None


async def download_file(
    tools: DownloadTools, url: str, folder: Path, *, max_bytes: int
) -> Download:
    """Download ``url`` into ``folder`` (created if missing); see the module docstring."""
    folder.mkdir(parents=True, exist_ok=True)
    part = PartFile.for_url(folder, url)
    redirects: list[str] = []
    current = url
    for _ in range(tools.settings.max_redirects + 1):
        refusal = await tools.check(current)
        if refusal is not None:
            return Download(url, current, redirects=redirects, error=refusal)
        hop = await _attempts(tools, current, part, folder, max_bytes)
        if hop.download is not None:
            hop.download.url, hop.download.redirects = url, redirects
            return hop.download
        assert hop.location is not None
        redirects.append(current)
        try:
            current = str(httpx.URL(current).join(hop.location).copy_with(fragment=None))
        except httpx.InvalidURL as exc:
            return Download(url, current, redirects=redirects, error=f"bad redirect: {exc}")
        if current in redirects:
            return Download(url, current, redirects=redirects, error="redirect loop")
    return Download(url, current, redirects=redirects, error="too many redirects")


async def _attempts(
    tools: DownloadTools, url: str, part: PartFile, folder: Path, max_bytes: int
) -> _Hop:
    breaker = tools.breakers.get(f"fetch:{host_key(url)}")
    attempts = 0
    try:
        async for attempt in async_retrying(
            tools.policy, name=f"download {url}", sleep=tools.sleep, rand=tools.rand
        ):
            with attempt:
                attempts += 1
                breaker.before_call()
                try:
                    hop = await _request(tools, url, part, folder, max_bytes)
                except BaseException as exc:
                    breaker.record_failure(exc)
                    raise
                breaker.record_success()
                if hop.download is not None:
                    hop.download.attempts = attempts
                return hop
    except CircuitOpenError:
        return _Hop(Download(url, url, attempts=attempts, error="circuit open"))
    except (FetchFailure, Throttled) as exc:
        return _Hop(Download(url, url, attempts=attempts, error=str(exc)))
    except BlockedAddress as exc:  # the connection's own check (a name that rebound)
        return _Hop(Download(url, url, attempts=attempts, error=f"blocked address: {exc}"))
    raise AssertionError("unreachable: tenacity re-raises the last error")


async def _request(
    tools: DownloadTools, url: str, part: PartFile, folder: Path, max_bytes: int
) -> _Hop:
    """One attempt; raises FetchFailure/Throttled for what is worth retrying."""
    offset, validators = part.resumable()
    if offset == 0:
        part.discard()  # a part we cannot resume is garbage
    # Identity: the stored bytes must be the file itself, and Range counts those bytes.
    headers = {"Accept-Encoding": "identity", **resume_headers(offset, validators)}
    request = tools.client.build_request("GET", url, headers=headers)
    host = host_key(url)
    async with tools.slots.slot(host):
        started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(tools.settings.total_timeout):
                response = await tools.client.send(request, stream=True)
                try:
                    hop = await _receive(response, url, part, folder, max_bytes, offset)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            tools.slots.observe(host, asyncio.get_running_loop().time() - started, ok=False)
            raise FetchFailure(f"timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            tools.slots.observe(host, asyncio.get_running_loop().time() - started, ok=False)
            raise FetchFailure(f"connection error ({type(exc).__name__}: {exc})") from exc
        elapsed = asyncio.get_running_loop().time() - started
        tools.slots.observe(host, elapsed, ok=response.status_code < 500)
    return hop


async def _receive(  # noqa: PLR0917 - the private steps of one attempt
    response: httpx.Response, url: str, part: PartFile, folder: Path, max_bytes: int, offset: int
) -> _Hop:
    status = response.status_code
    location = response.headers.get("location")
    if status in _REDIRECTS and location:
        return _Hop(location=location)
    _raise_retryable(response, url, part, offset)
    name = file_name_for(str(response.url), response.headers.get("content-disposition"))
    result = Download(
        url,
        str(response.url),
        status=status,
        file_name=name,
        content_type=response.headers.get("content-type"),
    )
    if status not in (200, 206):
        result.error = f"HTTP {status}"
        return _Hop(result)
    if status == 206:
        span = parse_content_range(response.headers.get("content-range"))
        if not offset or span is None or span.start != offset:
            part.discard()
            raise FetchFailure("206 with an unexpected Content-Range; restarting")
        total = span.total
    else:
        offset = 0  # the validator changed, or the server ignores Range: from the start
        length = response.headers.get("content-length", "")
        total = header_number(length)
    result.resumed_from = offset
    if total is not None and total > max_bytes:
        part.discard()
        result.size, result.error = total, f"too big: {total} bytes over max_bytes ({max_bytes})"
        return _Hop(result)
    part.remember(response.headers)
    with _part_writer(part, offset) as (handle, digest, head):
        size = offset
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                break
            digest.update(chunk)
            handle.write(chunk)
            if len(head) < SNIFF_BYTES:
                head.extend(chunk[: SNIFF_BYTES - len(head)])
    result.size = size
    if size > max_bytes:
        part.discard()
        result.error = f"too big: over max_bytes ({max_bytes})"
        return _Hop(result)
    result.sha256 = digest.hexdigest()
    return _Hop(_finish(result, part, folder, bytes(head)))


# Downloads are data: never executable, whatever the umask or a part left by an earlier run.
FILE_MODE = 0o644
# A symlink planted where the part goes must not redirect the write.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def open_data_file(path: Path, *, truncate: bool) -> IO[bytes]:
    """``path`` opened for reading and writing as a ``FILE_MODE`` file, never through a link."""
    flags = os.O_RDWR | os.O_CREAT | _NOFOLLOW | (os.O_TRUNC if truncate else 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, "r+b")
    except BaseException:
        os.close(fd)
        raise


def read_data_file(path: Path) -> bytes | None:
    """The bytes of the regular file ``path``, never read through a symlink; None if there is
    no such file."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


@contextlib.contextmanager
def _part_writer(
    part: PartFile, offset: int
) -> Iterator[tuple[IO[bytes], hashlib._Hash, bytearray]]:
    """The part opened to append at ``offset`` (or truncated), its hash so far and its head."""
    handle: IO[bytes]
    if offset:
        digest, head = part.hasher(), bytearray(part.head())
        handle = open_data_file(part.path, truncate=False)
        handle.truncate(offset)
        handle.seek(offset)
    else:
        digest, head = hashlib.sha256(), bytearray()
        handle = open_data_file(part.path, truncate=True)
    with handle:
        yield handle, digest, head


def _finish(result: Download, part: PartFile, folder: Path, head: bytes) -> Download:
    """Check the type and keep the file, or discard it with the reason."""
    assert result.file_name is not None
    assert result.sha256 is not None
    verdict = check_type(head, name=result.file_name, content_type=result.content_type)
    result.sniffed = verdict.sniffed
    if verdict.mismatch is not None:
        part.discard()
        result.error = verdict.mismatch
        return result
    part.meta.unlink(missing_ok=True)
    result.local_path, result.duplicate = place_file(
        folder, part.path, result.file_name, result.sha256
    )
    return result


def _raise_retryable(response: httpx.Response, url: str, part: PartFile, offset: int) -> None:
    """Raise for the answers worth another attempt (throttling, 5xx, a stale part)."""
    status = response.status_code
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise Throttled(f"HTTP {status}", retry_after=retry_after, result=FetchResult(url, status))
    if status in (500, 502, 504):
        raise FetchFailure(f"HTTP {status}")
    if status == 416 and offset:
        part.discard()  # the part does not fit the file any more: start over
        raise FetchFailure("HTTP 416 for a resumed part; restarting")
