"""Normalized job fields: one set of keys and one fingerprint for every job source."""

from __future__ import annotations

from datetime import date

from haystack_collector.extract.jobs import JOB_KEYS, JobFields, from_item_data, job_fingerprint


def test_the_same_job_on_two_boards_has_one_fingerprint() -> None:
    a = job_fingerprint("Senior Python Developer", "Payne, Roberts and Davis", "Stewartbury, AA")
    b = job_fingerprint("  senior python  developer ", "PAYNE ROBERTS AND DAVIS", "Stewartbury AA")
    c = job_fingerprint("Senior Pythön Developer", "Payne, Roberts & Davis", "Stewartbury, AA")
    assert a == b == c
    assert a != job_fingerprint("Senior Python Developer", "Other Co", "Stewartbury, AA")


def test_a_job_without_title_has_no_fingerprint() -> None:
    assert job_fingerprint(None, "Acme", None) is None


def test_item_data_uses_every_key_and_round_trips() -> None:
    job = JobFields(
        title=" Data\nEngineer ",
        company="Acme",
        location=None,
        compensation="$100k",
        employment_type="full-time",
        posted=date(2026, 1, 2),
        source="craigslist",
    )
    data = job.as_item_data()
    assert set(data) == set(JOB_KEYS)
    assert data["JobTitle"] == "Data Engineer"
    again = from_item_data(data)
    assert again.title == "Data Engineer"
    assert again.posted == date(2026, 1, 2)
