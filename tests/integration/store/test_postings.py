"""The postings board's store: one posting per fingerprint with every source, the filters, the
status workflow with its history, and gone postings; on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.errors import ConflictError, NotFoundError
from haystack_collector.extract.postings import PostingFields, posting_fingerprint
from haystack_collector.store import ItemRecord
from haystack_collector.store.postings import (
    PostingFilter,
    get_posting,
    iter_postings,
    list_postings,
    set_posting_status,
)
from tests.factories import make_engine


def _post(db: Database, engine_id: int, uri: str, job: PostingFields, **extra: Any) -> str:
    db.run(
        store.store_items,
        engine_id=engine_id,
        records=[ItemRecord(uri=uri, data=job.as_item_data() | extra, state=store.FETCHED)],
    )
    fingerprint = posting_fingerprint(job.title, job.company, job.location)
    assert fingerprint is not None
    return fingerprint


def _titles(db: Database, **where: Any) -> list[str | None]:
    page = db.run_read(list_postings, where=PostingFilter(**where), limit=100)
    return [posting.title for posting in page.postings]


def test_the_same_job_from_two_sources_is_one_posting_with_both(db: Database) -> None:
    craigslist = db.run(make_engine, name="craigslist-postings-test").engine_id
    board = db.run(make_engine, name="board-postings-test").engine_id
    _post(
        db,
        craigslist,
        "craigslist:posting/1",
        PostingFields(
            "Senior Python Developer",
            "Payne, Roberts and Davis",
            "Stewartbury, AA",
            compensation="$150k",
            source="craigslist",
        ),
        Url="https://sfbay.craigslist.org/sof/d/1.html",
    )
    _post(
        db,
        board,
        "https://jobs.test/other",
        PostingFields(
            "Energy engineer", "Vasquez-Davidson", "Christopherville, AA", source="board"
        ),
    )
    _post(
        db,
        board,
        "https://jobs.test/senior-python-developer-0.html",
        PostingFields(
            "SENIOR PYTHON DEVELOPER",
            "Payne Roberts & Davis",
            "Stewartbury AA",
            posted=date(2021, 4, 8),
            source="board",
        ),
    )

    page = db.run_read(list_postings)

    assert page.total == 2
    assert [posting.title for posting in page.postings] == [
        "SENIOR PYTHON DEVELOPER",
        "Energy engineer",
    ]
    python = page.postings[0]
    assert python.sources == ["board", "craigslist"]
    assert python.uris == [
        "https://jobs.test/senior-python-developer-0.html",
        "craigslist:posting/1",
    ]
    # The Craigslist item opens at its web address, a board's item at its URI.
    assert [source.url for source in python.items] == [
        "https://jobs.test/senior-python-developer-0.html",
        "https://sfbay.craigslist.org/sof/d/1.html",
    ]
    assert python.posted == date(2021, 4, 8)  # the newest item speaks for the posting
    assert python.status == "new"
    assert python.gone is False
    assert page.postings[1].sources == ["board"]
    assert page.counts["new"] == 2


def test_filters_keyword_source_location_compensation_posted_and_status(db: Database) -> None:
    engine = db.run(make_engine, name="postings-filters-test").engine_id
    hourly = _post(
        db,
        engine,
        "https://jobs.test/1",
        PostingFields(
            "Data Analyst",
            "Absolute",
            "Victoria, BC",
            compensation="$80/h",
            posted=date(2026, 3, 3),
            source="a",
        ),
        description="SQL and dashboards",
    )
    _post(
        db,
        engine,
        "https://jobs.test/2",
        PostingFields(
            "Python Developer",
            "Hootsuite",
            "Vancouver, BC",
            compensation="$50,000 - $70,000",
            posted=datetime(2026, 3, 5, 9, 30, tzinfo=UTC),
            source="b",
        ),
        Body="Django, PostgreSQL, remote friendly",
    )
    _post(
        db,
        engine,
        "https://jobs.test/3",
        PostingFields("Rust Developer", "Dapper Labs", "Vancouver, BC", source="a"),
        Summary="Competitive pay",
    )

    assert _titles(db) == ["Rust Developer", "Python Developer", "Data Analyst"]
    assert _titles(db, q="developer") == ["Rust Developer", "Python Developer"]
    assert _titles(db, q="postgresql remote") == ["Python Developer"]  # from the Body
    assert _titles(db, q="dashboards absolute") == ["Data Analyst"]  # description + company
    assert _titles(db, q="competitive") == ["Rust Developer"]  # a feed's Summary
    assert _titles(db, source="a") == ["Rust Developer", "Data Analyst"]
    assert _titles(db, location="vancouver") == ["Rust Developer", "Python Developer"]
    assert _titles(db, compensation=True) == ["Python Developer", "Data Analyst"]
    assert _titles(db, compensation=False) == ["Rust Developer"]
    # $80/h is 166,400 a year; a range counts by its top (70,000).
    assert _titles(db, min_compensation=100_000) == ["Data Analyst"]
    assert _titles(db, min_compensation=70_000) == ["Python Developer", "Data Analyst"]
    assert _titles(db, posted_since=date(2026, 3, 4)) == ["Python Developer"]
    assert _titles(db, posted_since=date(2026, 3, 3)) == ["Python Developer", "Data Analyst"]

    db.run(set_posting_status, fingerprint=hourly, status="seen")
    assert _titles(db, status=("seen",)) == ["Data Analyst"]
    assert _titles(db, status=("new", "applied")) == ["Rust Developer", "Python Developer"]
    assert _titles(db, status=("seen",), q="developer") == []

    page = db.run_read(list_postings, where=PostingFilter(status=("new",)), limit=1, offset=1)
    assert [posting.title for posting in page.postings] == ["Python Developer"]
    assert page.total == 2
    assert (page.counts["new"], page.counts["seen"]) == (2, 1)  # every status, same filters
    assert [p.title for p in db.run_read(lambda c: list(iter_postings(c)))] == _titles(db)


def test_the_workflow_records_each_change_with_its_note(db: Database) -> None:
    engine = db.run(make_engine, name="postings-workflow-test").engine_id
    fingerprint = _post(db, engine, "https://jobs.test/w", PostingFields("Engineer", "Co", "Here"))

    steps = [("seen", None), ("applied", "sent CV"), ("interviewing", None), ("offer", "yes!")]
    for status, note in steps:
        change = db.run(
            set_posting_status, fingerprint=fingerprint, status=status, note=note, by="me"
        )
        assert change.changed
    detail = db.run_read(get_posting, fingerprint=fingerprint)
    assert detail.posting.status == "offer"
    assert [(h.status, h.note, h.by) for h in detail.history] == [
        ("seen", None, "me"),
        ("applied", "sent CV", "me"),
        ("interviewing", None, "me"),
        ("offer", "yes!", "me"),
    ]
    assert detail.history[0].date <= detail.history[-1].date
    assert detail.posting.status_changed == detail.history[-1].date
    assert detail.allowed == ["archived", "ignored"]

    with pytest.raises(ConflictError, match="offer cannot become seen"):
        db.run(set_posting_status, fingerprint=fingerprint, status="seen")
    # The same status again changes nothing, but its note is kept.
    same = db.run(set_posting_status, fingerprint=fingerprint, status="offer", note="signed")
    assert not same.changed
    history = db.run_read(get_posting, fingerprint=fingerprint).history
    assert [(h.status, h.note) for h in history[-2:]] == [("offer", "yes!"), ("offer", "signed")]


def test_invalid_moves_and_unknown_postings_are_refused_and_change_nothing(
    db: Database,
) -> None:
    engine = db.run(make_engine, name="postings-invalid-test").engine_id
    fingerprint = _post(db, engine, "https://jobs.test/i", PostingFields("Tester", "Co", "There"))

    with pytest.raises(ConflictError, match=r"new cannot become offer \(it may become: seen"):
        db.run(set_posting_status, fingerprint=fingerprint, status="offer")
    with pytest.raises(ConflictError):
        db.run(set_posting_status, fingerprint=fingerprint, status="interviewing")
    with pytest.raises(ValueError, match="not a posting status: 'hired'"):
        db.run(set_posting_status, fingerprint=fingerprint, status="hired")
    with pytest.raises(NotFoundError):
        db.run(set_posting_status, fingerprint="0" * 32, status="seen")
    with pytest.raises(NotFoundError):
        db.run_read(get_posting, fingerprint="0" * 32)
    detail = db.run_read(get_posting, fingerprint=fingerprint)
    assert (detail.posting.status, detail.history) == ("new", [])
    assert detail.allowed == ["seen", "applied", "archived", "ignored"]


def test_archived_and_ignored_postings_go_back_only_to_where_they_were(db: Database) -> None:
    engine = db.run(make_engine, name="postings-archive-test").engine_id
    fingerprint = _post(db, engine, "https://jobs.test/a", PostingFields("Archivist", "Co", "X"))
    for status in ("applied", "archived"):
        db.run(set_posting_status, fingerprint=fingerprint, status=status)

    detail = db.run_read(get_posting, fingerprint=fingerprint)
    assert detail.allowed == ["applied", "ignored"]
    with pytest.raises(ConflictError, match="archived cannot become new"):
        db.run(set_posting_status, fingerprint=fingerprint, status="new")
    db.run(set_posting_status, fingerprint=fingerprint, status="ignored")
    assert db.run_read(get_posting, fingerprint=fingerprint).allowed == ["applied", "archived"]
    db.run(set_posting_status, fingerprint=fingerprint, status="applied")
    assert db.run_read(get_posting, fingerprint=fingerprint).posting.status == "applied"


def test_a_re_stored_posting_keeps_its_status(db: Database) -> None:
    engine = db.run(make_engine, name="postings-restore-test").engine_id
    job = PostingFields("Keeper", "Co", "Y", compensation="$1")
    fingerprint = _post(db, engine, "https://jobs.test/k", job)
    db.run(set_posting_status, fingerprint=fingerprint, status="applied", note="n")

    _post(db, engine, "https://jobs.test/k", PostingFields("Keeper", "Co", "Y", compensation="$2"))
    _post(db, engine, "https://other.test/k", PostingFields("KEEPER", "co", "y"))

    [posting] = db.run_read(list_postings).postings
    assert (posting.status, posting.compensation) == ("applied", None)  # the newest speaks
    assert posting.uris == ["https://other.test/k", "https://jobs.test/k"]
    assert len(db.run_read(get_posting, fingerprint=fingerprint).history) == 1


def test_a_posting_is_gone_when_every_source_is_and_keeps_its_status(db: Database) -> None:
    engine = db.run(make_engine, name="postings-gone-test").engine_id
    job = PostingFields("Vanishing", "Co", "Z", source="one")
    fingerprint = _post(db, engine, "https://one.test/v", job)
    _post(db, engine, "https://two.test/v", PostingFields("Vanishing", "Co", "Z", source="two"))
    db.run(set_posting_status, fingerprint=fingerprint, status="seen")

    db.run(
        store.store_items,
        engine_id=engine,
        records=[ItemRecord(uri="https://one.test/v", data={"Gone": True})],
    )
    [posting] = db.run_read(list_postings).postings
    assert not posting.gone  # still on its other board
    assert [s.state for s in posting.items] == ["fetched", "gone"]

    db.run(
        store.store_items,
        engine_id=engine,
        records=[ItemRecord(uri="https://two.test/v", data={"StatusCode": 404})],
    )
    [posting] = db.run_read(list_postings).postings
    assert posting.gone
    assert posting.gone_at is not None
    assert posting.gone_at.tzinfo is not None
    assert posting.status == "seen"
    assert _titles(db, gone=True) == ["Vanishing"]
    assert _titles(db, gone=False) == []


def test_items_without_job_fields_are_not_postings(db: Database) -> None:
    engine = db.run(make_engine, name="no-postings-test").engine_id
    db.run(
        store.store_items,
        engine_id=engine,
        records=[ItemRecord(uri="https://pages.test/a", data={"Title": "A page"})],
    )
    assert db.run_read(list_postings).postings == []
