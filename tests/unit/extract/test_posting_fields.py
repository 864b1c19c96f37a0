"""Normalized job fields: one set of keys and one fingerprint for every job source."""

from __future__ import annotations

from datetime import date

import pytest

from haystack_collector.extract.postings import (
    POSTING_KEYS,
    PostingFields,
    compensation_amount,
    from_item_data,
    posting_fingerprint,
)


def test_the_same_job_on_two_boards_has_one_fingerprint() -> None:
    a = posting_fingerprint(
        "Senior Python Developer", "Payne, Roberts and Davis", "Stewartbury, AA"
    )
    b = posting_fingerprint(
        "  senior python  developer ", "PAYNE ROBERTS AND DAVIS", "Stewartbury AA"
    )
    c = posting_fingerprint("Senior Pythön Developer", "Payne, Roberts & Davis", "Stewartbury, AA")
    assert a == b == c
    assert a != posting_fingerprint("Senior Python Developer", "Other Co", "Stewartbury, AA")


def test_a_job_without_title_has_no_fingerprint() -> None:
    assert posting_fingerprint(None, "Acme", None) is None


def test_item_data_uses_every_key_and_round_trips() -> None:
    job = PostingFields(
        title=" Data\nEngineer ",
        company="Acme",
        location=None,
        compensation="$100k",
        employment_type="full-time",
        posted=date(2026, 1, 2),
        source="craigslist",
    )
    data = job.as_item_data()
    assert set(data) == set(POSTING_KEYS)
    assert data["JobTitle"] == "Data Engineer"
    again = from_item_data(data)
    assert again.title == "Data Engineer"
    assert again.posted == date(2026, 1, 2)


@pytest.mark.parametrize(
    ("text", "per_year"),
    [
        ("$120k", 120_000),
        ("$50,000 - $70,000 a year", 70_000),  # a range counts by its top
        ("€45.000", 45_000),  # a dot as the thousands separator
        ("CHF 1'200", 1_200),
        ("$1,234.56", 1_234.56),
        ("USD 95,000+", 95_000),
        ("1.2M", 1_200_000),
        ("$80/h", 166_400),  # hourly: x2080
        ("$80.50 per hour", 167_440),
        ("Up to $25 hourly", 52_000),
        ("$15-$20/hr", 41_600),
        ("$300/day", 78_000),
        ("$1,000 per week", 52_000),
        ("$5k/mo", 60_000),
        ("401(k) match, $90k", 90_000),  # a retirement plan is no amount
        ("401k, DOE", None),
        ("competitive", None),
        ("DOE", None),
        ("", None),
        (None, None),
    ],
)
def test_compensation_amounts_are_read_as_the_most_per_year(
    text: str | None, per_year: float | None
) -> None:
    assert compensation_amount(text) == pytest.approx(per_year)
