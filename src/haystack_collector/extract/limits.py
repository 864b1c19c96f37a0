"""What one document may cost to parse: a size cap and a nesting-depth cap, checked up front.

HTML tree builders (lexbor, like the HTML5 algorithm it implements) look through the stack of
open elements for most start tags, so a page nested N elements deep costs O(N²): 200,000
nested ``<div>``s took over two minutes. feedparser and the bookmark reader have the same
shape of cost. No real document is anywhere near ``MAX_DEPTH`` deep (browsers stop nesting at
512), so a document that is deeper, or larger than ``MAX_DOCUMENT_BYTES``, is refused with a
``DocumentLimitError`` before any parser sees it; engines record its message on the item.

``check_markup`` is a linear pass over the tags that approximates the depth a parser builds:
void elements, end tags (popping to the matching open element, as parsers do), ``/>`` where
it closes, elements the HTML parser closes implicitly (``<p>``, ``<li>``, ``<td>``, …), and the
insides of comments, CDATA sections and raw-text elements (``<script>``, ``<style>``, …), which
are no tags at all. It errs on the side of counting deeper, within a factor of two.
"""

from __future__ import annotations

import re
from typing import Final

from haystack_collector.errors import ExtractionError

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "DocumentLimitError",
    "check_markup",
    "check_size",
]

MAX_DOCUMENT_BYTES: Final = 10 * 1024 * 1024
MAX_DEPTH: Final = 512
UNCHECKED_TAGS: Final = 10_000


class DocumentLimitError(ExtractionError):
    """A document too large or too deeply nested to parse; nothing is extracted from it."""


def check_size(data: bytes | str) -> None:
    """Refuse a document longer than ``MAX_DOCUMENT_BYTES`` (characters, for text)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentLimitError(
            f"document too large to parse: {len(data):,} bytes (limit {MAX_DOCUMENT_BYTES:,})"
        )


def check_markup(data: bytes | str, *, xml: bool = False) -> None:
    """Refuse a document too large, or with elements nested deeper than ``MAX_DEPTH``.

    ``xml`` reads ``/>`` as closing every element and knows no void, raw-text or implicitly
    closed elements, as an XML parser does.
    """
    check_size(data)
    # However it nests, a document with few tags parses fast (10,000 nested elements take
    # lexbor about 0.2 s): most pages stop here, at the cost of one count.
    tags = data.count(b"<") if isinstance(data, bytes) else data.count("<")
    if tags <= UNCHECKED_TAGS:
        return
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    if _nests_deeper(text.lower(), xml=xml, limit=MAX_DEPTH):
        raise DocumentLimitError(
            f"document nested too deeply to parse: more than {MAX_DEPTH} elements deep"
        )


# Start tags (with the "/" of a "/>"), end tags, and the constructs whose insides are no markup.
_TOKEN = re.compile(r"<(?:(/?)([a-z][^\s/<>]*)(?:[^<>]*?(/)?>)?|(!--|!\[cdata\[))")
_SPECIAL_END: Final = {"!--": "-->", "![cdata[": "]]>"}


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


_VOID = _names(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param"
    " source track wbr"
)
_RAW_TEXT = _names("script style textarea title xmp iframe noembed noframes noscript plaintext")
# Closed by a sibling's start tag (or their parent's end) rather than nested by the parser.
_IMPLIED = _names(
    "p li dt dd option optgroup tr td th thead tbody tfoot caption colgroup rb rp rt rtc"
)
# Elements the HTML parser never nests in themselves: a second one closes the first.
_NOT_NESTED = _names("a nobr button form select")
# Not pushed in HTML: void and implicitly closed elements.
_FLAT = _VOID | _IMPLIED
# HTML elements for which the HTML parser ignores "/>"; elsewhere (svg, math) it closes.
_HTML_ELEMENTS = _names(
    "a abbr address article aside audio b bdi bdo blockquote body button canvas center cite code"
    " data datalist del details dfn dialog div dl em fieldset figcaption figure font footer"
    " form h1 h2 h3 h4 h5 h6 head header hgroup html i ins kbd label legend main map mark menu"
    " meter nav nobr object ol output picture pre progress q s samp search section select"
    " slot small span strike strong sub summary sup table template time tt u ul var video"
    " marquee applet big"
)


def _nests_deeper(text: str, *, xml: bool, limit: int) -> bool:
    """Whether ``text`` (lower-cased) nests its elements more than ``limit`` deep."""
    stack: list[str] = []
    open_count: dict[str, int] = {}
    skip_to = 0  # the end of the last comment, CDATA section or raw-text element
    for match in _TOKEN.finditer(text):
        closing, name, slash, special = match.groups()
        if skip_to:
            if match.start() < skip_to:
                continue
            skip_to = 0
        if special:
            skip_to = _end_of(text, _SPECIAL_END[special], match.end(), after=True)
        elif closing:  # an end tag closes up to the open element of that name, if any
            if open_count.get(name):
                _close(stack, open_count, name)
        elif xml or not (name in _FLAT or (slash and name not in _HTML_ELEMENTS)):
            if xml and slash:
                continue
            if not xml and name in _RAW_TEXT:
                skip_to = _end_of(text, "</" + name, match.end(), after=False)
                continue
            if not xml and name in _NOT_NESTED and open_count.get(name):
                _close(stack, open_count, name)
            stack.append(name)
            open_count[name] = open_count.get(name, 0) + 1
            if len(stack) > limit:
                return True
    return False


def _end_of(text: str, mark: str, start: int, *, after: bool) -> int:
    """Where the construct that ``mark`` ends stops (the document's end when it never does)."""
    end = text.find(mark, start)
    if end == -1:
        return len(text)
    return end + len(mark) if after else end


def _close(stack: list[str], open_count: dict[str, int], name: str) -> None:
    """Pop the open elements down to, and including, the innermost ``name``."""
    while True:
        popped = stack.pop()
        open_count[popped] -= 1
        if popped == name:
            return
