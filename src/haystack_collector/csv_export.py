"""CSV exports that are safe to open in a spreadsheet, written a piece at a time.

A spreadsheet takes a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula: a scraped title such as ``=HYPERLINK(...)`` would run when the
export is opened. Such text gets a leading apostrophe, which spreadsheets show as "text
follows" (OWASP's advice for CSV injection). Every text cell is also quoted: a spreadsheet in a
locale whose separator is ``;`` would otherwise split ``safe;=1+1`` into two cells, the second
a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from haystack_collector.store.postings import Posting

__all__ = ["FORMULA_START", "POSTING_FIELDS", "csv_pieces", "inert", "posting_rows"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PIECE_ROWS = 200  # rows per piece handed to the client


def inert(value: Any) -> Any:
    """``value``, with an apostrophe before text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_pieces(fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The CSV text of ``rows`` (a header first), in pieces of ``PIECE_ROWS`` rows."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=fields, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC
    )
    writer.writeheader()
    for count, row in enumerate(rows, start=1):
        writer.writerow({key: inert(value) for key, value in row.items()})
        if count % PIECE_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# --- the postings board --------------------------------------------------------------------

POSTING_FIELDS = (
    "fingerprint",
    "status",
    "title",
    "company",
    "location",
    "compensation",
    "compensation_per_year",
    "employment_type",
    "posted",
    "found",
    "status_changed",
    "gone",
    "gone_at",
    "sources",
    "urls",
)


def posting_rows(postings: Iterable[Posting]) -> Iterator[dict[str, Any]]:
    """One CSV row per posting: dates as ISO-8601, lists joined (sources by "; ", URLs by " ")."""
    for posting in postings:
        amount = posting.compensation_amount
        yield {
            "fingerprint": posting.fingerprint,
            "status": posting.status,
            "title": posting.title,
            "company": posting.company,
            "location": posting.location,
            "compensation": posting.compensation,
            "compensation_per_year": None if amount is None else round(amount),
            "employment_type": posting.employment_type,
            "posted": _iso(posting.posted),
            "found": _iso(posting.found),
            "status_changed": _iso(posting.status_changed),
            "gone": "yes" if posting.gone else "no",
            "gone_at": _iso(posting.gone_at),
            "sources": "; ".join(posting.sources),
            "urls": " ".join(source.url or source.uri for source in posting.items),
        }


def _iso(moment: date | None) -> str | None:
    return None if moment is None else moment.isoformat()
