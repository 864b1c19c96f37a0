"""``haystack``: the URLs in the haystack folder's bookmark files, stored and followed.

The start action ``scanFolder`` walks the folder (``folder``; empty, the haystack folder
``HAYSTACK_DATA_DIR``; relative, a folder in it; recursively, hidden files and directories
skipped) and queues a ``processFile`` event for every file that is new or whose
size or modification time differs from what was stored when it was last processed; others
are skipped without a write. The file's item is ``file:///abs/path``.

``processFile`` reads the file (up to ``max_file_bytes``) and, in ONE transaction, stores
``FileName``, ``FileSize``, ``FileDate`` (mtime, UTC), ``SHA256``, ``Format`` and
``LinkCount`` on the file's item, an item per http(s) URL in it (``Title``, ``Folder``,
``Tags``, ``Added``, ``Description`` when the file has them) linked ``contains`` from the
file's item, drops the ``contains`` links to URLs the file no longer holds, and queues the
follow-up action (``follow_action``, ``"engine:action"`` as in the ``rss`` engine) for URLs
new to the file. A file whose content hash is unchanged (only touched) just gets its new
size and time.

Formats are those of ``extract.bookmarks``: Netscape bookmark exports, ``.url`` and
``.webloc`` shortcuts, and text files with one URL a line. A file that is unreadable, too
large, not a bookmark file or holds no http(s) URL gets ``Error`` on its item and is not
fatal. An unreadable file keeps no size or time, so the next scan tries it again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.db.schema import URI_MAX
from haystack_collector.engines.base import ActionContext, Engine, item_action, start_action
from haystack_collector.engines.defaults import engine_defaults
from haystack_collector.engines.rss import (
    CONTAINS,
    FOLLOW_ACTION,
    Data,
    contained,
    enqueue_follow_ups,
    resolve_follow_action,
)
from haystack_collector.errors import ConfigError
from haystack_collector.extract.bookmarks import (
    Bookmark,
    detect_bookmark_format,
    extract_bookmark_file,
)
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.paths import ServerPath
from haystack_collector.queue import Task, WorkQueue
from haystack_collector.store import FETCHED, ItemRecord, ItemValue, LinkSpec

__all__ = [
    "PROCESS_ACTION",
    "SCAN_ACTION",
    "FileRead",
    "HaystackFolder",
    "HaystackFolderSettings",
    "queue_changed_files",
    "read_file",
    "store_file",
]

SCAN_ACTION = "scanFolder"
PROCESS_ACTION = "processFile"

FILE_SIZE = "FileSize"
FILE_DATE = "FileDate"
SHA256 = "SHA256"

_WEB = ("http://", "https://")


class HaystackFolderSettings(BaseModel):
    """The folder to scan, what to run on each new URL, and the largest file read."""

    model_config = ConfigDict(extra="forbid")

    folder: ServerPath = ""  # empty: the data folder (HAYSTACK_DATA_DIR); relative: in it
    follow_action: str | None = None
    max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1)


class HaystackFolder(Engine):
    """Store the URLs of the bookmark files, shortcuts and URL lists in a folder."""

    name = "haystack"
    version = "1.0"
    description = "Bookmark exports, shortcuts and URL lists in the haystack folder"
    Settings = HaystackFolderSettings

    @start_action(SCAN_ACTION, description="Queue the folder's new and changed files")
    def scan(self, ctx: ActionContext) -> None:
        assert isinstance(ctx.settings, HaystackFolderSettings)
        given = ctx.settings.folder
        defaults = engine_defaults()
        folder = defaults.folder(given) if given.strip() else defaults.data
        if not folder.is_dir():
            raise ConfigError(f"not a folder: {str(folder)!r}", setting="folder")
        follow = ctx.settings.follow_action
        if follow is not None:
            ctx.db.run_read(resolve_follow_action, spec=follow)  # fail now, not per file
        files = list(_files(folder.resolve()))
        queued = ctx.db.run(
            queue_changed_files,
            queue=ctx.queue,
            engine_id=ctx.engine_id,
            action_id=ctx.action_id(PROCESS_ACTION),
            files=files,
            follow_action=follow,
            max_file_bytes=ctx.settings.max_file_bytes,
        )
        ctx.items_stored += queued
        ctx.events_enqueued += queued
        ctx.log.info("%d of %d file(s) in %s queued", queued, len(files), folder)

    @item_action(PROCESS_ACTION, description="Store the URLs of one file")
    def process(self, ctx: ActionContext, task: Task) -> None:
        limit = ctx.db.run_read(store.get_item_value, item_id=task.item_id, key=_MAX_BYTES)
        read = read_file(task.uri, max_bytes=limit if isinstance(limit, int) else None)
        stored = ctx.db.run(
            store_file, queue=ctx.queue, engine_id=ctx.engine_id, task=task, read=read
        )
        ctx.items_stored += 1 + stored
        if read.error is not None:
            ctx.log.warning("%s: %s", task.uri, read.error)


# The limit a file was queued with (item actions get no settings).
_MAX_BYTES = "MaxFileBytes"


@dataclass(frozen=True, slots=True)
class _Stat:
    uri: str
    size: int
    modified: datetime


def _files(folder: Path) -> Iterator[_Stat]:
    """Regular files under ``folder`` in name order, hidden ones (``.name``) skipped."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(root, name)
            try:
                info = path.stat()
            except OSError:
                continue  # vanished or a dangling link: nothing to read
            if path.is_file():
                yield _Stat(path.as_uri(), info.st_size, _mtime(info.st_mtime))


def _mtime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def queue_changed_files(
    conn: Connection,
    *,
    queue: WorkQueue,
    engine_id: int,
    action_id: int,
    files: Sequence[_Stat],
    follow_action: str | None,
    max_file_bytes: int,
) -> int:
    """Store and (re)queue the files whose size or time differs from the stored ones."""
    changed = [stat for stat in files if not _unchanged(conn, stat)]
    if not changed:
        return 0
    follow: ItemValue | list[ItemValue] = follow_action if follow_action else []
    result = store.store_items(
        conn,
        engine_id=engine_id,
        records=[
            ItemRecord(
                uri=stat.uri,
                data={FOLLOW_ACTION: follow, _MAX_BYTES: max_file_bytes},
            )
            for stat in changed
        ],
    )
    queue.enqueue_within(
        conn,
        engine_id=engine_id,
        action_id=action_id,
        item_ids=[result.item_ids[stat.uri] for stat in changed],
        reopen=True,
    )
    return len(changed)


def _unchanged(conn: Connection, stat: _Stat) -> bool:
    item_id = store.find_item_id(conn, uri=stat.uri)
    if item_id is None:
        return False
    size = store.get_item_value(conn, item_id=item_id, key=FILE_SIZE)
    modified = store.get_item_value(conn, item_id=item_id, key=FILE_DATE)
    return size == stat.size and modified == stat.modified


# --- reading a file (no database) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileRead:
    """One file read and parsed; ``error`` says why nothing was taken from it."""

    name: str
    size: int | None = None
    modified: datetime | None = None
    sha256: str | None = None
    format: str | None = None
    bookmarks: list[Bookmark] = field(default_factory=list)
    error: str | None = None


def read_file(uri: str, *, max_bytes: int | None = None) -> FileRead:
    """Read and parse the file ``uri`` names; never raises for what the file holds."""
    path = Path(url2pathname(urlsplit(uri).path))
    try:
        info = path.stat()
        if max_bytes is not None and info.st_size > max_bytes:
            return FileRead(path.name, error=f"too large: {info.st_size} bytes > {max_bytes}")
        data = path.read_bytes()
    except OSError as error:
        return FileRead(path.name, error=f"cannot read: {error.strerror or error}")
    base = FileRead(path.name, len(data), _mtime(info.st_mtime), hashlib.sha256(data).hexdigest())
    kind = detect_bookmark_format(data, name=path.name)
    if kind is None:
        return replace(base, error="not a bookmark file: binary or unrecognized content")
    try:
        found = _web_bookmarks(extract_bookmark_file(data, name=path.name))
    except DocumentLimitError as error:
        return replace(base, format=kind, error=str(error))
    if not found:
        return replace(base, format=kind, error=f"no http(s) URL found ({kind} file)")
    return replace(base, format=kind, bookmarks=found)


def _web_bookmarks(bookmarks: Sequence[Bookmark]) -> list[Bookmark]:
    """The http(s) bookmarks, the first of each URL kept."""
    found: dict[str, Bookmark] = {}
    for bookmark in bookmarks:
        url = bookmark.url.strip()
        if url.lower().startswith(_WEB) and len(url) <= URI_MAX and url not in found:
            found[url] = bookmark
    return list(found.values())


# --- the transaction ----------------------------------------------------------------------


def store_file(
    conn: Connection, *, queue: WorkQueue, engine_id: int, task: Task, read: FileRead
) -> int:
    """Store one processed file and its URLs; returns how many URLs were stored."""
    file_id = task.item_id
    if read.sha256 is None:  # unreadable: no size or time, so the next scan retries it
        data: Data = {"FileName": read.name, "Error": read.error, FILE_SIZE: [], FILE_DATE: []}
        store.store_items(conn, engine_id=engine_id, records=[ItemRecord(task.uri, data)])
        return 0
    data = {
        "FileName": read.name,
        FILE_SIZE: read.size,
        FILE_DATE: read.modified,
        "ProcessedAt": datetime.now(UTC).replace(microsecond=0),
    }
    stored_hash = store.get_item_value(conn, item_id=file_id, key=SHA256)
    if stored_hash == read.sha256:  # touched, not changed: what was stored still holds
        store.store_items(conn, engine_id=engine_id, records=[ItemRecord(task.uri, data)])
        return 0
    urls = [bookmark.url.strip() for bookmark in read.bookmarks]
    before = contained(conn, item_id=file_id)
    data |= {
        SHA256: read.sha256,
        "Format": read.format or [],
        "LinkCount": len(urls),
        "Error": read.error or [],
    }
    records = [
        ItemRecord(task.uri, data, links=[LinkSpec(url, CONTAINS) for url in urls]),
        *(
            ItemRecord(url, _bookmark_data(bookmark), state=FETCHED)
            for url, bookmark in zip(urls, read.bookmarks, strict=True)
            if url != task.uri
        ),
    ]
    result = store.store_items(conn, engine_id=engine_id, records=records)
    # The file's ``contains`` links to URLs it no longer holds go.
    kept = set(urls)
    store.unlink(
        conn, left_id=file_id, link_type=CONTAINS, uris=[uri for uri in before if uri not in kept]
    )
    new = [result.item_ids[url] for url in urls if url not in before]
    follow = store.get_item_value(conn, item_id=file_id, key=FOLLOW_ACTION)
    enqueue_follow_ups(conn, queue, follow_action=follow, item_ids=new)
    return len(urls)


def _bookmark_data(bookmark: Bookmark) -> Data:
    """Only what the file says: the same URL in another file may say more."""
    data: Data = {}
    if bookmark.title:
        data["Title"] = bookmark.title
    if bookmark.folder:
        data["Folder"] = list(bookmark.folder)
    if bookmark.tags:
        data["Tags"] = list(bookmark.tags)
    if bookmark.added:
        data["Added"] = bookmark.added
    if bookmark.description:
        data["Description"] = bookmark.description
    return data
