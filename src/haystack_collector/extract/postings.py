"""Normalized posting fields: the ItemData keys every source of job postings stores them under.

Craigslist, the declarative job boards, posting feeds and any engine a user adds write a job
posting's fields under these keys, so postings from all sources can be listed, searched and
deduplicated together (``posting_fingerprint``) whatever markup they came from.

The keys keep their ``Job*`` names (``JobTitle``, ``JobFingerprint``...) although the code now
calls a job posting a *posting*: they are stored data, and databases written by earlier
versions must read the same.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = [
    "POSTING_KEYS",
    "PostingFields",
    "compensation_amount",
    "from_item_data",
    "posting_fingerprint",
]

POSTING_TITLE = "JobTitle"
POSTING_COMPANY = "JobCompany"
POSTING_LOCATION = "JobLocation"
POSTING_COMPENSATION = "JobCompensation"
POSTING_EMPLOYMENT_TYPE = "JobEmploymentType"
POSTING_POSTED = "JobPosted"
POSTING_SOURCE = "JobSource"  # the engine (or site definition) that found it
POSTING_FINGERPRINT = "JobFingerprint"
POSTING_KEYS = (
    POSTING_TITLE,
    POSTING_COMPANY,
    POSTING_LOCATION,
    POSTING_COMPENSATION,
    POSTING_EMPLOYMENT_TYPE,
    POSTING_POSTED,
    POSTING_SOURCE,
    POSTING_FINGERPRINT,
)

_SPACE = re.compile(r"\s+")
# An amount: digits with thousands separators ("120,000", "45.000", "1'200") or plain, an
# optional decimal part and an optional k/m multiplier ("$120k", "1.2M").
_AMOUNT = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:[,.'\u00a0\u202f]\d{3})+|\d+)(?:[.,](\d{1,2}))?\s*([kKmM])?(?![\w])"
)
_RETIREMENT = re.compile(r"\b401\s*\(?k\)?", re.IGNORECASE)  # a 401(k) plan is no amount
# A rate per period, made yearly: hours and days of a full-time year.
_PERIODS = (
    (re.compile(r"(?:/|\bper\s+|\ban\s+|\ba\s+)\s*(?:hour|hr|h)\b|\bhourly\b", re.I), 2080),
    (re.compile(r"(?:/|\bper\s+|\ba\s+)\s*(?:day)\b|\bdaily\b", re.I), 260),
    (re.compile(r"(?:/|\bper\s+|\ba\s+)\s*(?:week|wk)\b|\bweekly\b", re.I), 52),
    (re.compile(r"(?:/|\bper\s+|\ba\s+)\s*(?:month|mo)\b|\bmonthly\b", re.I), 12),
)
_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True, slots=True)
class PostingFields:
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
            POSTING_TITLE: _clean(self.title),
            POSTING_COMPANY: _clean(self.company),
            POSTING_LOCATION: _clean(self.location),
            POSTING_COMPENSATION: _clean(self.compensation),
            POSTING_EMPLOYMENT_TYPE: _clean(self.employment_type),
            POSTING_POSTED: self.posted,
            POSTING_SOURCE: self.source,
            POSTING_FINGERPRINT: posting_fingerprint(self.title, self.company, self.location),
        }


def posting_fingerprint(title: str | None, company: str | None, location: str | None) -> str | None:
    """A key equal for the same job posted on several boards.

    Case, accents, punctuation, spacing and "&" versus "and" make no difference.
    """
    if not title:
        return None
    parts = [_normal(part) for part in (title, company, location)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def compensation_amount(text: str | None) -> float | None:
    """The most a compensation text offers, per year; None when it states no amount.

    The rule: every number in the text is an amount ("$120k" is 120000, "45.000" and
    "120,000" are thousands, "$80.50" has cents); the largest one counts, so a range counts
    by its top. A rate per hour, day, week or month ("$80/h", "per hour", "hourly", "/mo")
    is made yearly (x2080, x260, x52, x12). "401(k)" is not an amount, and text without
    digits ("competitive", "DOE") has none. Currencies are not converted.
    """
    if not text:
        return None
    text = _RETIREMENT.sub(" ", text)
    amounts: list[float] = []
    for whole, cents, multiplier in _AMOUNT.findall(text):
        value = float(re.sub(r"\D", "", whole) + (f".{cents}" if cents else ""))
        if multiplier:
            value *= 1_000 if multiplier in "kK" else 1_000_000
        amounts.append(value)
    if not amounts:
        return None
    top = max(amounts)
    for period, per_year in _PERIODS:
        if period.search(text):
            return top * per_year
    return top


def from_item_data(data: Mapping[str, Any]) -> PostingFields:
    """The posting fields stored on an item (the inverse of ``as_item_data``)."""
    posted = data.get(POSTING_POSTED)
    return PostingFields(
        title=data.get(POSTING_TITLE),
        company=data.get(POSTING_COMPANY),
        location=data.get(POSTING_LOCATION),
        compensation=data.get(POSTING_COMPENSATION),
        employment_type=data.get(POSTING_EMPLOYMENT_TYPE),
        posted=posted if isinstance(posted, datetime | date) else None,
        source=data.get(POSTING_SOURCE),
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
