"""``fileDownloader`` through the Worker against a real HTTP server, on every backend."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import stat
import struct
import threading
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines import run_start_actions
from haystack_collector.engines.fetchers import Fetchers
from haystack_collector.engines.file_downloader import (
    YT_DLP_MISSING,
    FileDownloader,
    yt_dlp_command,
)
from haystack_collector.fetch import Fetcher, FetchSettings
from haystack_collector.fetch.download import PartFile
from haystack_collector.queue import SqlQueue
from haystack_collector.worker import Worker
from tests.http_server import serve_http
from tests.integration.crawl.helpers import link_edges, stored_data

FAST = FetchSettings(min_delay=0.0, jitter=0.0, retry_initial=0.01, retry_maximum=0.02)
# What the engine fetches with: the runtime's fetchers, as a worker hands them down.
FETCHERS = Fetchers(FAST)
MAX_BYTES = 50_000


def tiny_pdf() -> bytes:
    """A small valid PDF: one empty page, with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def tiny_png() -> bytes:
    """A valid 1x1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "inside the archive\n")
    return buffer.getvalue()


PDF = tiny_pdf()
PNG = tiny_png()
ZIP = tiny_zip()
TXT = b"Plain notes.\nSecond line.\n"
PASSWD = b"root:x:0:0:root:/root:/bin/bash\n"
REPORT = tiny_pdf().replace(b"72 72", b"99 99")  # another valid PDF, served under two URLs
RESUMABLE = b"%PDF-1.4\n" + bytes(range(256)) * 80 + b"\n%%EOF\n"
LIE = b"<!DOCTYPE html><html><head><title>Please log in</title></head></html>"
HUGE_CHUNKS, HUGE_CHUNK = 800, 64 * 1024  # 50 MiB if nobody stopped reading

LINKS = {
    "/docs/tiny.pdf": "tiny.pdf",
    "/docs/notes.txt": "notes.txt",
    "/archives/bundle.zip": "bundle.zip",
    "/img/pixel.png": "pixel.png",
    "/files/..%2F..%2Fetc%2Fpasswd.txt": "passwd.txt",
    "/get/export.txt": "passwd",  # Content-Disposition: filename="../../etc/passwd"
    "/big/huge.zip": "huge.zip",
    "/docs/fake.pdf": "fake.pdf",
    "/mirror/a/report.pdf": "report.pdf",
    "/mirror/b/copy.pdf": "copy.pdf",
    "/docs/missing.pdf": "missing.pdf",
    "/docs/resume.pdf": "resume.pdf",
}


@dataclass
class FileSite:
    """The files, a request log, the Range headers seen and how much of the huge body went."""

    requests: Counter[str] = field(default_factory=Counter)
    ranges: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    huge_sent: int = 0
    cut_resume: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self) -> bytes:
        anchors = "".join(f'<a href="{href}">{name}</a>\n' for href, name in LINKS.items())
        extra = '<a href="/about.html">about</a><a href="/next">next</a><img src="/img/pixel.png">'
        return (
            f"<html><head><title>Files</title></head><body>{anchors}{extra}</body></html>".encode()
        )


class _Handler(BaseHTTPRequestHandler):
    site: FileSite

    def do_GET(self) -> None:
        site = self.site
        with site.lock:
            site.requests[self.path] += 1
            if "Range" in self.headers:
                site.ranges.append((self.path, self.headers["Range"], self.headers["If-Range"]))
        simple = {
            "/page": ("text/html; charset=utf-8", site.page()),
            "/docs/tiny.pdf": ("application/pdf", PDF),
            "/docs/notes.txt": ("text/plain; charset=utf-8", TXT),
            "/archives/bundle.zip": ("application/zip", ZIP),
            "/img/pixel.png": ("image/png", PNG),
            "/files/..%2F..%2Fetc%2Fpasswd.txt": ("text/plain", PASSWD),
            "/files/..%2F..%2Fetc%2Fpasswd": ("text/plain", PASSWD),
            "/docs/fake.pdf": ("application/pdf", LIE),
            "/mirror/a/report.pdf": ("application/pdf", REPORT),
            "/mirror/b/copy.pdf": ("application/pdf", REPORT),
        }
        if self.path == "/page":
            if self.headers["If-None-Match"] == '"page-v1"':
                self.send_response(304)
                self.end_headers()
                return
            self.send_body(200, *simple[self.path], {"ETag": '"page-v1"'})
        elif self.path in simple:
            self.send_body(200, *simple[self.path])
        elif self.path == "/get/export.txt":
            self.send_body(
                200,
                "text/plain",
                PASSWD,
                {"Content-Disposition": 'attachment; filename="../../etc/passwd"'},
            )
        elif self.path == "/big/huge.zip":
            self.send_huge()
        elif self.path == "/docs/resume.pdf":
            self.send_resumable()
        else:
            self.send_body(404, "text/html", b"<title>Not found</title>")

    def send_body(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_huge(self) -> None:
        # No Content-Length: only counting while streaming can stop it.
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.end_headers()
        chunk = b"PK\x03\x04" + b"\x00" * (HUGE_CHUNK - 4)
        try:
            for _ in range(HUGE_CHUNKS):
                self.wfile.write(chunk)
                with self.site.lock:
                    self.site.huge_sent += len(chunk)
        except OSError:
            return  # the client hung up: that is the point

    def send_resumable(self) -> None:
        etag = '"resume-v1"'
        wanted = self.headers["Range"]
        if wanted and self.headers["If-Range"] in (None, etag):
            start = int(wanted.removeprefix("bytes=").removesuffix("-"))
            self.send_response(206)
            self.send_header(
                "Content-Range", f"bytes {start}-{len(RESUMABLE) - 1}/{len(RESUMABLE)}"
            )
            self.send_header("Content-Length", str(len(RESUMABLE) - start))
            self.send_header("ETag", etag)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            self.wfile.write(RESUMABLE[start:])
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(RESUMABLE)))
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/pdf")
        self.end_headers()
        if self.site.cut_resume:
            self.site.cut_resume = False
            self.wfile.write(RESUMABLE[: len(RESUMABLE) // 2])
            self.wfile.flush()
            self.close_connection = True  # mid-body: the client sees the connection drop
            return
        self.wfile.write(RESUMABLE)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def site() -> FileSite:
    return FileSite()


@pytest.fixture
def base(site: FileSite) -> Iterator[str]:
    with serve_http(_Handler, site=site) as url:
        yield url


def download(
    db: Database, base: str, folder: Path | None, action: str = "downloadAll", **extra: Any
) -> None:
    """Seed the page for ``action`` and drain the queue with a real Worker (no ``folder``:
    the engine's default)."""
    settings = {"urls": [base + "/page"], "action": action, **extra}
    if folder is not None:
        settings["folder"] = str(folder)
    settings.setdefault("max_bytes", MAX_BYTES)
    [seeded] = run_start_actions(FileDownloader, db, settings, fetchers=FETCHERS)
    assert seeded.ok, seeded.error
    worker = Worker(
        db,
        SqlQueue(db),
        [FileDownloader],
        concurrency=2,
        drain=True,
        idle_sleep=0.05,
        finish_flush=0.05,
        fetchers=FETCHERS,
    )
    asyncio.run(asyncio.wait_for(worker.run(), 60))


def files_on_disk(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and ".sha256" not in p.parts
    }


def kept(
    folder: Path, name: str, body: bytes, content_type: str, sniffed: str
) -> dict[str, list[Any]]:
    return {
        "FileName": [name],
        "FileSize": [len(body)],
        "SHA256": [hashlib.sha256(body).hexdigest()],
        "ContentType": [content_type],
        "SniffedType": [sniffed],
        "LocalPath": [str((folder / name).resolve())],
        "StatusCode": [200],
        "Error": [None],
    }


def without_dates(data: dict[str, list[Any]]) -> dict[str, list[Any]]:
    assert data.pop("DownloadedAt")[0] is not None
    return data


def test_download_all_keeps_good_files_once_and_records_every_refusal(
    db: Database, site: FileSite, base: str, tmp_path: Path
) -> None:
    folder = tmp_path / "downloads"
    download(db, base, folder)
    data = stored_data(db)
    f = {path: without_dates(data[base + path]) for path in LINKS}

    assert f["/docs/tiny.pdf"] == kept(folder, "tiny.pdf", PDF, "application/pdf", "pdf")
    assert f["/docs/notes.txt"] == kept(
        folder, "notes.txt", TXT, "text/plain; charset=utf-8", "text"
    )
    assert f["/archives/bundle.zip"] == kept(folder, "bundle.zip", ZIP, "application/zip", "zip")
    assert f["/img/pixel.png"] == kept(folder, "pixel.png", PNG, "image/png", "png")
    # Path traversal by URL path and by Content-Disposition: both land inside the folder.
    assert f["/files/..%2F..%2Fetc%2Fpasswd.txt"] == kept(
        folder, "passwd.txt", PASSWD, "text/plain", "text"
    )
    assert f["/get/export.txt"] == kept(folder, "passwd", PASSWD, "text/plain", "text") | {
        "LocalPath": [str((folder / "passwd.txt").resolve())]  # same bytes: stored once
    }
    assert not (tmp_path / "etc").exists()
    assert not (folder.parent.parent / "etc" / "passwd").exists()

    huge = f["/big/huge.zip"]
    assert huge["Error"] == [f"too big: over max_bytes ({MAX_BYTES})"]
    assert (huge["LocalPath"], huge["SHA256"], huge["StatusCode"]) == ([None], [None], [200])
    assert site.huge_sent < HUGE_CHUNKS * HUGE_CHUNK  # the client stopped reading

    lie = f["/docs/fake.pdf"]
    assert lie["Error"] == [
        "type mismatch: extension says pdf but the content is html;"
        " Content-Type says pdf but the content is html"
    ]
    assert (lie["SniffedType"], lie["LocalPath"]) == (["html"], [None])

    first, second = f["/mirror/a/report.pdf"], f["/mirror/b/copy.pdf"]
    assert first == kept(folder, "report.pdf", REPORT, "application/pdf", "pdf")
    assert second == kept(folder, "copy.pdf", REPORT, "application/pdf", "pdf") | {
        "LocalPath": first["LocalPath"]
    }

    missing = f["/docs/missing.pdf"]
    assert (missing["StatusCode"], missing["Error"], missing["LocalPath"]) == (
        [404],
        ["HTTP 404"],
        [None],
    )

    resumed = f["/docs/resume.pdf"]
    # The second attempt resumed the part: its answer was a 206 for the second half.
    assert resumed == kept(folder, "resume.pdf", RESUMABLE, "application/pdf", "pdf") | {
        "StatusCode": [206]
    }
    assert site.ranges == [("/docs/resume.pdf", f"bytes={len(RESUMABLE) // 2}-", '"resume-v1"')]
    assert site.requests["/docs/resume.pdf"] == 2

    # Exactly the kept files are on disk, each content once, no part files left behind.
    assert files_on_disk(folder) == {
        "tiny.pdf": PDF,
        "notes.txt": TXT,
        "bundle.zip": ZIP,
        "pixel.png": PNG,
        "passwd.txt": PASSWD,
        "report.pdf": REPORT,
        "resume.pdf": RESUMABLE,
    }

    page = data[base + "/page"]
    assert (page["FilesFound"], page["FilesKept"]) == ([len(LINKS)], [9])
    edges = link_edges(db)
    assert {right for left, right in edges if left == base + "/page"} == {base + p for p in LINKS}
    assert (base + "/mirror/b/copy.pdf", base + "/mirror/a/report.pdf") in edges
    assert (base + "/get/export.txt", base + "/files/..%2F..%2Fetc%2Fpasswd.txt") in edges
    assert site.requests["/about.html"] == site.requests["/next"] == 0  # not files: not fetched

    registered = FileDownloader.register(db)
    with db.read() as conn:
        assert store.event_counts(conn, engine_id=registered.engine_id)["done"] == 1
    statuses = [
        row.message for row in db.run_read(store.recent_status, engine_id=registered.engine_id)
    ]
    [summary] = [m for m in statuses if m.startswith("downloadAll ")]
    assert summary.startswith(
        f"downloadAll {base}/page: {len(LINKS)} file link(s), 9 kept; refused: "
    )
    assert f"{base}/docs/missing.pdf: HTTP 404" in summary


def test_a_class_action_downloads_only_its_class(
    db: Database, site: FileSite, base: str, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    download(db, base, folder, action="downloadDocuments")
    assert sorted(files_on_disk(folder)) == [
        "notes.txt",
        "passwd.txt",
        "report.pdf",
        "resume.pdf",
        "tiny.pdf",
    ]
    for path in ("/archives/bundle.zip", "/img/pixel.png", "/big/huge.zip"):
        assert site.requests[path] == 0, path
    assert stored_data(db)[base + "/page"]["FilesFound"] == [9]


def test_files_go_to_the_downloads_folder_and_a_relative_folder_is_in_the_data_folder(
    db: Database, base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HAYSTACK_DOWNLOADS_DIR is the default folder; HAYSTACK_DATA_DIR is where others start."""
    monkeypatch.setenv("HAYSTACK_DOWNLOADS_DIR", str(tmp_path / "dl"))
    monkeypatch.setenv("HAYSTACK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)

    download(db, base, None, action="downloadArchives")
    assert sorted(files_on_disk(tmp_path / "dl")) == ["bundle.zip"]

    download(db, base, Path("media"), action="downloadMedia")
    assert sorted(files_on_disk(tmp_path / "data" / "media")) == ["pixel.png"]
    assert not (tmp_path / "media").exists()


def test_allowed_classes_narrow_download_all(
    db: Database, site: FileSite, base: str, tmp_path: Path
) -> None:
    folder = tmp_path / "media"
    download(db, base, folder, classes=["media"])
    assert files_on_disk(folder) == {"pixel.png": PNG}
    assert site.requests["/img/pixel.png"] == 1  # linked and embedded: fetched once


def test_a_page_that_cannot_be_fetched_is_recorded(db: Database, base: str, tmp_path: Path) -> None:
    folder = tmp_path / "none"
    settings = {"urls": [base + "/nowhere"], "action": "downloadAll", "folder": str(folder)}
    [seeded] = run_start_actions(FileDownloader, db, settings, fetchers=FETCHERS)
    assert seeded.ok
    worker = Worker(
        db,
        SqlQueue(db),
        [FileDownloader],
        drain=True,
        idle_sleep=0.05,
        finish_flush=0.05,
        fetchers=FETCHERS,
    )
    asyncio.run(asyncio.wait_for(worker.run(), 30))
    page = stored_data(db)[base + "/nowhere"]
    assert (page["StatusCode"], page["Error"], page["FilesFound"]) == ([404], ["HTTP 404"], [0])
    assert not folder.exists() or files_on_disk(folder) == {}


def test_download_video_says_yt_dlp_is_not_installed(
    db: Database, base: str, tmp_path: Path
) -> None:
    assert yt_dlp_command() is None  # this environment has no yt-dlp, by design
    download(db, base, tmp_path / "video", action="downloadVideo")
    assert stored_data(db)[base + "/page"]["Error"] == [YT_DLP_MISSING]
    registered = FileDownloader.register(db)
    statuses = [
        row.message for row in db.run_read(store.recent_status, engine_id=registered.engine_id)
    ]
    assert f"downloadVideo {base}/page: {YT_DLP_MISSING}" in statuses


def test_bad_seed_settings_fail_clearly(db: Database) -> None:
    [result] = run_start_actions(
        FileDownloader, db, {"urls": ["http://x.test/"], "action": "nope"}, fetchers=FETCHERS
    )
    assert not result.ok
    assert result.error == "ConfigError: no download action 'nope'"
    [result] = run_start_actions(FileDownloader, db, {"max_bytes": 0}, fetchers=FETCHERS)
    assert not result.ok
    assert "max_bytes" in (result.error or "")


async def test_an_encoded_traversal_in_the_url_path_stays_in_the_folder(
    base: str, tmp_path: Path
) -> None:
    folder = tmp_path / "a" / "b"
    async with Fetcher(FAST) as fetcher:
        done = await fetcher.download(
            base + "/files/..%2F..%2Fetc%2Fpasswd", folder, max_bytes=MAX_BYTES
        )
    assert done.ok, done.error
    assert done.local_path == folder / "passwd"
    assert files_on_disk(tmp_path) == {"a/b/passwd": PASSWD}


def test_two_actions_on_one_page_in_one_worker_both_read_its_links(
    db: Database, site: FileSite, base: str, tmp_path: Path
) -> None:
    folder = tmp_path / "both"
    settings = {"urls": [base + "/page"], "action": "downloadDocuments", "folder": str(folder)}
    [seeded] = run_start_actions(
        FileDownloader, db, settings | {"max_bytes": MAX_BYTES}, fetchers=FETCHERS
    )
    assert seeded.ok
    registered = FileDownloader.register(db)
    page_id = db.run_read(store.find_item_id, uri=base + "/page")
    assert page_id is not None
    media = store.EventSpec(registered.engine_id, registered.action_ids["downloadMedia"], page_id)
    db.run(store.enqueue_events, events=[media])
    worker = Worker(
        db,
        SqlQueue(db),
        [FileDownloader],
        concurrency=1,
        drain=True,
        idle_sleep=0.05,
        finish_flush=0.05,
        fetchers=FETCHERS,
    )
    asyncio.run(asyncio.wait_for(worker.run(), 60))
    # The page carries an ETag, yet the second action fetched it whole: a 304 has no links.
    assert site.requests["/page"] == 2
    assert set(files_on_disk(folder)) == {
        "tiny.pdf",
        "notes.txt",
        "passwd.txt",
        "report.pdf",
        "resume.pdf",
        "pixel.png",
    }
    with db.read() as conn:
        assert store.event_counts(conn, engine_id=registered.engine_id)["done"] == 2


LOADED_NAMES = {
    "/dl/one.txt": "zz_evil.pth",
    "/dl/two.txt": "sitecustomize.py",
    "/dl/three.txt": ".bashrc",
    "/dl/four.txt": "libcrypto.so.3",
    "/dl/five.txt": "notes.txt",
}


class _LoadedNames(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/page":
            anchors = "".join(f'<a href="{href}">x</a>' for href in LOADED_NAMES)
            body, headers = f"<html><body>{anchors}</body></html>".encode(), {}
            content_type = "text/html"
        elif self.path in LOADED_NAMES:
            body, content_type = (
                f"import os; os.system('id')  # {self.path}\n".encode(),
                "text/plain",
            )
            headers = {"Content-Disposition": f'attachment; filename="{LOADED_NAMES[self.path]}"'}
        else:
            body, content_type, headers = b"", "text/plain", {}
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_names_loaded_on_their_own_are_made_inert_and_files_are_not_executable(
    db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "downloads"
    previous = os.umask(0)  # the mode must not depend on the umask
    try:
        with serve_http(_LoadedNames) as url:
            download(db, url, folder)
    finally:
        os.umask(previous)

    names = set(files_on_disk(folder))
    assert names == {
        "zz_evil.pth.download",
        "sitecustomize.py.download",
        "bashrc.download",
        "libcrypto.so.3.download",
        "notes.txt",
    }
    for name in names:
        mode = stat.S_IMODE((folder / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))
    stored = {data["FileName"][0] for data in stored_data(db).values() if "FileName" in data}
    assert "zz_evil.pth.download" in stored
    assert not any(name.endswith((".pth", ".py", ".so.3")) for name in stored)


def test_a_symlink_planted_as_the_part_file_is_never_written_through(
    db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me\n")
    with serve_http(_LoadedNames) as url:
        part = PartFile.for_url(folder, url + "/dl/five.txt")
        part.path.symlink_to(victim)
        part.meta.write_text(json.dumps({"url": part.url, "etag": '"x"'}), encoding="utf-8")
        download(db, url, folder)

    assert victim.read_bytes() == b"keep me\n"
    assert (folder / "notes.txt").read_bytes().endswith(b"/dl/five.txt\n")
    assert not part.path.is_symlink()
