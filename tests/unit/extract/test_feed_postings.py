"""Job fields from job feed entries: patterns on the title and summary, the author as company."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from haystack_collector.extract.feed import FeedEntry
from haystack_collector.extract.feed_postings import FeedPostingMap, check_pattern
from haystack_collector.extract.postings import PostingFields

PUBLISHED = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def entry(title: str | None, *, summary: str | None = None, author: str | None = None) -> FeedEntry:
    return FeedEntry(
        id="1",
        title=title,
        link="https://jobs.test/1",
        published=PUBLISHED,
        updated=None,
        author=author,
        summary=summary,
        categories=[],
    )


def test_a_title_pattern_and_a_summary_pattern_give_the_job_fields() -> None:
    jobs = FeedPostingMap(
        "wwr",
        title_pattern=r"^(?P<company>[^:]+):\s*(?P<title>.+)$",
        summary_pattern=r"Location:\s*(?P<location>[^\n]+).*?Pay:\s*(?P<compensation>[^\n]+)",
    )
    found = jobs.fields(
        entry(
            "Hootsuite: Python Developer",
            summary="Location: Vancouver, BC\nType: full-time\nPay: $120k",
            author="someone",
        )
    )
    assert found == PostingFields(
        title="Python Developer",
        company="Hootsuite",  # the pattern wins over the author
        location="Vancouver, BC",
        compensation="$120k",
        posted=PUBLISHED,
        source="wwr",
    )


def test_without_patterns_the_title_is_the_job_and_the_author_the_company() -> None:
    found = FeedPostingMap("feed").fields(entry("Rust Developer", author="Dapper Labs"))
    assert (found.title, found.company, found.location) == ("Rust Developer", "Dapper Labs", None)
    no_author = FeedPostingMap("feed", company_from_author=False).fields(entry("X", author="Y"))
    assert no_author.company is None
    # A title the pattern does not match is still the job title.
    unmatched = FeedPostingMap("feed", title_pattern=r"^(?P<company>[^:]+): (?P<title>.+)$")
    assert unmatched.fields(entry("No colon here")).title == "No colon here"


def test_the_map_round_trips_through_its_stored_form() -> None:
    jobs = FeedPostingMap("wwr", title_pattern=r"(?P<title>.+)", company_from_author=False)
    assert FeedPostingMap.from_data(jobs.as_data()) == jobs
    assert FeedPostingMap.from_data(None) is None
    assert FeedPostingMap.from_data({"title_pattern": "x"}) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"(?P<title>[", "not a regular expression"),
        (r"(?P<salary>\d+)", "pattern groups must be posting fields"),
        (r"\d+", "without a named group"),
        ("x" * 1001, "longer than 1000"),
    ],
)
def test_bad_patterns_are_refused_with_the_reason(pattern: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_pattern(pattern)
