"""Bytes to text: header charset, BOM, in-document declaration, detection, then UTF-8."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

import charset_normalizer

SNIFF_BYTES = 8192  # declarations live in the head; real pages put them within ~6 KB

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:\-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:\-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:\-]+)", re.IGNORECASE)

# What browsers actually use for these labels (WHATWG Encoding Standard): pages labelled
# Latin-1 routinely contain cp1252 smart quotes, and GB2312 pages contain GBK characters.
_SUPERSETS = {
    "ascii": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
}
_MULTIBYTE = {"utf-8", "utf-16", "utf-32", "gb18030", "big5", "cp949", "euc_jp", "shift_jis"}
_WESTERN = {
    "English",
    "Spanish",
    "Portuguese",
    "French",
    "German",
    "Italian",
    "Dutch",
    "Danish",
    "Swedish",
    "Norwegian",
    "Finnish",
    "Catalan",
    "Indonesian",
    "Malay",
    "Unknown",
}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def _try(body: bytes, encoding: str | None) -> str | None:
    """Decode strictly; a declared charset that does not fit the bytes is a wrong declaration."""
    if encoding is None:
        return None
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        # A size cap can cut a multibyte character in half; that is no reason to distrust the
        # whole declaration.
        if exc.start >= len(body) - 4:
            return body.decode(encoding, errors="replace")
        return None
    except LookupError:
        return None


def _detect(body: bytes) -> str | None:
    best = charset_normalizer.from_bytes(body[: 256 * 1024]).best()
    if best is None:
        return None
    encoding = _codec(best.encoding)
    if encoding is not None and encoding.startswith(("utf-16", "utf-32")):
        return None  # without a BOM these are guesses about binary noise
    # On mostly-ASCII Western text the detector cannot tell its many Latin code pages apart
    # (it calls a cp1252 page with two smart quotes "cp775"); cp1252 is what such pages
    # really use, and what browsers assume for unlabelled ones.
    if encoding not in _MULTIBYTE and best.language in _WESTERN and _try(body, "cp1252"):
        return "cp1252"
    return encoding


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, if any."""
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares in its head: XML declaration or ``<meta>``."""
    head = body[:SNIFF_BYTES]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode ``body``; return the text and the codec name that was used."""
    # A BOM is stronger evidence than any label (browsers let it override the header too).
    for bom, bom_encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_encoding, errors="replace"), bom_encoding
    # Non-ASCII bytes that are valid UTF-8 are UTF-8 whatever the label says: legacy text almost
    # never forms valid UTF-8 by chance, while servers that label everything ISO-8859-1 abound.
    if not body.isascii():
        text = _try(body, "utf-8")
        if text is not None:
            return text, "utf-8"
    # Then the header, the document's own declaration, plain UTF-8 (most undeclared pages are
    # UTF-8, and detection is slow and fallible on ASCII-heavy text), and detection.
    candidates: tuple[Callable[[], str | None], ...] = (
        lambda: _codec(charset_from_content_type(content_type)),
        lambda: _codec(declared_charset(body)),
        lambda: "utf-8",
        lambda: _detect(body),
    )
    for candidate in candidates:
        encoding = candidate()
        text = _try(body, encoding)
        if text is not None and encoding is not None:
            return text, encoding
    return body.decode("utf-8", errors="replace"), "utf-8"
