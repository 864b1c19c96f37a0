"""Records become JSON lines: dataclasses as objects, dates as ISO-8601, None as null."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from haystack_collector.extract.records import to_json


@dataclass(frozen=True)
class Inner:
    src: str
    width: int | None


@dataclass(frozen=True)
class Record:
    title: str | None
    posted: datetime | None
    images: tuple[Inner, ...]
    tags: list[str]


def test_a_record_is_one_json_line() -> None:
    record = Record(
        title="Café <b>",
        posted=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        images=(Inner("http://x.test/a.png", None),),
        tags=["a"],
    )
    line = to_json(record)
    assert "\n" not in line
    assert json.loads(line) == {
        "title": "Café <b>",
        "posted": "2026-11-27T12:00:00+00:00",
        "images": [{"src": "http://x.test/a.png", "width": None}],
        "tags": ["a"],
    }
