"""What a fetch returns."""

from __future__ import annotations

import dataclasses

import httpx


@dataclasses.dataclass(slots=True)
class FetchResult:
    """The outcome of one fetch; ``error`` is None unless the fetch failed (see ``Fetcher``)."""

    url: str  # final URL after redirects
    status: int | None = None  # None when no response arrived
    headers: httpx.Headers = dataclasses.field(default_factory=httpx.Headers)
    body: bytes = b""
    text: str = ""
    encoding: str | None = None
    content_type: str | None = None
    elapsed: float = 0.0  # seconds, whole fetch including retries and waits
    redirects: list[str] = dataclasses.field(default_factory=list)  # URLs left by redirect
    not_modified: bool = False
    truncated: bool = False
    reason: str | None = None  # why the body was truncated
    error: str | None = None
    attempts: int = 0
    retry_after: float | None = None  # with error "circuit open": seconds until a probe may go

    @property
    def ok(self) -> bool:
        """No error and a 2xx (or 304) status."""
        return (
            self.error is None
            and self.status is not None
            and (200 <= self.status < 300 or self.not_modified)
        )
