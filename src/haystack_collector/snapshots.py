"""Page snapshots: a browser fetch's rendered HTML, full-page screenshot and PDF, kept as files.

A snapshot is stored once per content: its file is ``<downloads>/snapshots/<sha256>.<ext>``,
named only by the SHA-256 of its bytes and its kind (nothing from a URL decides a path), and
written as the downloads are (``FILE_MODE``, never through a symlink, moved into place whole).
Its item's URI is ``urn:sha256:<hex>``, so the same bytes seen from two pages are one item with
two ``snapshot`` links; the item holds ``SnapshotKind``, ``ContentType``, ``SHA256``,
``FileSize``, ``FileName`` and ``LocalPath``.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from haystack_collector.fetch.download import open_data_file
from haystack_collector.files import safe_file_name
from haystack_collector.store import FETCHED, ItemRecord, LinkSpec, store_items
from haystack_collector.store.snapshots import SNAPSHOT_LINK, URI_PREFIX

if TYPE_CHECKING:
    from playwright.async_api import Page
    from sqlalchemy.engine import Connection

    from haystack_collector.fetch.render import RenderResult, SnapshotSpec

__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "LINK_TYPE",
    "SNAPSHOT_FOLDER",
    "Snapshot",
    "SnapshotKind",
    "capture_page",
    "keep_rendered",
    "link_snapshots",
    "parse_kinds",
    "snapshot_file",
    "snapshot_folder",
    "snapshot_records",
    "snapshot_spec",
    "snapshot_uri",
    "store_snapshot",
]

SnapshotKind = Literal["html", "png", "pdf"]
KINDS: tuple[SnapshotKind, ...] = ("html", "png", "pdf")
LINK_TYPE = SNAPSHOT_LINK
SNAPSHOT_FOLDER = "snapshots"  # inside the downloads folder
EXTENSIONS: dict[SnapshotKind, str] = {"html": "html", "png": "png", "pdf": "pdf"}
CONTENT_TYPES: dict[SnapshotKind, str] = {
    "html": "text/html; charset=utf-8",
    "png": "image/png",
    "pdf": "application/pdf",
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# ItemData keys of a snapshot item.
KIND_KEY = "SnapshotKind"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One stored snapshot file; ``new`` is False when the same bytes were already there."""

    kind: SnapshotKind
    sha256: str
    size: int
    path: Path
    new: bool

    @property
    def uri(self) -> str:
        return snapshot_uri(self.sha256)


def parse_kinds(given: str | Iterable[str] | None) -> list[SnapshotKind]:
    """``"png,pdf"`` or ``["png", "pdf"]`` as kinds, in the order given; ValueError otherwise."""
    if given is None:
        return []
    parts = given.split(",") if isinstance(given, str) else list(given)
    kinds: list[SnapshotKind] = []
    for part in (p.strip().lower() for p in parts):
        if not part:
            continue
        if part not in KINDS:
            raise ValueError(f"unknown snapshot kind {part!r}: give html, png or pdf")
        if part not in kinds:
            kinds.append(part)
    return kinds


def snapshot_folder(downloads: Path) -> Path:
    """Where snapshots are stored under the downloads folder ``downloads``."""
    return downloads / SNAPSHOT_FOLDER


def snapshot_uri(sha256: str) -> str:
    return URI_PREFIX + sha256


def snapshot_file(folder: Path, sha256: str, kind: str) -> Path | None:
    """The file of a stored snapshot in ``folder`` (a snapshot folder), or None when ``sha256``
    or ``kind`` is not one, or no regular file of that name is there (symlinks are not)."""
    if not _SHA256.match(sha256) or kind not in EXTENSIONS:
        return None
    path = folder / f"{sha256}.{EXTENSIONS[kind]}"
    try:
        if path.is_symlink() or not path.is_file():
            return None
    except OSError:
        return None
    return path


def store_snapshot(folder: Path, kind: SnapshotKind, data: bytes) -> Snapshot:
    """Write ``data`` as the snapshot file of its hash in ``folder`` unless it is there already."""
    if kind not in EXTENSIONS:
        raise ValueError(f"unknown snapshot kind {kind!r}")
    digest = hashlib.sha256(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_file_name(f"{digest}.{EXTENSIONS[kind]}")
    target = folder / name
    if snapshot_file(folder, digest, kind) is not None:
        return Snapshot(kind, digest, len(data), target, new=False)
    # Written beside its name and moved into place whole: a reader never sees half a file.
    part = folder / f".{digest}.{secrets.token_hex(4)}.part"
    try:
        with open_data_file(part, truncate=True) as handle:
            handle.write(data)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return Snapshot(kind, digest, len(data), target, new=True)


async def capture_page(
    page: Page, kinds: Iterable[SnapshotKind], html: str
) -> dict[SnapshotKind, bytes]:
    """The snapshots of ``kinds`` of the page as it shows now (``html``: its rendered DOM)."""
    found: dict[SnapshotKind, bytes] = {}
    for kind in kinds:
        if kind == "html":
            found[kind] = html.encode("utf-8")
        elif kind == "png":
            found[kind] = await page.screenshot(full_page=True, type="png")
        else:
            found[kind] = await page.pdf(print_background=True)
    return found


def snapshot_records(snapshots: Iterable[Snapshot]) -> tuple[list[LinkSpec], list[ItemRecord]]:
    """The page's ``snapshot`` links and the snapshot items, for the page's ``store_items``."""
    taken = datetime.now(UTC).replace(microsecond=0)
    links: list[LinkSpec] = []
    records: list[ItemRecord] = []
    for shot in snapshots:
        data: dict[str, Any] = {
            KIND_KEY: shot.kind,
            "ContentType": CONTENT_TYPES[shot.kind],
            "SHA256": shot.sha256,
            "FileSize": shot.size,
            "FileName": shot.path.name,
            "LocalPath": str(shot.path.resolve()),
            "SnapshotTakenAt": taken,
        }
        links.append(LinkSpec(shot.uri, LINK_TYPE))
        records.append(ItemRecord(uri=shot.uri, data=data, state=FETCHED))
    return links, records


def snapshot_spec(kinds: Iterable[SnapshotKind]) -> SnapshotSpec | None:
    """What a browser render must capture besides its HTML for ``kinds`` (None: nothing)."""
    from haystack_collector.fetch.render import SnapshotSpec  # noqa: PLC0415 - the extra's

    wanted = set(kinds)
    if not wanted & {"png", "pdf"}:
        return None
    return SnapshotSpec(screenshot="png" in wanted, pdf="pdf" in wanted)


def keep_rendered(
    downloads: Path, rendered: RenderResult, kinds: Iterable[SnapshotKind]
) -> list[Snapshot]:
    """Store the snapshots of ``kinds`` a render captured (nothing of a failed render)."""
    if rendered.error is not None:
        return []
    found: dict[SnapshotKind, bytes | None] = {}
    for kind in kinds:
        if kind == "html":
            found[kind] = rendered.html.encode("utf-8") if rendered.html else None
        elif kind == "png":
            found[kind] = rendered.screenshot
        else:
            found[kind] = rendered.pdf
    folder = snapshot_folder(downloads)
    return [store_snapshot(folder, kind, data) for kind, data in found.items() if data]


def link_snapshots(
    conn: Connection, *, engine_id: int | None, page_uri: str, shots: Iterable[Snapshot]
) -> None:
    """Store the snapshot items and the page's ``snapshot`` links to them."""
    links, records = snapshot_records(shots)
    if records:
        records.insert(0, ItemRecord(uri=page_uri, links=links))
        store_items(conn, engine_id=engine_id, records=records)
