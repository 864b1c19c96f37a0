"""Polite async fetching: one keep-alive client, per-host slots, robots, retries, limits.

Modules: ``fetcher`` (the pipeline), ``hosts`` (per-host slots and autothrottle), ``robots``,
``policy`` (scheme/SSRF checks per hop, logging), ``ssrf``, ``body`` (size and bomb limits),
``decode`` (bytes to text), ``validators`` (conditional GET), ``failures`` (retry signals),
``result``, ``settings``.
"""

from __future__ import annotations

from haystack_collector.fetch.decode import decode_body
from haystack_collector.fetch.fetcher import CIRCUIT_OPEN, Fetcher
from haystack_collector.fetch.result import FetchResult
from haystack_collector.fetch.settings import DEFAULT_USER_AGENT, FetchSettings
from haystack_collector.fetch.ssrf import BlockedAddress, check_host, forbidden_reason
from haystack_collector.fetch.validators import DictValidatorCache, ValidatorCache, Validators

__all__ = [
    "CIRCUIT_OPEN",
    "DEFAULT_USER_AGENT",
    "BlockedAddress",
    "DictValidatorCache",
    "FetchResult",
    "FetchSettings",
    "Fetcher",
    "ValidatorCache",
    "Validators",
    "check_host",
    "decode_body",
    "forbidden_reason",
]
