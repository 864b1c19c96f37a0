"""Routes: an item's versions, and the diff between two of them (``store.versions``, ``diff``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from haystack_collector import store
from haystack_collector.api.deps import DbDep, ReadAccess, ReadLaneDep
from haystack_collector.api.models import READ_ERRORS, error_responses
from haystack_collector.api.responses import model_json
from haystack_collector.diff import diff_versions
from haystack_collector.errors import NotFoundError
from haystack_collector.store import versions

router = APIRouter(prefix="/api/items", tags=["items"], responses=READ_ERRORS)

ItemId = Annotated[int, Path(ge=0, le=2**31 - 1)]
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VersionOut(_FromAttributes):
    version: Annotated[int, Field(description="1, 2, 3... per item; the newest is current")]
    valid_from: Annotated[
        datetime | None, Field(description="when these values were first stored (null: unknown)")
    ]
    valid_to: Annotated[
        datetime | None, Field(description="when they were replaced; null for the current one")
    ]
    digest: Annotated[
        str | None,
        Field(description="SHA-256 of the values' meaning, as change detection reads it"),
    ]
    current: Annotated[bool, Field(description="these are the item's values now (its ItemData)")]
    has_text: Annotated[bool, Field(description="the version kept the page's main text")]


class VersionListOut(BaseModel):
    item_id: int
    versions: list[VersionOut]


class SegmentOut(_FromAttributes):
    kind: Literal["same", "added", "removed"]
    text: str


class DiffLineOut(_FromAttributes):
    kind: Literal["same", "added", "removed", "changed"]
    old_number: int | None
    new_number: int | None
    segments: list[SegmentOut]


class HunkOut(_FromAttributes):
    old_start: int
    new_start: int
    lines: list[DiffLineOut]


class TextDiffOut(_FromAttributes):
    hunks: list[HunkOut]
    added: Annotated[int, Field(description="words added")]
    removed: Annotated[int, Field(description="words removed")]
    truncated: bool


class FieldChangeOut(_FromAttributes):
    key: str
    kind: Literal["added", "removed", "changed"]
    old: list[Any]
    new: list[Any]


class VersionDiffOut(_FromAttributes):
    item_id: int
    old: VersionOut
    new: VersionOut
    page: Annotated[bool, Field(description="a page: `text` diffs its title and main text")]
    text: TextDiffOut | None
    fields: list[FieldChangeOut]


def _version_out(version: versions.ItemVersion) -> VersionOut:
    return VersionOut(
        version=version.version,
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        digest=version.digest,
        current=version.current,
        has_text=version.text is not None,
    )


def _list(conn: Connection, item_id: int) -> VersionListOut:
    found = versions.item_versions(conn, item_id=item_id)
    if not found:
        raise NotFoundError(f"no item {item_id}")
    return VersionListOut(item_id=item_id, versions=[_version_out(v) for v in found])


def _diff(conn: Connection, item_id: int, a: int, b: int) -> dict[str, Any]:
    if store.get_item(conn, item_id=item_id) is None:
        raise NotFoundError(f"no item {item_id}")
    pair = [versions.get_version(conn, item_id=item_id, version=number) for number in (a, b)]
    for number, version in zip((a, b), pair, strict=True):
        if version is None:
            raise NotFoundError(f"item {item_id} has no version {number}")
    old, new = pair
    assert old is not None
    assert new is not None
    diff = diff_versions(old, new)
    return {
        "item_id": item_id,
        "old": _version_out(old),
        "new": _version_out(new),
        "page": diff.page,
        "text": diff.text,
        "fields": diff.fields,
    }


@router.get(
    "/{item_id}/versions",
    response_model=VersionListOut,
    summary="An item's versions, oldest first",
    responses=error_responses(404),
)
async def list_versions(
    _access: ReadAccess, db: DbDep, lane: ReadLaneDep, item_id: ItemId
) -> Response:
    """Every kept version; the last is the item's current values. 404 if there is no item."""
    return await lane.run(lambda: model_json(VersionListOut, db.run_read(_list, item_id)))


@router.get(
    "/{item_id}/versions/{a}/diff/{b}",
    response_model=VersionDiffOut,
    summary="What changed from version a to version b",
    responses=error_responses(404),
)
async def diff_item_versions(
    _access: ReadAccess,
    db: DbDep,
    lane: ReadLaneDep,
    item_id: ItemId,
    a: VersionNumber,
    b: VersionNumber,
) -> Response:
    """For a page, its title and main text as hunks of lines (changed lines by word); for
    every item, the fields that differ. 404 if the item or either version does not exist."""
    return await lane.run(lambda: model_json(VersionDiffOut, db.run_read(_diff, item_id, a, b)))
