"""Internal exceptions that carry a partial result through the retry loop."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

from haystack_collector.errors import NetworkError, RateLimitError
from haystack_collector.fetch.result import FetchResult


class FetchFailure(NetworkError):
    """A retryable failure: transport error, timeout, or a 500/502/504 answer."""

    def __init__(self, message: str, *, result: FetchResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class Throttled(RateLimitError):
    """A 429 or 503 answer; ``retry_after`` (seconds) feeds the retry policy's backoff."""

    def __init__(self, message: str, *, retry_after: float | None, result: FetchResult) -> None:
        super().__init__(message, retry_after=retry_after)
        self.result = result


def header_number(value: str | None, *, max_digits: int = 18) -> int | None:
    """A header's non-negative integer (``Content-Length``, delta-seconds), else None.

    Only ASCII digits count: ``str.isdigit`` also takes "²" (a header byte 0xB2 read as
    Latin-1), which ``int`` then refuses; and ``int`` refuses very long digit strings.
    """
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > max_digits:
        return None
    return int(value)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date; None for
    anything else."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = header_number(value)
        return None if seconds is None else float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT; an obsolete form may come without a zone
        return None
    try:
        return max(0.0, when.timestamp() - now())
    except (OverflowError, ValueError):  # "Mon, 01 Jan 0001 00:00:00 +2359" is before year 1
        return None
