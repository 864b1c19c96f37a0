"""What an item's data *means*: the part of it whose change makes a new version.

An item's data mixes what its source said with bookkeeping about the fetch. Only the first
counts when deciding "changed" (``store.versions``):

* **bookkeeping keys** steer the engines (a crawl's ``Depth``, ``CrawlRoot``, its counters and
  settings, the follow-up action) and say nothing about the item;
* **volatile keys** change on every visit while the item stays the same: fetch and check
  times (``FetchedAt``, ``CheckedAt``, ``ProcessedAt``, ``DownloadedAt``), validators
  (``ETag``, ``LastModified``), response headers and durations;
* for a **page** (data with a ``TextDigest``, which the web crawl writes) the markup does not
  count either: ``ContentHash`` (of the bytes), ``Image`` and ``Form`` (parsed from the
  markup), and ``Title`` and ``MainText``, which ``TextDigest`` already covers after the
  volatile rules (``extract.volatile``). So a page changed when its title or visible text
  changed, or its status, error or final URL, not when its markup or footer did.

Values are compared as the store encodes them (text and type tag), so ``1`` and ``"1"``
differ and a legacy untyped row equals the same text typed ``str``. A ``StatusCode`` of 304
(a conditional GET: "not modified") reads as 200, so a re-visit answered 304 changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

# The engines' own keys (``store.crawl``, the download and follow actions).
BOOKKEEPING_KEYS: Final = frozenset(
    {
        "Depth",
        "CrawlRoot",
        "CrawlSettings",
        "CrawlEnqueued",
        "FollowAction",
        "MaxFileBytes",
        "DownloadSettings",
    }
)
# Keys that change on every visit of an unchanged item.
VOLATILE_KEYS: Final = frozenset(
    {
        "FetchedAt",
        "CheckedAt",
        "ProcessedAt",
        "DownloadedAt",
        "VisitedAt",
        "ETag",
        "LastModified",
        "Headers",
        "ResponseHeaders",
        "Duration",
        "DurationMs",
        "ElapsedMs",
    }
)
# A page's digest of its title and visible (or main) text after the volatile rules.
TEXT_DIGEST: Final = "TextDigest"
MAIN_TEXT: Final = "MainText"
# Keys a page's TEXT_DIGEST stands for, or that only its markup states.
PAGE_MARKUP_KEYS: Final = frozenset({"ContentHash", "Image", "Form", "Title", MAIN_TEXT})
IGNORED_KEYS: Final = BOOKKEEPING_KEYS | VOLATILE_KEYS
# A conditional GET answered 304 says the item is as it was: it reads as the 200 it repeats.
STATUS_KEY: Final = "StatusCode"
NOT_MODIFIED: Final = "304"
OK: Final = "200"

# One stored value: (text, type tag) as ``store.values.encode`` makes it.
Encoded = tuple[str | None, str | None]


def ignored(key: str, *, page: bool) -> bool:
    """Whether a change of ``key`` alone leaves the item's meaning unchanged."""
    return key in IGNORED_KEYS or (page and key in PAGE_MARKUP_KEYS)


def could_matter(keys: Iterable[str]) -> bool:
    """Whether writing these keys may change an item's meaning (else no read is needed)."""
    return any(key not in IGNORED_KEYS for key in keys)


def _canonical(key: str, text: str | None, tag: str | None) -> Encoded:
    if key == STATUS_KEY and text == NOT_MODIFIED:  # "the same as before": as good as a 200
        return (OK, "int")
    return (text, tag or ("str" if text is not None else None))


def meaning(data: Mapping[str, Sequence[Encoded]]) -> dict[str, list[Encoded]]:
    """The keys and values that make the item what it is (see the module docstring)."""
    page = TEXT_DIGEST in data
    return {
        key: [_canonical(key, text, tag) for text, tag in values]
        for key, values in data.items()
        if values and not ignored(key, page=page)
    }


def meaning_digest(data: Mapping[str, Sequence[Encoded]]) -> str | None:
    """SHA-256 of the item's meaning; None when nothing about it is known yet."""
    kept = meaning(data)
    if not kept:
        return None
    canonical = json.dumps(sorted(kept.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
