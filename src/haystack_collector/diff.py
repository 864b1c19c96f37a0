"""Diffs between two versions of an item: a page's text by line and word, other items by field.

Pure: versions in (``store.versions.ItemVersion``), records out, for the API and the UI.

A **page** (its data has a ``TextDigest`` or a ``MainText``) is compared on what a reader sees:
its title and main text, never its markup. The texts are split into lines (one per block, as
``extract.main_text`` writes them); changed lines are grouped into hunks with ``CONTEXT``
unchanged lines around them, and a line replaced by a similar one is shown as one line whose
words were added and removed, as changedetection.io shows it. Every item also gets a **field**
diff: the keys whose values differ, without the bookkeeping and volatile keys
(``store.meaning``), nor the page text the text diff already shows.

Texts longer than ``MAX_DIFF_LINES`` lines are compared on their first ``MAX_DIFF_LINES`` (and
the diff says it is ``truncated``); lines longer than ``MAX_WORD_DIFF_CHARS`` are shown whole.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from haystack_collector.store.meaning import IGNORED_KEYS, MAIN_TEXT, TEXT_DIGEST
from haystack_collector.store.values import ItemValue, encode
from haystack_collector.store.versions import ItemVersion

__all__ = [
    "CONTEXT",
    "DiffLine",
    "FieldChange",
    "Hunk",
    "Segment",
    "TextDiff",
    "VersionDiff",
    "diff_fields",
    "diff_text",
    "diff_versions",
    "is_page",
]

CONTEXT: Final = 2
MAX_DIFF_LINES: Final = 20_000
MAX_WORD_DIFF_CHARS: Final = 5_000
_SIMILAR: Final = 0.5  # a replaced line this similar to its successor is diffed by word
_TOKENS = re.compile(r"\s+|[^\s]+")
# Keys the page's text diff already shows, or that only fingerprint it.
_PAGE_TEXT_KEYS: Final = frozenset({"Title", MAIN_TEXT, TEXT_DIGEST, "ContentHash"})

SegmentKind = Literal["same", "added", "removed"]
LineKind = Literal["same", "added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    text: str


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line: unchanged, added, removed, or changed (then its segments say by word)."""

    kind: LineKind
    old_number: int | None  # 1-based, in the old text
    new_number: int | None
    segments: list[Segment]


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    new_start: int
    lines: list[DiffLine]


@dataclass(frozen=True, slots=True)
class TextDiff:
    hunks: list[Hunk]
    added: int  # words added
    removed: int  # words removed
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class FieldChange:
    key: str
    kind: Literal["added", "removed", "changed"]
    old: list[ItemValue]
    new: list[ItemValue]


@dataclass(frozen=True, slots=True)
class VersionDiff:
    old: ItemVersion
    new: ItemVersion
    page: bool
    text: TextDiff | None
    fields: list[FieldChange] = field(default_factory=list)


def is_page(version: ItemVersion) -> bool:
    return TEXT_DIGEST in version.data or MAIN_TEXT in version.data


def page_text(version: ItemVersion) -> str:
    """A page's title and main text, as the diff reads them."""
    title = _first_text(version.data.get("Title"))
    body = version.text if version.text is not None else _first_text(version.data.get(MAIN_TEXT))
    lines = (line.strip() for line in f"{title}\n{body}".splitlines())
    return "\n".join(line for line in lines if line)  # blank lines between blocks say nothing


def _first_text(values: Sequence[ItemValue] | None) -> str:
    return values[0] if values and isinstance(values[0], str) else ""


def _words(text: str) -> int:
    return sum(1 for token in _TOKENS.findall(text) if not token.isspace())


def _word_segments(old: str, new: str) -> tuple[list[Segment], int, int] | None:
    """Word-level segments from ``old`` to ``new``; None when they share too little to be
    read as one edited line (then they are shown as a removed and an added line)."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    words_a = [token for token in a if not token.isspace()]
    words_b = [token for token in b if not token.isspace()]
    if difflib.SequenceMatcher(None, words_a, words_b, autojunk=False).ratio() < _SIMILAR:
        return None
    removed_text: list[str] = []
    added_text: list[str] = []
    segments: list[Segment] = []

    def flush() -> None:
        if removed_text:
            segments.append(Segment("removed", "".join(removed_text)))
        if added_text:
            segments.append(Segment("added", "".join(added_text)))
        removed_text.clear()
        added_text.clear()

    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for n, (op, i1, i2, j1, j2) in enumerate(opcodes):
        same = "".join(a[i1:i2])
        between = 0 < n < len(opcodes) - 1
        if op == "equal" and not (between and same.isspace()):
            flush()
            segments.append(Segment("same", same))
        elif op == "equal":  # a lone space between two edits reads better inside them
            removed_text.append(same)
            added_text.append(same)
        else:
            removed_text.extend(a[i1:i2])
            added_text.extend(b[j1:j2])
    flush()
    added = sum(_words(s.text) for s in segments if s.kind == "added")
    removed = sum(_words(s.text) for s in segments if s.kind == "removed")
    return segments, added, removed


def _replaced(
    old: Sequence[str], new: Sequence[str], i1: int, j1: int
) -> tuple[list[DiffLine], int, int]:
    """Lines ``old`` replaced by ``new``: similar pairs by word, the rest whole."""
    lines: list[DiffLine] = []
    added = removed = 0
    pairs = min(len(old), len(new))
    for n in range(max(len(old), len(new))):
        before = old[n] if n < len(old) else None
        after = new[n] if n < len(new) else None
        edited = (
            _word_segments(before, after)
            if n < pairs
            and before is not None
            and after is not None
            and max(len(before), len(after)) <= MAX_WORD_DIFF_CHARS
            else None
        )
        if edited is not None:
            segments, plus, minus = edited
            lines.append(DiffLine("changed", i1 + n + 1, j1 + n + 1, segments))
            added, removed = added + plus, removed + minus
            continue
        if before is not None:
            lines.append(DiffLine("removed", i1 + n + 1, None, [Segment("removed", before)]))
            removed += _words(before)
        if after is not None:
            lines.append(DiffLine("added", None, j1 + n + 1, [Segment("added", after)]))
            added += _words(after)
    # Removed lines first, then added ones, as a unified diff shows a replaced block.
    lines.sort(key=lambda line: {"changed": 0, "removed": 0, "added": 1}[line.kind])
    return lines, added, removed


def diff_text(old: str, new: str, *, context: int = CONTEXT) -> TextDiff:
    """Hunks of changed lines (words within similar lines) from ``old`` to ``new``."""
    a, b = old.splitlines(), new.splitlines()
    truncated = len(a) > MAX_DIFF_LINES or len(b) > MAX_DIFF_LINES
    a, b = a[:MAX_DIFF_LINES], b[:MAX_DIFF_LINES]
    hunks: list[Hunk] = []
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        lines: list[DiffLine] = []
        for op, i1, i2, j1, j2 in group:
            if op == "equal":
                lines.extend(
                    DiffLine("same", i1 + n + 1, j1 + n + 1, [Segment("same", a[i1 + n])])
                    for n in range(i2 - i1)
                )
            elif op == "delete":
                for n in range(i1, i2):
                    lines.append(DiffLine("removed", n + 1, None, [Segment("removed", a[n])]))
                    removed += _words(a[n])
            elif op == "insert":
                for n in range(j1, j2):
                    lines.append(DiffLine("added", None, n + 1, [Segment("added", b[n])]))
                    added += _words(b[n])
            else:
                replaced, plus, minus = _replaced(a[i1:i2], b[j1:j2], i1, j1)
                lines.extend(replaced)
                added, removed = added + plus, removed + minus
        first = group[0]
        hunks.append(Hunk(first[1] + 1, first[3] + 1, lines))
    return TextDiff(hunks, added, removed, truncated)


def _comparable(values: Iterable[ItemValue]) -> list[tuple[str | None, str | None]]:
    return [encode(value) for value in values]


def diff_fields(
    old: Mapping[str, list[ItemValue]],
    new: Mapping[str, list[ItemValue]],
    *,
    skip: Iterable[str] = (),
) -> list[FieldChange]:
    """The keys whose values differ, by key, without bookkeeping, volatile and ``skip`` keys."""
    left_out = IGNORED_KEYS | frozenset(skip)
    changes: list[FieldChange] = []
    for key in sorted((old.keys() | new.keys()) - left_out):
        before, after = list(old.get(key, [])), list(new.get(key, []))
        if _comparable(before) == _comparable(after):
            continue
        kind: Literal["added", "removed", "changed"] = (
            "added" if not before else "removed" if not after else "changed"
        )
        changes.append(FieldChange(key, kind, before, after))
    return changes


def diff_versions(old: ItemVersion, new: ItemVersion) -> VersionDiff:
    """What changed from ``old`` to ``new`` (either order: the diff reads as given)."""
    page = is_page(old) or is_page(new)
    text = diff_text(page_text(old), page_text(new)) if page else None
    skip = _PAGE_TEXT_KEYS | {"Image", "Form"} if page else frozenset()
    return VersionDiff(old, new, page, text, diff_fields(old.data, new.data, skip=skip))
