"""A page's main text: its title and the visible text of its content, without the markup.

The extractor is resiliparse's ``extract_plain_text(main_content=True)`` (lexbor underneath,
like ``extract.page``): on the real pages in ``tests/fixtures/real`` it found 98% of the text a
reader calls the content at 1.3 ms a page, where trafilatura found 86% at 31 ms
(``bench/main_text_bench.py``, figures in docs/performance.md). Navigation, footers, forms and
scripts are left out; one line per block, so diffs read by paragraph.

Pure and bounded: bytes or text in, text out; a document beyond the parse limits
(``extract.limits``) raises ``DocumentLimitError`` before it is parsed, and the text returned
is at most ``MAX_MAIN_TEXT`` characters (a longer one is cut there, and says so).
"""

from __future__ import annotations

from typing import Final

from haystack_collector.extract.limits import check_markup
from haystack_collector.extract.volatile import NO_RULES, VolatileRules, page_text

__all__ = ["MAX_MAIN_TEXT", "TRUNCATED_MARK", "main_text"]

MAX_MAIN_TEXT: Final = 1_000_000
TRUNCATED_MARK: Final = "\n[main text cut at 1,000,000 characters]"


def _decode(html: str | bytes, encoding: str | None) -> str:
    if isinstance(html, str):
        return html
    try:
        return html.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # an unknown charset label
        return html.decode("utf-8", errors="replace")


def main_text(
    html: str | bytes, *, encoding: str | None = None, rules: VolatileRules = NO_RULES
) -> str:
    """The page's main text after the volatile rules' ``drop`` and ``keep`` selectors.

    With ``keep`` selectors the kept elements are the content (the page's own choice of main
    content is not applied on top). Raises ``DocumentLimitError`` for a document too large or
    too deeply nested to parse.
    """
    check_markup(html)
    text = _decode(html, encoding).replace("\x00", "\ufffd")
    extracted = page_text(text, rules, main=not rules.keep).strip()
    if len(extracted) > MAX_MAIN_TEXT:
        return extracted[:MAX_MAIN_TEXT] + TRUNCATED_MARK
    return extracted
