"""Volatile rules: which parts of a page do not count when deciding whether it changed.

A page that prints the time in its footer, or rotates an ad, changes on every visit while
saying the same thing. ``VolatileRules`` name what to leave out: CSS selectors whose elements
are dropped (``drop``), CSS selectors whose elements alone count (``keep``; the rest of the page
is ignored), and regular expressions whose matches in the text are ignored (``ignore``). They
come from a site definition (its ``volatile:`` block), a crawl's settings or a watch.

``normalize`` turns a page (or text) into the text the comparison reads: the visible text of
the kept elements without the dropped ones, the ignored patterns removed, whitespace collapsed,
one line per block. ``changed`` compares two normalizations; ``text_digest`` is the SHA-256 a
crawl stores as ``TextDigest`` so the store can compare versions without the rules.

Patterns are checked when the rules are built: at most ``MAX_PATTERNS`` of at most
``MAX_PATTERN_LENGTH`` characters, no backreferences and no unbounded repetition inside another
repetition (``(a+)+``, the shape of catastrophic backtracking), so matching stays about linear
in the text, which is itself bounded by the document limits (``extract.limits``).
"""

from __future__ import annotations

import hashlib
import importlib
import re
from functools import cached_property
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from haystack_collector.extract.limits import check_markup

# resiliparse (lexbor and its text extractor) is imported where it is used: a crawl without
# rules or main text never loads it, which keeps its resident memory where it was.

__all__ = [
    "MAX_PATTERNS",
    "MAX_PATTERN_LENGTH",
    "MAX_SELECTORS",
    "VolatileRules",
    "changed",
    "normalize",
    "page_text",
    "text_digest",
]

MAX_SELECTORS: Final = 50
MAX_SELECTOR_LENGTH: Final = 500
MAX_PATTERNS: Final = 20
MAX_PATTERN_LENGTH: Final = 200
# A repetition bounded this low costs little even nested (a{2}(b{3})).
_SMALL_REPEAT: Final = 16
# Never text, whatever the rules say.
ALWAYS_DROPPED: Final = ("script", "style", "noscript", "template")

_sre: Any = importlib.import_module("re._parser")  # the stdlib's regex parser (was sre_parse)
_HTML = re.compile(r"<\s*(?:!doctype|html|head|body|[a-z][a-z0-9]*[\s/>])", re.IGNORECASE)


def _check_selector(selector: str) -> str:
    selector = selector.strip()
    if not selector:
        raise ValueError("a CSS selector cannot be empty")
    if len(selector) > MAX_SELECTOR_LENGTH:
        raise ValueError(f"a CSS selector is at most {MAX_SELECTOR_LENGTH} characters")
    from resiliparse.parse.html import HTMLTree  # noqa: PLC0415

    try:
        document = HTMLTree.parse("<p></p>").document
        assert document is not None  # a parsed string always has one
        document.query_selector_all(selector)
    except Exception as error:  # resiliparse's CSSParserException, or a ValueError
        raise ValueError(f"invalid CSS selector {selector!r}: {error}") from None
    return selector


def _unbounded(items: Any) -> bool:
    """Whether a parsed pattern repeats without a small bound anywhere."""
    for op, value in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _low, high, sub = value
            if high == _sre.MAXREPEAT or high > _SMALL_REPEAT or _unbounded(sub):
                return True
        elif _unbounded_in(value):
            return True
    return False


def _unbounded_in(value: Any) -> bool:
    subs = _subpatterns(value)
    return any(_unbounded(sub) for sub in subs)


def _subpatterns(value: Any) -> list[Any]:
    """The nested patterns of one parsed node (groups, branches, lookarounds)."""
    found: list[Any] = []
    if isinstance(value, _sre.SubPattern):
        found.append(value)
    elif isinstance(value, tuple | list):
        for part in value:
            if isinstance(part, _sre.SubPattern):
                found.append(part)
            elif isinstance(part, list):
                found.extend(p for p in part if isinstance(p, _sre.SubPattern))
    return found


def _check_nesting(items: Any, pattern: str) -> None:
    for op, value in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise ValueError(f"pattern {pattern!r}: backreferences are not allowed")
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _low, high, sub = value
            if (high == _sre.MAXREPEAT or high > _SMALL_REPEAT) and _unbounded(sub):
                raise ValueError(
                    f"pattern {pattern!r}: a repetition inside an unbounded repetition can take "
                    "exponential time; write it without the nesting"
                )
            _check_nesting(sub, pattern)
        else:
            for sub in _subpatterns(value):
                _check_nesting(sub, pattern)


def _check_pattern(pattern: str) -> str:
    if not pattern:
        raise ValueError("a pattern cannot be empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"a pattern is at most {MAX_PATTERN_LENGTH} characters")
    try:
        parsed = _sre.parse(pattern)
    except re.error as error:
        raise ValueError(f"invalid pattern {pattern!r}: {error}") from None
    _check_nesting(parsed, pattern)
    return pattern


class VolatileRules(BaseModel):
    """What of a page does not count as a change (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    drop: tuple[str, ...] = Field(default=(), max_length=MAX_SELECTORS)
    keep: tuple[str, ...] = Field(default=(), max_length=MAX_SELECTORS)
    ignore: tuple[str, ...] = Field(default=(), max_length=MAX_PATTERNS)

    @field_validator("drop", "keep")
    @classmethod
    def _selectors(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_selector(selector) for selector in value)

    @field_validator("ignore")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_pattern(pattern) for pattern in value)

    @cached_property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(pattern) for pattern in self.ignore)

    @property
    def empty(self) -> bool:
        return not (self.drop or self.keep or self.ignore)


NO_RULES: Final = VolatileRules()


def looks_like_html(text: str) -> bool:
    """Whether ``text`` is markup (a tag near its start) rather than plain text."""
    return _HTML.search(text[:4096]) is not None


def page_text(html: str, rules: VolatileRules = NO_RULES, *, main: bool = False) -> str:
    """The visible text of a page after ``drop``/``keep``: its main content when ``main``.

    Raises ``DocumentLimitError`` for a document beyond the parse limits.
    """
    from resiliparse.extract.html2text import extract_plain_text  # noqa: PLC0415
    from resiliparse.parse.html import HTMLTree  # noqa: PLC0415

    check_markup(html)
    tree = HTMLTree.parse(html)
    skip = (*ALWAYS_DROPPED, *rules.drop)
    if rules.keep:
        if tree.document is None:
            return ""
        # In document order, each element once even when several selectors match it.
        kept = tree.document.query_selector_all(", ".join(rules.keep))
        parts = (
            extract_plain_text(node.html, skip_elements=skip, alt_texts=False) for node in kept
        )
        return "\n".join(part for part in parts if part)
    return extract_plain_text(tree, main_content=main, skip_elements=skip, alt_texts=False)


def _lines(text: str, rules: VolatileRules) -> str:
    for pattern in rules.compiled:
        text = pattern.sub("", text)
    # str.split() collapses every Unicode space (NBSP, em space, ideographic space) in C: a
    # regular expression per line cost a crawl several milliseconds a page.
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def normalize(html_or_text: str, rules: VolatileRules = NO_RULES) -> str:
    """The text a change is decided on: visible text, rules applied, whitespace collapsed."""
    text = page_text(html_or_text, rules) if looks_like_html(html_or_text) else html_or_text
    return _lines(text, rules)


def changed(old: str, new: str, rules: VolatileRules = NO_RULES) -> bool:
    """Whether ``new`` says something ``old`` did not (or the reverse), under ``rules``."""
    return normalize(old, rules) != normalize(new, rules)


def text_digest(title: str | None, text: str, rules: VolatileRules = NO_RULES) -> str:
    """SHA-256 of a page's title and text (already extracted) after the ignore patterns.

    Words are what counts: any run of whitespace, line breaks included, reads as one space.
    """
    combined = f"{title or ''}\n{text}"
    for pattern in rules.compiled:
        combined = pattern.sub("", combined)
    words = " ".join(combined.split())
    return hashlib.sha256(words.encode("utf-8")).hexdigest()
