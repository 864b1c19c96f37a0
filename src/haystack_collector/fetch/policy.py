"""Small checks every hop goes through, and the per-fetch log line."""

from __future__ import annotations

import functools
import logging

import httpx

from haystack_collector import metrics
from haystack_collector.fetch.result import FetchResult
from haystack_collector.fetch.settings import FetchSettings
from haystack_collector.fetch.ssrf import BlockedAddress, Resolver, check_host, system_resolver
from haystack_collector.logs import get_logger
from haystack_collector.origin import from_api

ALLOWED_SCHEMES = frozenset({"http", "https"})
log = get_logger("haystack.fetch")


@functools.lru_cache(maxsize=1024)
def parse_url(url: str) -> httpx.URL:
    """``httpx.URL(url)``, remembered: one fetch checks and keys the same URL several times."""
    return httpx.URL(url)


def host_key(url: str) -> str:
    """The politeness key: host, plus the port when it is not the scheme's default."""
    return parse_url(url).netloc.decode("ascii").lower()


def may_go_private(settings: FetchSettings, url: str | None = None) -> bool:
    """Whether the work running now may reach private addresses, or ``url``'s host at least.

    Work that came through the API (``origin.from_api()``) may only with ``api_allow_private``
    or when ``url``'s host is in ``guard_allow``; the command line's own work with
    ``allow_private``.
    """
    if not from_api():
        return settings.allow_private
    if settings.api_allow_private:
        return True
    if url is None or not settings.guard_allow:
        return False
    try:
        return host_key(url) in settings.guard_allow
    except (httpx.InvalidURL, UnicodeError):
        return False


async def check_url(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> str | None:
    """Why ``url`` must not be requested (bad URL, scheme, non-public address), or None."""
    try:
        parsed = parse_url(url)
    except httpx.InvalidURL as exc:
        return f"invalid URL: {exc}"
    if parsed.scheme not in ALLOWED_SCHEMES:
        return f"unsupported scheme {parsed.scheme!r}"
    if not parsed.host:
        return "invalid URL: no host"
    if not allow_private:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            await check_host(parsed.host, port, resolver=resolver)
        except BlockedAddress as exc:
            return f"blocked address: {exc}"
    return None


def log_result(result: FetchResult) -> None:
    """DEBUG for every fetch, WARNING for failures; counted for /metrics too."""
    _count(result)
    ms = round(result.elapsed * 1000, 1)
    fields = {"url": result.url, "status": result.status, "bytes": len(result.body), "ms": ms}
    if result.error is not None:
        log.warning(
            "fetch failed %s: %s (status=%s, %.0f ms)",
            result.url,
            result.error,
            result.status,
            ms,
            extra={**fields, "error": result.error},
        )
    elif log.isEnabledFor(logging.DEBUG):
        log.debug(
            "fetched %s status=%s bytes=%d ms=%.0f",
            result.url,
            result.status,
            len(result.body),
            ms,
            extra=fields,
        )


def _count(result: FetchResult) -> None:
    try:
        host = host_key(result.url)
    except (httpx.InvalidURL, UnicodeError, TypeError):  # a URL refused before any request
        host = "invalid"
    metrics.observe_fetch(
        host=host, status=result.status, error=result.error is not None, seconds=result.elapsed
    )
