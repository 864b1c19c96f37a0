"""Whether a change of an item matters to a watch, and the diff its message shows.

The versions store already keeps a version only when the item's meaning changed (markup,
fetch times and validators do not count; see ``store.meaning``). A watch may ignore more: its
volatile rules' ``ignore`` patterns (regular expressions) are removed from every text value of
both versions before they are compared, so a footer's timestamp or a rotating counter does not
notify. The diff is line by line over the page's main text (title and visible text), or over
the item's fields for other items.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from haystack_collector.store.meaning import MAIN_TEXT, TEXT_DIGEST, ignored
from haystack_collector.store.versions import ItemVersion

__all__ = ["MAX_DIFF_LINES", "change_lines"]

MAX_DIFF_LINES = 200  # kept per notification; a message shows fewer


def _patterns(rules: dict[str, Any]) -> list[re.Pattern[str]]:
    return [re.compile(pattern) for pattern in rules.get("ignore") or ()]


def _lines(version: ItemVersion, patterns: Sequence[re.Pattern[str]]) -> list[str]:
    """What a version says, as lines to compare: its title and main text for a page, else its
    fields as ``key: value``; the ignored patterns taken out."""
    data = version.data
    page = TEXT_DIGEST in data or MAIN_TEXT in data
    if page:
        title = " ".join(str(value) for value in data.get("Title", []))
        text = version.text or " ".join(str(value) for value in data.get(MAIN_TEXT, []))
        lines = [f"Title: {title}", *text.splitlines()]
    else:
        lines = [
            f"{key}: {value}"
            for key in sorted(data)
            if not ignored(key, page=False)
            for value in data[key]
        ]
    cleaned = []
    for line in lines:
        for pattern in patterns:
            line = pattern.sub("", line)  # noqa: PLW2901 - each pattern applies in turn
        line = " ".join(line.split())  # noqa: PLW2901
        if line:
            cleaned.append(line)
    return cleaned


def change_lines(old: ItemVersion, new: ItemVersion, rules: dict[str, Any]) -> list[str] | None:
    """The removed (``- ``) and added (``+ ``) lines from ``old`` to ``new``; None when, under
    the watch's rules, nothing changed."""
    patterns = _patterns(rules)
    before, after = _lines(old, patterns), _lines(new, patterns)
    if before == after:
        return None
    diff = [
        f"{line[0]} {line[1:]}"
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return diff[:MAX_DIFF_LINES] or None
