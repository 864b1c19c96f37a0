"""What applying a site definition gives: records, and warnings when the site seems changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from haystack_collector.errors import ExtractionError
from haystack_collector.extract.postings import PostingFields

__all__ = [
    "DetailPage",
    "ListingPage",
    "SiteChanged",
    "SiteChangedError",
    "SiteRecord",
    "SiteWarning",
]


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """One listing (or detail page): its fields by name, its detail URL and its posting fields.

    ``posting`` holds the normalized posting fields (``title`` … ``posted`` and ``source``) when
    the definition maps any, else it is empty.
    """

    fields: dict[str, Any]
    url: str | None = None
    posting: dict[str, Any] = field(default_factory=dict)

    def posting_fields(self) -> PostingFields | None:
        """``posting`` as the PostingFields every source stores, or None without a mapping."""
        return PostingFields(**self.posting) if self.posting else None


@dataclass(frozen=True, slots=True)
class SiteWarning:
    """A sign that the site no longer looks like its definition says (or a value is unreadable)."""

    site: str
    url: str | None
    message: str

    def __str__(self) -> str:
        where = f" at {self.url}" if self.url else ""
        return f"site changed: {self.site!r}{where}: {self.message}"


class SiteChanged(UserWarning):
    """The Python warning category ``extract_listing``/``extract_detail`` emit."""


class SiteChangedError(ExtractionError):
    """The page lacks what the definition needs to go on (the search form, its keyword field)."""

    def __init__(self, warning: SiteWarning) -> None:
        super().__init__(str(warning))
        self.warning = warning


@dataclass(frozen=True, slots=True)
class ListingPage:
    """A results page read with a definition: its records, the next page and any warnings."""

    records: list[SiteRecord]
    next_url: str | None = None
    warnings: list[SiteWarning] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DetailPage:
    """A detail page read with a definition: its record (None when nothing matched)."""

    record: SiteRecord | None
    warnings: list[SiteWarning] = field(default_factory=list)
