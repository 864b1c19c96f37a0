"""Whether a change of an item matters to a watch, and the diff its message shows.

The versions store already keeps a version only when the item's meaning changed (markup,
fetch times and validators do not count; see ``store.meaning``). A watch may ignore more: its
volatile rules (``extract.volatile.VolatileRules``) are applied to both versions' text by
``extract.volatile.changed``, so a footer's timestamp or a rotating counter does not notify
(``ignore`` patterns apply to any text; ``drop``/``keep`` selectors to text that is markup).
The diff is line by line over the normalized text: the page's title and main text, or the
item's fields as ``key: value`` lines for other items.
"""

from __future__ import annotations

import difflib
from typing import Any

from haystack_collector.extract.volatile import VolatileRules, changed, normalize
from haystack_collector.store.meaning import MAIN_TEXT, TEXT_DIGEST, ignored
from haystack_collector.store.versions import ItemVersion

__all__ = ["MAX_DIFF_LINES", "change_lines"]

MAX_DIFF_LINES = 200  # kept per notification; a message shows fewer


def _text(version: ItemVersion) -> str:
    """What a version says, as lines: its title and main text for a page, else its fields as
    ``key: value``."""
    data = version.data
    text = version.text or " ".join(str(value) for value in data.get(MAIN_TEXT, []))
    if text:  # a page that kept its main text: what its diff shows
        title = " ".join(str(value) for value in data.get("Title", []))
        return "\n".join([f"Title: {title}", *text.splitlines()])
    # Otherwise the fields that make its meaning (a page without its text: its TextDigest).
    page = TEXT_DIGEST in data
    return "\n".join(
        f"{key}: {value}"
        for key in sorted(data)
        if not ignored(key, page=page)
        for value in data[key]
    )


def change_lines(old: ItemVersion, new: ItemVersion, rules: dict[str, Any]) -> list[str] | None:
    """The removed (``- ``) and added (``+ ``) lines from ``old`` to ``new``; None when, under
    the watch's rules, nothing changed."""
    checked = VolatileRules.model_validate(rules)
    before_text, after_text = _text(old), _text(new)
    if not changed(before_text, after_text, checked):
        return None
    before = normalize(before_text, checked).splitlines()
    after = normalize(after_text, checked).splitlines()
    diff = [
        f"{line[0]} {line[1:]}"
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return diff[:MAX_DIFF_LINES] or None
