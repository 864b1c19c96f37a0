"""Posting fields from the entries of a posting feed (a job board's RSS/Atom/JSON feed).

Feeds have no posting fields of their own: a job board puts them in the entry's title
("Acme: Python Developer", "Python Developer - Acme - Remote"), its author or its summary
("Location: Vancouver, BC"). A ``FeedPostingMap`` says where, with regular expressions whose named
groups are posting fields (``title``, ``company``, ``location``, ``compensation``,
``employment_type``):

- ``title_pattern`` is searched in the entry's title; without it (or without a ``title``
  group) the whole title is the job title;
- ``summary_pattern`` is searched in the entry's summary, for the fields the title did not give;
- ``company_from_author``: the entry's author is the company when no pattern gave one;
- the entry's published date is the posting date, and ``source`` names the feed in the board.

The ``rss`` engine's ``postings`` setting holds one (see docs/postings.md), stored with the feed
as ItemData ``PostingFeed`` so the feed's fetches (item actions, which get no settings) read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from haystack_collector.extract.feed import FeedEntry
from haystack_collector.extract.postings import PostingFields

__all__ = ["POSTING_GROUPS", "FeedPostingMap", "check_pattern"]

POSTING_GROUPS: Final = ("title", "company", "location", "compensation", "employment_type")
PATTERN_MAX = 1_000


def check_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """``pattern`` compiled; ValueError when it does not compile or names another group."""
    if pattern is None:
        return None
    if len(pattern) > PATTERN_MAX:
        raise ValueError(f"a pattern longer than {PATTERN_MAX} characters")
    try:
        compiled = re.compile(pattern, re.IGNORECASE | re.DOTALL)
    except re.error as error:
        raise ValueError(f"not a regular expression: {pattern!r} ({error})") from None
    unknown = sorted(set(compiled.groupindex) - set(POSTING_GROUPS))
    if unknown:
        raise ValueError(
            f"pattern groups must be posting fields ({', '.join(POSTING_GROUPS)}), not {unknown}"
        )
    if not compiled.groupindex:
        raise ValueError(f"a pattern without a named group gives no field: {pattern!r}")
    return compiled


@dataclass(frozen=True, slots=True)
class FeedPostingMap:
    """Where a posting feed's entries keep their posting fields."""

    source: str
    title_pattern: str | None = None
    summary_pattern: str | None = None
    company_from_author: bool = True

    def as_data(self) -> dict[str, Any]:
        """The JSON object stored with the feed."""
        return {
            "source": self.source,
            "title_pattern": self.title_pattern,
            "summary_pattern": self.summary_pattern,
            "company_from_author": self.company_from_author,
        }

    @classmethod
    def from_data(cls, data: object) -> FeedPostingMap | None:
        """The map stored with a feed; None when there is none (or it is not one)."""
        if not isinstance(data, dict) or not isinstance(data.get("source"), str):
            return None
        title, summary = data.get("title_pattern"), data.get("summary_pattern")
        return cls(
            source=data["source"],
            title_pattern=title if isinstance(title, str) else None,
            summary_pattern=summary if isinstance(summary, str) else None,
            company_from_author=data.get("company_from_author") is not False,
        )

    def fields(self, entry: FeedEntry) -> PostingFields:
        """The entry's posting fields (an entry without a title gives a posting without one)."""
        found: dict[str, str] = {}
        for pattern, text in (
            (self.title_pattern, entry.title),
            (self.summary_pattern, entry.summary),
        ):
            compiled = check_pattern(pattern)
            match = compiled.search(text) if compiled is not None and text else None
            if match is None:
                continue
            for name, value in match.groupdict().items():
                if value and value.strip() and name not in found:
                    found[name] = value.strip()
        company = found.get("company")
        if company is None and self.company_from_author:
            company = entry.author
        return PostingFields(
            title=found.get("title") or entry.title,
            company=company,
            location=found.get("location"),
            compensation=found.get("compensation"),
            employment_type=found.get("employment_type"),
            posted=entry.published,
            source=self.source,
        )
