"""Fetcher settings; the lead wires these into ``haystack_collector.settings.Settings`` later."""

from __future__ import annotations

import dataclasses

from haystack_collector import __version__

# Sites that see our requests deserve to know what we are; an operator should add a contact
# URL (``+https://...``) or address of their own, which only they can know.
DEFAULT_USER_AGENT = f"Haystack/{__version__} (self-hosted web collector)"


@dataclasses.dataclass(frozen=True, slots=True)
class FetchSettings:
    """Every knob of the fetcher, with polite defaults (seconds, bytes)."""

    user_agent: str = DEFAULT_USER_AGENT
    robots_agent: str = "Haystack"  # the product token robots.txt groups are matched against
    obey_robots: bool = True
    allow_private: bool = True  # the command line's own work may reach private addresses
    # Work that came through the API (``origin``) may only if this says so: the SSRF guard.
    api_allow_private: bool = False
    # Hosts ("host:port", as ``policy.host_key`` spells them) that work through the API may
    # reach even when they resolve to private addresses: a service of the operator's own.
    guard_allow: frozenset[str] = frozenset()

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0  # a trickling body never trips the read timeout; this does

    max_body_bytes: int = 10 * 1024 * 1024  # bytes on the wire
    max_decoded_bytes: int = 50 * 1024 * 1024  # after gzip/deflate
    max_decompression_ratio: float = 100.0
    ratio_check_after: int = 1024 * 1024  # small bodies may compress very well legitimately
    max_redirects: int = 10

    per_host_concurrency: int = 2
    min_delay: float = 1.0
    jitter: float = 0.5  # each gap is min_delay * uniform(1, 1 + jitter): never below min_delay
    autothrottle: bool = False
    autothrottle_target_concurrency: float = 1.0
    autothrottle_max_delay: float = 60.0
    max_crawl_delay: float = 60.0  # a robots.txt Crawl-delay above this is clamped

    retry_attempts: int = 4
    retry_initial: float = 0.5
    retry_maximum: float = 30.0

    breaker_threshold: int = 5
    breaker_recovery: float = 60.0

    robots_ttl: float = 24 * 3600.0
    robots_error_ttl: float = 600.0  # 5xx/unreachable robots.txt: disallow all for this long
    robots_max_bytes: int = 512 * 1024  # RFC 9309 requires at least 500 KiB be parsed


# What a browser fetch never loads when ``BrowserSettings.block`` names it (Playwright's
# resource types): the page's content arrives without them, far faster and lighter.
BLOCKABLE = frozenset({"image", "font", "media", "stylesheet"})


@dataclasses.dataclass(frozen=True, slots=True)
class BrowserSettings:
    """The browser fetcher's knobs (see fetch/browser.py); seconds and counts."""

    executable: str = "/usr/bin/chromium"  # Debian's chromium: never Playwright's download
    pages: int = 2  # pages open at once per worker process (each its own context)
    page_timeout: float = 30.0  # a whole render: navigation, waits, scrolling, snapshots
    block: frozenset[str] = frozenset()  # resource types never loaded (BLOCKABLE)
    close_timeout: float = 5.0  # a page that will not close in this long: restart the browser
    args: tuple[str, ...] = ()  # extra chromium switches

    def __post_init__(self) -> None:
        unknown = self.block - BLOCKABLE
        if unknown:
            raise ValueError(f"cannot block {sorted(unknown)}: choose from {sorted(BLOCKABLE)}")
