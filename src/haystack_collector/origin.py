"""Where work came from: the command line and the operator (trusted), or the API (not).

A token holder is not trusted with the server's network: what they ask for, and everything it
leads to, is fetched with the SSRF guard on. The origin follows the work the way the
correlation id does: a ``contextvars`` value set by the run executor (API-requested runs) and the
worker (per claimed event), stamped on every event queued meanwhile (``itemEventOrigin``), and
read by the fetcher on every hop. Rows written through the admin API carry it too.

It only ever widens: inside API work, ``origin_scope(None)`` keeps the API origin, so no code
path can launder untrusted work into trusted work by opening a scope of its own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Final

__all__ = ["API", "current_origin", "from_api", "origin_scope"]

API: Final = "api"  # the one untrusted origin; None is the trusted command line

_origin: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "haystack_work_origin", default=None
)


def current_origin() -> str | None:
    """``API`` inside work that came through the API, else None."""
    return _origin.get()


def from_api() -> bool:
    return _origin.get() == API


@contextlib.contextmanager
def origin_scope(origin: str | None) -> Iterator[str | None]:
    """Run the block as work of ``origin``; an API origin already in force is kept."""
    effective = API if API in (origin, _origin.get()) else None
    token = _origin.set(effective)
    try:
        yield effective
    finally:
        _origin.reset(token)
