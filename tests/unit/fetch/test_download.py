"""Streaming downloads: caps, sniffing, safe names, hashing, dedup and resuming with Range."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from haystack_collector.fetch.download import (
    ContentRange,
    PartFile,
    parse_content_range,
    resume_headers,
)
from haystack_collector.fetch.validators import Validators
from tests.unit.fetch.conftest import Handler, make_fetcher

PDF = b"%PDF-1.4\n" + b"0" * 5000 + b"\n%%EOF\n"
URL = "http://files.example/docs/report.pdf"


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def serve(*responses: httpx.Response) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return seen, handler


class Chunks(httpx.AsyncByteStream):
    """A body streamed in chunks that may fail after ``fail_after`` chunks; counts what it sent."""

    def __init__(self, data: bytes, size: int, fail_after: int | None = None) -> None:
        self.parts = [data[i : i + size] for i in range(0, len(data), size)]
        self.fail_after = fail_after
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            if self.fail_after is not None and self.sent >= self.fail_after:
                raise httpx.RemoteProtocolError("peer closed connection mid-body")
            self.sent += 1
            yield part


# --- pure resume logic --------------------------------------------------------------------


def test_resume_headers_need_an_offset_and_a_strong_validator() -> None:
    assert resume_headers(0, Validators('"v1"', None)) == {}
    assert resume_headers(10, None) == {}
    assert resume_headers(10, Validators('"v1"', "Tue, 01 Jan 2030 00:00:00 GMT")) == {
        "Range": "bytes=10-",
        "If-Range": '"v1"',
    }
    # A weak ETag never matches If-Range: Last-Modified stands in, or there is no resume.
    assert resume_headers(10, Validators('W/"v1"', "Tue, 01 Jan 2030 00:00:00 GMT")) == {
        "Range": "bytes=10-",
        "If-Range": "Tue, 01 Jan 2030 00:00:00 GMT",
    }
    assert resume_headers(10, Validators('W/"v1"', None)) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 100-199/200", ContentRange(100, 199, 200)),
        ("bytes 0-0/*", ContentRange(0, 0, None)),
        ("bytes 5-4/10", None),
        ("items 0-1/2", None),
        ("bytes */200", None),
        ("bytes 1-2/x", None),
        ("bytes \u00b2-3/4", None),  # str.isdigit() takes "²"; int() refuses it
        ("bytes 0-1/\u0663", None),
        ("bytes 0-1/" + "9" * 5000, None),  # more digits than int() reads
        ("", None),
        (None, None),
    ],
)
def test_content_range_parsing(value: str | None, expected: ContentRange | None) -> None:
    assert parse_content_range(value) == expected


def test_a_part_without_its_validators_is_not_resumable(tmp_path: Path) -> None:
    part = PartFile.for_url(tmp_path, URL)
    part.path.write_bytes(b"abc")
    assert part.resumable() == (0, None)
    part.meta.write_text(json.dumps({"url": "http://other/", "etag": '"v"'}))
    assert part.resumable() == (0, None)
    part.meta.write_text(json.dumps({"url": URL, "etag": '"v"', "last_modified": None}))
    assert part.resumable() == (3, Validators('"v"', None))


# --- whole downloads ----------------------------------------------------------------------


async def test_a_download_is_streamed_hashed_sniffed_and_kept(tmp_path: Path) -> None:
    _, handler = serve(
        httpx.Response(200, headers={"Content-Type": "application/pdf"}, content=PDF)
    )
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=1_000_000)
    assert done.ok, done.error
    assert done.local_path == tmp_path / "report.pdf"
    assert done.local_path.read_bytes() == PDF
    assert (done.size, done.sha256) == (len(PDF), hashlib.sha256(PDF).hexdigest())
    assert (done.status, done.sniffed, done.content_type) == (200, "pdf", "application/pdf")
    assert (done.duplicate, done.resumed_from, done.attempts) == (False, 0, 1)
    assert files_in(tmp_path) == [f".sha256/{done.sha256}", "report.pdf"]


async def test_downloads_ask_for_identity_encoding(tmp_path: Path) -> None:
    seen, handler = serve(httpx.Response(200, content=b"plain text\n"))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        await fetcher.download("http://h.example/a.txt", tmp_path, max_bytes=100)
    assert seen[0].headers["Accept-Encoding"] == "identity"
    assert "Range" not in seen[0].headers


async def test_a_content_length_over_the_cap_is_refused_before_the_body(tmp_path: Path) -> None:
    body = Chunks(b"x" * 10_000, 1000)
    _, handler = serve(httpx.Response(200, headers={"Content-Length": "10000"}, stream=body))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download("http://h.example/big.zip", tmp_path, max_bytes=5000)
    assert done.error == "too big: 10000 bytes over max_bytes (5000)"
    assert done.local_path is None
    assert body.sent == 0
    assert files_in(tmp_path) == []


async def test_a_streamed_body_over_the_cap_is_cut_off_and_deleted(tmp_path: Path) -> None:
    body = Chunks(b"x" * 100_000, 1000)  # no Content-Length: only counting can stop it
    _, handler = serve(httpx.Response(200, stream=body))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download("http://h.example/big.zip", tmp_path, max_bytes=5000)
    assert done.error == "too big: over max_bytes (5000)"
    assert done.local_path is None
    assert body.sent <= 6  # stopped right after the cap, not at the end of the body
    assert files_in(tmp_path) == []


async def test_a_content_type_that_lies_is_not_kept(tmp_path: Path) -> None:
    html = b"<!DOCTYPE html><html><title>Login</title></html>"
    _, handler = serve(
        httpx.Response(200, headers={"Content-Type": "application/pdf"}, content=html)
    )
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert done.error == (
        "type mismatch: extension says pdf but the content is html;"
        " Content-Type says pdf but the content is html"
    )
    assert (done.sniffed, done.local_path, done.sha256) == (
        "html",
        None,
        hashlib.sha256(html).hexdigest(),
    )
    assert files_in(tmp_path) == []


async def test_an_http_error_keeps_nothing(tmp_path: Path) -> None:
    _, handler = serve(httpx.Response(404, content=b"<title>Not found</title>"))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert (done.status, done.error, done.local_path) == (404, "HTTP 404", None)
    assert files_in(tmp_path) == []


async def test_a_refused_scheme_is_an_error_not_an_exception(tmp_path: Path) -> None:
    fetcher, _ = make_fetcher(lambda request: httpx.Response(200))
    async with fetcher:
        done = await fetcher.download("ftp://h.example/a.pdf", tmp_path, max_bytes=10)
    assert done.error == "unsupported scheme 'ftp'"


async def test_redirects_are_followed_and_named_after_the_final_url(tmp_path: Path) -> None:
    seen, handler = serve(
        httpx.Response(302, headers={"Location": "/store/final.pdf"}),
        httpx.Response(200, content=PDF),
    )
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download("http://h.example/get/1", tmp_path, max_bytes=100_000)
    assert done.ok
    assert (done.final_url, done.redirects) == (
        "http://h.example/store/final.pdf",
        ["http://h.example/get/1"],
    )
    assert done.local_path == tmp_path / "final.pdf"
    assert [str(r.url) for r in seen] == [
        "http://h.example/get/1",
        "http://h.example/store/final.pdf",
    ]


async def test_content_disposition_cannot_climb_out_of_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    _, handler = serve(
        httpx.Response(
            200,
            headers={"Content-Disposition": 'attachment; filename="../../etc/passwd"'},
            content=b"root:x:0:0:root:/root:/bin/bash\n",
        )
    )
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download("http://h.example/get?id=7", folder, max_bytes=100_000)
    assert done.ok, done.error
    assert done.local_path == folder / "passwd"
    assert files_in(tmp_path) == [f"downloads/.sha256/{done.sha256}", "downloads/passwd"]


async def test_identical_bytes_under_two_urls_are_stored_once(tmp_path: Path) -> None:
    _, handler = serve(httpx.Response(200, content=PDF), httpx.Response(200, content=PDF))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        first = await fetcher.download(URL, tmp_path, max_bytes=100_000)
        second = await fetcher.download(
            "http://mirror.example/copy.pdf", tmp_path, max_bytes=100_000
        )
    assert first.local_path == second.local_path == tmp_path / "report.pdf"
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.file_name == "copy.pdf"
    assert files_in(tmp_path) == [f".sha256/{first.sha256}", "report.pdf"]


async def test_a_different_file_with_a_taken_name_gets_a_suffix(tmp_path: Path) -> None:
    other = b"%PDF-1.4\nanother\n%%EOF\n"
    _, handler = serve(httpx.Response(200, content=PDF), httpx.Response(200, content=other))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        first = await fetcher.download(URL, tmp_path, max_bytes=100_000)
        second = await fetcher.download("http://b.example/report.pdf", tmp_path, max_bytes=100_000)
    digest = hashlib.sha256(other).hexdigest()
    assert first.local_path == tmp_path / "report.pdf"
    assert second.local_path == tmp_path / f"report-{digest[:12]}.pdf"
    assert second.local_path.read_bytes() == other
    assert first.local_path.read_bytes() == PDF


async def test_a_stale_index_entry_does_not_point_at_a_removed_file(tmp_path: Path) -> None:
    _, handler = serve(httpx.Response(200, content=PDF), httpx.Response(200, content=PDF))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        first = await fetcher.download(URL, tmp_path, max_bytes=100_000)
        assert first.local_path is not None
        first.local_path.unlink()
        again = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert (again.local_path, again.duplicate) == (tmp_path / "report.pdf", False)
    assert again.local_path.read_bytes() == PDF


# --- resuming -----------------------------------------------------------------------------


def leave_part(folder: Path, url: str, data: bytes, **validators: str | None) -> PartFile:
    part = PartFile.for_url(folder, url)
    part.path.write_bytes(data)
    part.meta.write_text(json.dumps({"url": url, **validators}))
    return part


async def test_an_existing_part_is_resumed_with_range_and_if_range(tmp_path: Path) -> None:
    part = leave_part(tmp_path, URL, PDF[:2000], etag='"v1"', last_modified=None)
    seen, handler = serve(
        httpx.Response(
            206,
            headers={"Content-Range": f"bytes 2000-{len(PDF) - 1}/{len(PDF)}", "ETag": '"v1"'},
            content=PDF[2000:],
        )
    )
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert (seen[0].headers["Range"], seen[0].headers["If-Range"]) == ("bytes=2000-", '"v1"')
    assert done.ok, done.error
    assert (done.resumed_from, done.size) == (2000, len(PDF))
    assert done.sha256 == hashlib.sha256(PDF).hexdigest()
    assert done.local_path is not None
    assert done.local_path.read_bytes() == PDF
    assert not part.path.exists()
    assert not part.meta.exists()


async def test_a_200_to_a_resume_means_the_file_changed_and_starts_over(tmp_path: Path) -> None:
    leave_part(tmp_path, URL, b"%PDF-1.3 old version bytes", etag='"old"', last_modified=None)
    seen, handler = serve(httpx.Response(200, headers={"ETag": '"new"'}, content=PDF))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert seen[0].headers["If-Range"] == '"old"'
    assert done.ok
    assert done.resumed_from == 0
    assert done.local_path is not None
    assert done.local_path.read_bytes() == PDF
    assert done.sha256 == hashlib.sha256(PDF).hexdigest()


async def test_a_part_without_validators_is_thrown_away(tmp_path: Path) -> None:
    part = PartFile.for_url(tmp_path, URL)
    part.path.write_bytes(b"junk from a crash")
    seen, handler = serve(httpx.Response(200, content=PDF))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert "Range" not in seen[0].headers
    assert done.local_path is not None
    assert done.local_path.read_bytes() == PDF


async def test_a_206_at_the_wrong_offset_restarts_from_zero(tmp_path: Path) -> None:
    leave_part(tmp_path, URL, PDF[:2000], etag='"v1"', last_modified=None)
    seen, handler = serve(
        httpx.Response(206, headers={"Content-Range": f"bytes 0-99/{len(PDF)}"}, content=PDF[:100]),
        httpx.Response(200, content=PDF),
    )
    fetcher, _ = make_fetcher(handler, retry_initial=0.0, retry_maximum=0.0)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert seen[0].headers["Range"] == "bytes=2000-"
    assert "Range" not in seen[1].headers
    assert (done.ok, done.attempts, done.resumed_from) == (True, 2, 0)
    assert done.local_path is not None
    assert done.local_path.read_bytes() == PDF


async def test_a_416_to_a_resume_restarts_from_zero(tmp_path: Path) -> None:
    leave_part(tmp_path, URL, PDF + b"extra", etag='"v1"', last_modified=None)
    seen, handler = serve(httpx.Response(416), httpx.Response(200, content=PDF))
    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert seen[0].headers["Range"] == f"bytes={len(PDF) + 5}-"
    assert "Range" not in seen[1].headers
    assert done.local_path is not None
    assert done.local_path.read_bytes() == PDF


async def test_a_body_cut_mid_way_is_resumed_by_the_retry(tmp_path: Path) -> None:
    first = Chunks(PDF, 1000, fail_after=3)
    seen, handler = serve(
        httpx.Response(
            200, headers={"ETag": '"v1"', "Content-Length": str(len(PDF))}, stream=first
        ),
        httpx.Response(
            206,
            headers={"ETag": '"v1"', "Content-Range": f"bytes 3000-{len(PDF) - 1}/{len(PDF)}"},
            content=PDF[3000:],
        ),
    )
    fetcher, fake = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert (seen[1].headers["Range"], seen[1].headers["If-Range"]) == ("bytes=3000-", '"v1"')
    assert (done.ok, done.attempts, done.resumed_from) == (True, 2, 3000)
    assert fake.sleeps == [0.5]
    assert done.sha256 == hashlib.sha256(PDF).hexdigest()
    assert done.local_path is not None
    assert done.local_path.read_bytes() == PDF


async def test_a_download_that_keeps_failing_gives_up_with_the_error(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    fetcher, _ = make_fetcher(handler)
    async with fetcher:
        done = await fetcher.download(URL, tmp_path, max_bytes=100_000)
    assert done.error == "connection error (ConnectError: refused)"
    assert done.attempts == 4
    assert files_in(tmp_path) == []
