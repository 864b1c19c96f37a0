"""Jobs from every source list together, one entry per job however many boards carry it."""

from __future__ import annotations

from datetime import date

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.extract.jobs import JobFields
from haystack_collector.store import ItemRecord
from haystack_collector.store.job_postings import list_jobs
from tests.factories import make_engine


def _post(db: Database, engine_id: int, uri: str, job: JobFields) -> None:
    db.run(
        store.store_items,
        engine_id=engine_id,
        records=[ItemRecord(uri=uri, data=job.as_item_data())],
    )


def test_the_same_job_from_two_sources_is_one_job_with_both(db: Database) -> None:
    craigslist = db.run(make_engine, name="craigslist-jobs-test").engine_id
    board = db.run(make_engine, name="board-jobs-test").engine_id
    _post(
        db,
        craigslist,
        "craigslist:posting/1",
        JobFields(
            "Senior Python Developer",
            "Payne, Roberts and Davis",
            "Stewartbury, AA",
            compensation="$150k",
            source="craigslist",
        ),
    )
    _post(
        db,
        board,
        "https://jobs.test/other",
        JobFields("Energy engineer", "Vasquez-Davidson", "Christopherville, AA", source="board"),
    )
    _post(
        db,
        board,
        "https://jobs.test/senior-python-developer-0.html",
        JobFields(
            "SENIOR PYTHON DEVELOPER",
            "Payne Roberts & Davis",
            "Stewartbury AA",
            posted=date(2021, 4, 8),
            source="board",
        ),
    )

    jobs = db.run_read(list_jobs)

    assert [job.title for job in jobs] == ["SENIOR PYTHON DEVELOPER", "Energy engineer"]
    python = jobs[0]
    assert python.sources == ["board", "craigslist"]
    assert python.uris == [
        "https://jobs.test/senior-python-developer-0.html",
        "craigslist:posting/1",
    ]
    assert python.posted == date(2021, 4, 8)  # the newest posting speaks for the job
    assert jobs[1].sources == ["board"]


def test_jobs_can_be_narrowed_to_a_source_and_limited(db: Database) -> None:
    engine = db.run(make_engine, name="jobs-filter-test").engine_id
    for i in range(5):
        source = "a" if i % 2 else "b"
        _post(
            db, engine, f"https://jobs.test/{i}", JobFields(f"Job {i}", "Co", None, source=source)
        )

    assert [job.title for job in db.run_read(list_jobs, source="a")] == ["Job 3", "Job 1"]
    assert [job.title for job in db.run_read(list_jobs, limit=2)] == ["Job 4", "Job 3"]
    assert db.run_read(list_jobs, source="nobody") == []


def test_items_without_job_fields_are_not_jobs(db: Database) -> None:
    engine = db.run(make_engine, name="no-jobs-test").engine_id
    db.run(
        store.store_items,
        engine_id=engine,
        records=[ItemRecord(uri="https://pages.test/a", data={"Title": "A page"})],
    )
    assert db.run_read(list_jobs) == []
