"""``fileDownloader``: download the files a page links to, by class, each content stored once.

Item actions take a queued PAGE item, fetch the page, find its links (and, for media, its
images) and download those whose URL extension is in the action's class (``files.FILE_CLASSES``)
and in the allowed ``classes``: ``downloadDocuments``, ``downloadMedia``, ``downloadApplications``,
``downloadArchives`` and ``downloadAll``. A link without a known extension is not downloaded:
nothing but fetching it would tell what it is, and most are pages.

Each file becomes an item (URI = the file's URL) with ``FileName``, ``FileSize``, ``SHA256``,
``ContentType``, ``SniffedType``, ``LocalPath``, ``StatusCode``, ``DownloadedAt`` and ``Error``
(too big, type mismatch, HTTP error...; None when kept), linked from the page by a ``download``
link. A file whose bytes were already stored points at the first file (``LocalPath``) and gets a
``duplicate`` link to the item that stored it first. The page item gets ``FilesFound`` and
``FilesKept``, or ``StatusCode``/``Error`` when the page itself could not be fetched.

Settings, most specific first: the page item's ``DownloadSettings`` (JSON, written by the start
action ``downloadSeed``), then the action's settings. Remote
failures are stored, not retried by the queue (the fetcher already retried); database errors
fail the task and the queue retries it. Files go to ``folder``: empty, the downloads folder
(``HAYSTACK_DOWNLOADS_DIR``); relative, a folder in the data folder. ``downloadVideo`` hands
the page URL to yt-dlp when it is installed and otherwise records that it is not.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.engines.base import ActionContext, item_action, start_action
from haystack_collector.engines.defaults import engine_defaults
from haystack_collector.engines.fetching import FetchingEngine
from haystack_collector.errors import ConfigError
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.page import extract_page
from haystack_collector.fetch import FetchResult
from haystack_collector.fetch.download import FILE_MODE, Download
from haystack_collector.files import INERT_SUFFIX, file_class, file_hashes, is_loaded_name
from haystack_collector.origin import from_api
from haystack_collector.paths import PATH_SCHEMA, PathSetting, confine_path
from haystack_collector.queue import Task
from haystack_collector.store import ItemRecord, LinkSpec
from haystack_collector.store.values import ItemValue
from haystack_collector.urls import canonicalize

__all__ = [
    "ACTION_CLASSES",
    "FileDownloader",
    "FileDownloaderSettings",
    "yt_dlp_command",
]

FileClass = Literal["documents", "media", "applications", "archives"]
ALL_CLASSES: tuple[FileClass, ...] = ("documents", "media", "applications", "archives")
ACTION_CLASSES: dict[str, tuple[FileClass, ...]] = {
    "downloadDocuments": ("documents",),
    "downloadMedia": ("media",),
    "downloadApplications": ("applications",),
    "downloadArchives": ("archives",),
    "downloadAll": ALL_CLASSES,
}
SETTINGS_KEY = "DownloadSettings"
YT_DLP_MISSING = "yt-dlp is not installed: install it to download videos (pip install yt-dlp)"
_HTML_TYPES = ("text/html", "application/xhtml+xml")

Data = dict[str, ItemValue | Sequence[ItemValue]]


class FileDownloaderSettings(BaseModel):
    """Where files go, how big they may be, which classes are allowed; what the seed queues."""

    model_config = ConfigDict(extra="forbid")

    # Empty: the downloads folder (HAYSTACK_DOWNLOADS_DIR), also when unset through the API.
    folder: Annotated[str, PathSetting(default_root="downloads"), PATH_SCHEMA] = ""
    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    classes: list[FileClass] = Field(default_factory=lambda: list(ALL_CLASSES))
    urls: list[str] = Field(default_factory=list)  # pages ``downloadSeed`` queues
    action: str = "downloadAll"  # the action ``downloadSeed`` queues them for

    def stored(self) -> dict[str, Any]:
        """What a page item keeps: the settings the item actions need (the folder absolute)."""
        folder = str(self.target_folder())
        return {"folder": folder, "max_bytes": self.max_bytes, "classes": self.classes}

    def target_folder(self) -> Path:
        """Where files go: ``folder``, else the downloads folder (see engines/defaults.py)."""
        defaults = engine_defaults()
        return defaults.folder(self.folder) if self.folder.strip() else defaults.downloads


@dataclass(slots=True)
class _Outcome:
    """What one page's downloads produced, ready to store."""

    page: Data
    files: list[tuple[str, Data]] = field(default_factory=list)


class FileDownloader(FetchingEngine):
    """Download the documents, media, applications or archives a page links to."""

    name = "fileDownloader"
    version = "1.0"
    description = "Download files linked from pages: documents, media, applications, archives"
    Settings = FileDownloaderSettings

    # A page is read for its links every time: a 304 (no body, no links) would hide its files.
    conditional_get = False

    @start_action("downloadSeed", description="Queue the pages in settings.urls for downloads")
    def seed(self, ctx: ActionContext) -> None:
        assert isinstance(ctx.settings, FileDownloaderSettings)
        settings = ctx.settings
        if settings.action not in ACTION_CLASSES and settings.action != "downloadVideo":
            raise ConfigError(f"no download action {settings.action!r}", setting="action")
        urls = [canonicalize(url) for url in settings.urls]
        bad = [given for given, url in zip(settings.urls, urls, strict=True) if url is None]
        if bad:
            raise ConfigError(f"not URLs: {bad!r}", setting="urls")
        action_id = ctx.action_id(settings.action)
        records = [
            ItemRecord(uri=url, data={SETTINGS_KEY: settings.stored()}, events=[action_id])
            for url in urls
            if url is not None
        ]
        result = ctx.store_items(records)
        ctx.events_enqueued += len(records)
        ctx.log.info("queued %d page(s) for %s", len(result.item_ids), settings.action)

    @item_action("downloadDocuments", description="Download the documents a page links to")
    async def download_documents(self, ctx: ActionContext, task: Task) -> None:
        await self._download_linked(ctx, task)

    @item_action("downloadMedia", description="Download the images, audio and video of a page")
    async def download_media(self, ctx: ActionContext, task: Task) -> None:
        await self._download_linked(ctx, task)

    @item_action("downloadApplications", description="Download the programs a page links to")
    async def download_applications(self, ctx: ActionContext, task: Task) -> None:
        await self._download_linked(ctx, task)

    @item_action("downloadArchives", description="Download the archives a page links to")
    async def download_archives(self, ctx: ActionContext, task: Task) -> None:
        await self._download_linked(ctx, task)

    @item_action("downloadAll", description="Download every file of a known class a page links to")
    async def download_all(self, ctx: ActionContext, task: Task) -> None:
        await self._download_linked(ctx, task)

    @item_action("downloadVideo", description="Download a page's video with yt-dlp")
    async def download_video(self, ctx: ActionContext, task: Task) -> None:
        settings = await asyncio.to_thread(self._settings, ctx, task)
        command = yt_dlp_command()
        if command is None:
            await asyncio.to_thread(_store_page_error, ctx, task.uri, YT_DLP_MISSING)
            await asyncio.to_thread(ctx.status, f"downloadVideo {task.uri}: {YT_DLP_MISSING}")
            return
        outcome = await _run_yt_dlp(command, task.uri, settings)
        await asyncio.to_thread(ctx.db.run, _store_outcome, ctx=ctx, uri=task.uri, found=outcome)

    async def _download_linked(self, ctx: ActionContext, task: Task) -> None:
        settings = await asyncio.to_thread(self._settings, ctx, task)
        allowed = [c for c in ACTION_CLASSES[ctx.action] if c in settings.classes]
        fetcher = ctx.fetcher()
        page = await fetcher.fetch(task.uri)
        try:
            targets = _targets(page, allowed)
            problem = _page_problem(page)
        except DocumentLimitError as error:  # no links read; the reason is on the page's item
            targets, problem = [], {"StatusCode": page.status, "Error": str(error)}
        outcome = _Outcome({"FilesFound": len(targets)} | problem)
        folder = settings.target_folder()
        kept = 0
        for url in targets:
            done = await fetcher.download(url, folder, max_bytes=settings.max_bytes)
            outcome.files.append((url, _file_data(done)))
            kept += done.ok
        outcome.page["FilesKept"] = kept
        await asyncio.to_thread(ctx.db.run, _store_outcome, ctx=ctx, uri=task.uri, found=outcome)
        ctx.items_stored += 1 + len(outcome.files)
        message = f"{ctx.action} {task.uri}: {len(targets)} file link(s), {kept} kept"
        refused = [f"{url}: {data['Error']}" for url, data in outcome.files if data["Error"]]
        if refused:
            message += "; refused: " + "; ".join(refused)
        await asyncio.to_thread(ctx.status, message[:4000])

    def _settings(self, ctx: ActionContext, task: Task) -> FileDownloaderSettings:
        raw = ctx.db.run_read(store.get_item_value, item_id=task.item_id, key=SETTINGS_KEY)
        if isinstance(raw, dict):
            try:
                stored = FileDownloaderSettings.model_validate(raw)
            except ValidationError as error:
                raise ConfigError(f"bad {SETTINGS_KEY} on item {task.item_id}: {error}") from error
            if from_api():
                # The item's folder is data anyone with a token can edit (the admin API):
                # API work writes only inside the folders the API may use.
                roots = engine_defaults().api_roots()
                folder = confine_path(str(stored.target_folder()), roots, setting="folder")
                return stored.model_copy(update={"folder": str(folder)})
            return stored
        assert isinstance(ctx.settings, FileDownloaderSettings)
        return ctx.settings


def yt_dlp_command() -> list[str] | None:
    """How to run yt-dlp here (its program, or its module), or None when it is not installed."""
    program = shutil.which("yt-dlp")
    if program is not None:
        return [program]
    if importlib.util.find_spec("yt_dlp") is not None:
        return [sys.executable, "-m", "yt_dlp"]
    return None


def _targets(page: FetchResult, classes: Sequence[str]) -> list[str]:
    """Distinct file URLs of the allowed classes, in document order (images count as links)."""
    if not page.ok or not page.body or not _is_html(page.content_type):
        return []
    parsed = extract_page(page.text or page.body, base_url=page.url, encoding=page.encoding)
    urls = [link.url for link in parsed.links] + [image.src for image in parsed.images]
    return [url for url in dict.fromkeys(urls) if file_class(url, classes) is not None]


def _is_html(content_type: str | None) -> bool:
    return content_type is None or content_type.split(";")[0].strip().lower() in _HTML_TYPES


def _page_problem(page: FetchResult) -> Data:
    if page.ok and _is_html(page.content_type):
        return {"StatusCode": page.status, "Error": None}
    error = page.error or (
        f"HTTP {page.status}" if not page.ok else f"not an HTML page ({page.content_type})"
    )
    return {"StatusCode": page.status, "Error": error}


def _file_data(done: Download) -> Data:
    return {
        "FileName": done.file_name,
        "FileSize": done.size if done.status is not None else None,
        "SHA256": done.sha256,
        "ContentType": done.content_type,
        "SniffedType": done.sniffed,
        "LocalPath": None if done.local_path is None else str(done.local_path.resolve()),
        "StatusCode": done.status,
        "DownloadedAt": datetime.now(UTC).replace(microsecond=0),
        "Error": done.error,
    }


def _made_inert(path: Path) -> Path:
    """yt-dlp's file as data: no execute bits, and a name nothing loads on its own."""
    path.chmod(FILE_MODE)
    if not is_loaded_name(path.name):
        return path
    inert = path.with_name(path.name + INERT_SUFFIX)
    path.replace(inert)
    return inert


def _store_outcome(conn: Connection, *, ctx: ActionContext, uri: str, found: _Outcome) -> None:
    """The page, its files and their links, as one transaction."""
    records = [
        ItemRecord(
            uri=uri, data=found.page, links=[LinkSpec(f, "download") for f, _ in found.files]
        )
    ]
    holders: dict[str, str] = {}  # LocalPath -> the first URL of this page that stored it
    for url, data in found.files:
        path = data.get("LocalPath")
        first = None
        if isinstance(path, str):
            first = _first_holder(conn, path, url) or holders.get(path)
            holders.setdefault(path, url)
        links = [LinkSpec(first, "duplicate")] if first is not None and first != url else []
        records.append(ItemRecord(uri=url, data=data, links=links))
    store.store_items(conn, engine_id=ctx.engine_id, records=records)


def _first_holder(conn: Connection, local_path: str, url: str) -> str | None:
    """The URI of the first other stored item whose file is ``local_path`` (same content)."""
    for item_id, _ in store.find_items_by_data(conn, key="LocalPath", value=local_path):
        item = store.get_item(conn, item_id=item_id)
        if item is not None and item.uri != url:
            return item.uri
    return None


def _store_page_error(ctx: ActionContext, uri: str, error: str) -> None:
    ctx.store_items([ItemRecord(uri=uri, data={"Error": error})])


async def _run_yt_dlp(command: list[str], url: str, settings: FileDownloaderSettings) -> _Outcome:
    """Run yt-dlp on ``url`` into the folder; the file it printed becomes the page's file."""
    folder = settings.target_folder()
    folder.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        *command,
        "--no-playlist",
        "--max-filesize",
        str(settings.max_bytes),
        "--restrict-filenames",
        "-o",
        str(folder / "%(title).100B-%(id)s.%(ext)s"),
        "--print",
        "after_move:filepath",
        "--",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        problem = err.decode(errors="replace").strip()[-500:] or f"exit {process.returncode}"
        return _Outcome({"Error": f"yt-dlp failed: {problem}"})
    path = await asyncio.to_thread(_made_inert, Path(lines[-1]).resolve())
    _, sha256 = await asyncio.to_thread(file_hashes, path)
    data: Data = {
        "FileName": path.name,
        "FileSize": path.stat().st_size,
        "SHA256": sha256,
        "ContentType": None,
        "SniffedType": None,
        "LocalPath": str(path),
        "StatusCode": None,
        "DownloadedAt": datetime.now(UTC).replace(microsecond=0),
        "Error": None,
    }
    return _Outcome({"Error": None}, [(path.as_uri(), data)])
