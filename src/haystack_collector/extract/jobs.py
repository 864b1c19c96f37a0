"""Normalized job fields: the ItemData keys every job source stores its postings under.

Craigslist, the declarative job boards and any engine a user adds write a posting's job fields
under these keys, so jobs from all sources can be listed, searched and deduplicated together
(``job_fingerprint``) whatever markup they came from.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = ["JOB_KEYS", "JobFields", "from_item_data", "job_fingerprint"]

JOB_TITLE = "JobTitle"
JOB_COMPANY = "JobCompany"
JOB_LOCATION = "JobLocation"
JOB_COMPENSATION = "JobCompensation"
JOB_EMPLOYMENT_TYPE = "JobEmploymentType"
JOB_POSTED = "JobPosted"
JOB_SOURCE = "JobSource"  # the engine (or site definition) that found it
JOB_FINGERPRINT = "JobFingerprint"
JOB_KEYS = (
    JOB_TITLE,
    JOB_COMPANY,
    JOB_LOCATION,
    JOB_COMPENSATION,
    JOB_EMPLOYMENT_TYPE,
    JOB_POSTED,
    JOB_SOURCE,
    JOB_FINGERPRINT,
)

_SPACE = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True, slots=True)
class JobFields:
    """One job posting's normalized fields; ``as_item_data`` is what is stored."""

    title: str | None
    company: str | None = None
    location: str | None = None
    compensation: str | None = None
    employment_type: str | None = None
    posted: datetime | date | None = None
    source: str | None = None

    def as_item_data(self) -> dict[str, Any]:
        """The ItemData rows (None values included, so a re-extraction clears stale ones)."""
        return {
            JOB_TITLE: _clean(self.title),
            JOB_COMPANY: _clean(self.company),
            JOB_LOCATION: _clean(self.location),
            JOB_COMPENSATION: _clean(self.compensation),
            JOB_EMPLOYMENT_TYPE: _clean(self.employment_type),
            JOB_POSTED: self.posted,
            JOB_SOURCE: self.source,
            JOB_FINGERPRINT: job_fingerprint(self.title, self.company, self.location),
        }


def job_fingerprint(title: str | None, company: str | None, location: str | None) -> str | None:
    """A key equal for the same job posted on several boards.

    Case, accents, punctuation, spacing and "&" versus "and" make no difference.
    """
    if not title:
        return None
    parts = [_normal(part) for part in (title, company, location)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def from_item_data(data: Mapping[str, Any]) -> JobFields:
    """The job fields stored on an item (the inverse of ``as_item_data``)."""
    posted = data.get(JOB_POSTED)
    return JobFields(
        title=data.get(JOB_TITLE),
        company=data.get(JOB_COMPANY),
        location=data.get(JOB_LOCATION),
        compensation=data.get(JOB_COMPENSATION),
        employment_type=data.get(JOB_EMPLOYMENT_TYPE),
        posted=posted if isinstance(posted, datetime | date) else None,
        source=data.get(JOB_SOURCE),
    )


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = _SPACE.sub(" ", text).strip()
    return text or None


def _normal(text: str | None) -> str:
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return _NOT_WORD.sub(" ", folded.replace("&", " and ")).strip()
