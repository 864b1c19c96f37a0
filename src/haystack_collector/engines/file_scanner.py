"""``fileScanner``: inventory folders as items, re-hashing only what changed since the last scan.

The start action ``scan`` walks each of ``folders`` (none: the haystack folder,
``HAYSTACK_DATA_DIR``; a relative one is a folder in it) and stores one item per regular file (URI
``file:///abs/path``) with ``FileName``, ``FileExt``, ``FileDate`` (mtime, UTC), ``FileSize``,
``MD5``, ``SHA256``, ``FileState`` and ``Error`` (None unless the file could not be read).
``FileMtimeNs`` keeps the exact mtime the next scan compares against.

A rescan compares size and mtime with what the previous scan stored: an unchanged file is not
read again (only ``FileState`` = ``unchanged`` is written); a new or changed one is hashed
(``new``/``changed``); a file stored before but not found now becomes ``deleted`` with
``Gone`` true (its item's state is then ``gone``), its other data kept. A file that failed to
read is hashed again next time. Each folder ends with a Status row of counts.

``rescanFile`` (item action) is one file's re-visit, queued by a re-visit policy (see
revisits.py): the file is looked at again like a scan would (size and mtime; re-hashed only
when they changed), and the visit recorded as unchanged, changed (new size, mtime or hash) or
gone (the file no longer exists: ``FileState`` deleted, ``Gone`` true). A file that cannot be
looked at for another reason (permissions, an unmounted disk) fails the event, retried later.

``exclude`` holds glob patterns matched against each entry's name and its path relative to the
folder (``*.tmp``, ``node_modules``, ``build/*``); an excluded directory is not entered.
Symlinks are skipped unless ``follow_symlinks``; when followed, a directory already walked
(same device and inode) is never entered twice, so a symlink loop ends. An unreadable file is
recorded with ``Error``; an unreadable directory is counted and logged. Neither stops the scan.
"""

from __future__ import annotations

import fnmatch
import os
import stat as stat_mode
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pydantic import BaseModel, ConfigDict, Field

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines.base import ActionContext, Engine, item_action, start_action
from haystack_collector.engines.defaults import engine_defaults
from haystack_collector.engines.revisiting import RevisitFailed, RevisitSpec, finish_revisit
from haystack_collector.errors import ConfigError
from haystack_collector.files import extension_of, file_hashes
from haystack_collector.paths import EscapesRoots, ServerPath
from haystack_collector.queue import Task
from haystack_collector.store import ItemRecord
from haystack_collector.store.values import ItemValue

__all__ = ["FileScanner", "FileScannerSettings", "ScanCounts", "Seen", "walk"]

NEW, CHANGED, UNCHANGED, DELETED = "new", "changed", "unchanged", "deleted"
_STATE_KEYS = ("FileSize", "FileMtimeNs", "FileState", "Error")
_BATCH = 500
RESCAN_ACTION = "rescanFile"

Data = dict[str, ItemValue | Sequence[ItemValue]]


class FileScannerSettings(BaseModel):
    """The folders to scan and how."""

    model_config = ConfigDict(extra="forbid")

    folders: list[ServerPath] = Field(default_factory=list)  # none: the data folder
    exclude: list[str] = Field(default_factory=list)
    # Links may lead anywhere: through the API this stays off (see paths.py).
    follow_symlinks: Annotated[bool, EscapesRoots()] = False


@dataclass(frozen=True, slots=True)
class Seen:
    """A regular file the walk found, with what a rescan compares."""

    path: Path
    size: int
    mtime_ns: int


@dataclass(slots=True)
class ScanCounts:
    """What one folder's scan found."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    errors: int = 0
    symlinks_skipped: int = 0
    unreadable_dirs: list[str] = field(default_factory=list)

    def line(self, folder: Path) -> str:
        text = (
            f"scan {folder}: new {self.new}, changed {self.changed}, unchanged {self.unchanged},"
            f" deleted {self.deleted}, unreadable files {self.errors},"
            f" symlinks skipped {self.symlinks_skipped}"
        )
        if self.unreadable_dirs:
            text += f"; unreadable folders: {', '.join(self.unreadable_dirs[:20])}"
        return text


class FileScanner(Engine):
    """Record the files of local folders with their hashes; rescans find what changed."""

    name = "fileScanner"
    version = "1.0"
    description = "Inventory local folders: names, sizes, dates, MD5 and SHA-256"
    Settings = FileScannerSettings
    revisit = RevisitSpec(RESCAN_ACTION, marker="FileMtimeNs")

    @start_action("scan", description="Walk the folders and record new, changed and deleted files")
    def scan(self, ctx: ActionContext) -> None:
        assert isinstance(ctx.settings, FileScannerSettings)
        settings = ctx.settings
        roots = _roots(settings.folders)
        for root in roots:
            counts = ScanCounts()
            previous = previous_state(ctx.db, engine_id=ctx.engine_id, root=root)
            batch: list[ItemRecord] = []
            for seen in walk(root, settings.exclude, settings.follow_symlinks, counts):
                uri = seen.path.as_uri()
                batch.append(_record(uri, seen, previous.pop(uri, None), counts))
                if len(batch) >= _BATCH:
                    ctx.store_items(batch)
                    batch = []
            for uri, state in previous.items():
                if state.get("FileState") != DELETED:
                    counts.deleted += 1
                    # Gone: the outcome that makes the item's state gone (store.item_state).
                    batch.append(ItemRecord(uri=uri, data={"FileState": DELETED, "Gone": True}))
            if batch:
                ctx.store_items(batch)
            ctx.status(counts.line(root))
            ctx.log.info(counts.line(root))

    @item_action(RESCAN_ACTION, description="Rescan one file: unchanged, changed or gone")
    def rescan_file(self, ctx: ActionContext, task: Task) -> None:
        path = _file_path(task.uri)
        rows = ctx.db.run_read(store.get_item_data_all, item_id=task.item_id)
        before: dict[str, ItemValue] = {}
        for row in rows:
            before.setdefault(row.key, row.value)
        try:
            info = path.stat()
        except FileNotFoundError:
            info = None
        except OSError as error:  # not an answer about the file: retried later, data kept
            raise RevisitFailed(f"cannot look at {path}: {error.strerror or error}") from None
        records: list[ItemRecord] = []
        if info is None or not stat_mode.S_ISREG(info.st_mode):
            records = [ItemRecord(uri=task.uri, data={"FileState": DELETED, "Gone": True})]
        else:
            seen = Seen(path, info.st_size, info.st_mtime_ns)
            record = _record(task.uri, seen, before, ScanCounts())
            if record.data.get("FileState") != UNCHANGED:  # an unchanged file: nothing to write
                records = [record]
        outcome = finish_revisit(ctx, task, records, status=None)
        ctx.log.debug("rescan of %s: %s", path, outcome)


def _file_path(uri: str) -> Path:
    """The local path of a ``file:`` item URI."""
    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ConfigError(f"not a local file URI: {uri!r}")
    return Path(url2pathname(parts.path))


def _roots(folders: Sequence[str]) -> list[Path]:
    """The folders as absolute paths; ConfigError before any work when one is unusable."""
    defaults = engine_defaults()
    roots = [defaults.folder(folder) for folder in folders] or [defaults.data]
    missing = [str(root) for root in roots if not root.is_dir()]
    if missing:
        raise ConfigError(f"not folders: {', '.join(missing)}", setting="folders")
    return roots


def walk(
    root: Path, exclude: Sequence[str], follow_symlinks: bool, counts: ScanCounts
) -> Iterator[Seen]:
    """Every regular file under ``root`` the settings allow, depth first, sorted by name."""
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in visited:
                continue  # a symlink led back to a folder already walked
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            counts.unreadable_dirs.append(f"{folder} ({error.strerror})")
            continue
        subfolders: list[Path] = []
        for entry in entries:
            relative = Path(entry.path).relative_to(root).as_posix()
            if _excluded(entry.name, relative, exclude):
                continue
            try:
                if entry.is_symlink() and not follow_symlinks:
                    counts.symlinks_skipped += 1
                    continue
                if entry.is_dir(follow_symlinks=follow_symlinks):
                    subfolders.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=follow_symlinks):
                    stat = entry.stat(follow_symlinks=follow_symlinks)
                    yield Seen(Path(entry.path), stat.st_size, stat.st_mtime_ns)
            except OSError:  # vanished mid-scan, or a dangling link being followed
                continue
        stack.extend(reversed(subfolders))


def _excluded(name: str, relative: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)


def _record(
    uri: str, seen: Seen, before: dict[str, ItemValue] | None, counts: ScanCounts
) -> ItemRecord:
    """The item for one file: a state change only when unchanged, else everything re-read."""
    if (
        before is not None
        and before.get("FileState") != DELETED
        and before.get("Error") is None
        and before.get("FileSize") == seen.size
        and before.get("FileMtimeNs") == seen.mtime_ns
    ):
        counts.unchanged += 1
        return ItemRecord(uri=uri, data={"FileState": UNCHANGED})
    state = NEW if before is None or before.get("FileState") == DELETED else CHANGED
    data: Data = {
        "FileName": seen.path.name,
        "FileExt": extension_of(seen.path.name) or None,
        "FileDate": datetime.fromtimestamp(seen.mtime_ns / 1e9, UTC),
        "FileSize": seen.size,
        "FileMtimeNs": seen.mtime_ns,
        "FileState": state,
        "MD5": None,
        "SHA256": None,
        "Error": None,
    }
    try:
        data["MD5"], data["SHA256"] = file_hashes(seen.path)
    except OSError as error:
        counts.errors += 1
        data["Error"] = f"cannot read: {error.strerror or error}"
    if before is not None and before.get("FileState") == DELETED:
        data["Gone"] = []  # back again: no longer gone
    if state == NEW:
        counts.new += 1
    else:
        counts.changed += 1
    return ItemRecord(uri=uri, data=data)


def previous_state(db: Database, *, engine_id: int, root: Path) -> dict[str, dict[str, Any]]:
    """What the last scans stored under ``root``: the state keys of each file item by URI."""
    prefix = root.as_uri().rstrip("/") + "/"
    return db.run_read(store.values_under, engine_id=engine_id, prefix=prefix, keys=_STATE_KEYS)
