"""Job postings from every source, read through the normalized job fields and deduplicated.

Every job engine stores ``JobFields.as_item_data()`` on its posting items (see
``extract/jobs.py``), so one query lists Craigslist postings, declarative job boards and any
plug-in engine together, and postings with the same ``JobFingerprint`` are one job.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import item_data, items
from haystack_collector.extract.jobs import (
    JOB_COMPANY,
    JOB_COMPENSATION,
    JOB_EMPLOYMENT_TYPE,
    JOB_FINGERPRINT,
    JOB_KEYS,
    JOB_LOCATION,
    JOB_POSTED,
    JOB_SOURCE,
    JOB_TITLE,
)
from haystack_collector.store._sql import CHUNK, chunks
from haystack_collector.store.values import decode

__all__ = ["JobPosting", "list_jobs"]


@dataclass(slots=True)
class JobPosting:
    """One job, however many items (sources, searches, boards) carry it."""

    fingerprint: str
    title: str | None
    company: str | None
    location: str | None
    compensation: str | None
    employment_type: str | None
    posted: datetime | date | None
    sources: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)


def list_jobs(conn: Connection, *, source: str | None = None, limit: int = 100) -> list[JobPosting]:
    """The newest ``limit`` distinct jobs (by fingerprint), each with all its sources and URIs.

    With ``source``, only jobs that source found (their other sources are still listed).
    """
    d = item_data.c
    newest = (
        select(d.itemDataValue)
        .where(d.itemData == JOB_FINGERPRINT, d.itemDataValue.is_not(None))
        .order_by(d.itemId.desc())
    )
    if source is not None:
        by_source = select(d.itemId).where(d.itemData == JOB_SOURCE, d.itemDataValue == source)
        newest = newest.where(d.itemId.in_(by_source))
    fingerprints: list[str] = []
    result = conn.execute(newest.execution_options(yield_per=CHUNK))
    try:
        for (value,) in result:
            if str(value) not in fingerprints:
                fingerprints.append(str(value))
                if len(fingerprints) == limit:
                    break
    finally:
        result.close()  # a streamed result must be closed before the next statement
    holders: dict[int, str] = {}
    for part in chunks(fingerprints, CHUNK):
        query = select(d.itemId, d.itemDataValue).where(
            d.itemData == JOB_FINGERPRINT, d.itemDataValue.in_(part)
        )
        holders.update((int(item), str(value)) for item, value in conn.execute(query))
    values: dict[int, dict[str, Any]] = defaultdict(dict)
    uris: dict[int, str] = {}
    for batch in chunks(sorted(holders), CHUNK):
        rows = conn.execute(
            select(d.itemId, d.itemData, d.itemDataValue, d.itemDataType)
            .where(d.itemId.in_(batch), d.itemData.in_(JOB_KEYS))
            .order_by(d.itemId, d.itemDataSeq)
        )
        for item, key, text, tag in rows:
            values[int(item)].setdefault(str(key), decode(text, tag))
        uris.update(
            (int(item), str(uri))
            for item, uri in conn.execute(
                select(items.c.itemId, items.c.ItemURI).where(items.c.itemId.in_(batch))
            )
        )
    jobs: dict[str, JobPosting] = {}
    # The newest item of a job speaks for it; older ones only add sources and URIs.
    for item in sorted(holders, reverse=True):
        fields = values[item]
        job = jobs.get(holders[item])
        if job is None:
            posted = fields.get(JOB_POSTED)
            job = jobs[holders[item]] = JobPosting(
                fingerprint=holders[item],
                title=fields.get(JOB_TITLE),
                company=fields.get(JOB_COMPANY),
                location=fields.get(JOB_LOCATION),
                compensation=fields.get(JOB_COMPENSATION),
                employment_type=fields.get(JOB_EMPLOYMENT_TYPE),
                posted=posted if isinstance(posted, datetime | date) else None,
            )
        found_by = fields.get(JOB_SOURCE)
        if isinstance(found_by, str) and found_by not in job.sources:
            job.sources.append(found_by)
        job.uris.append(uris[item])
    return [jobs[fingerprint] for fingerprint in fingerprints]
