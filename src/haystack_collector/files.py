"""Files: safe local names, content sniffing, type agreement, classes of links and hashing.

Pure helpers shared by the downloader and the scanner; nothing here touches the network.

Type policy (``check_type``): the first bytes decide what a file IS; the URL's extension and the
Content-Type are only CLAIMS. Every claim we recognise must agree with the sniffed kind, or the
download is a mismatch and is not kept at all (its part file is deleted and the item records
``Error``). Keeping a lying file under another name would still put, say, an executable on disk
that some later tool trusts by its name; refusing is the safe choice. Generic content types
(``application/octet-stream`` and friends) and unknown extensions claim nothing. Kinds whose
signature is weak or absent (``tar``, ``mp3``, ``dmg``) also accept content we cannot identify;
textual kinds (txt, csv, html, svg) accept any text.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

__all__ = [
    "FILE_CLASSES",
    "INERT_SUFFIX",
    "TypeCheck",
    "check_type",
    "extension_of",
    "file_class",
    "file_hashes",
    "file_name_for",
    "is_loaded_name",
    "kind_for_content_type",
    "kind_for_extension",
    "parse_content_disposition",
    "safe_file_name",
    "sniff",
]

# --- safe names ---------------------------------------------------------------------------

MAX_NAME_BYTES = 200  # well under the 255-byte limit of common file systems, room for suffixes
_FALLBACK = "download"
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "clock$", "conin$", "conout$"}
    | {f"com{n}" for n in "123456789¹²³"}
    | {f"lpt{n}" for n in "123456789¹²³"}
)
_FORBIDDEN_CHARS = re.compile(r'[<>:"|?*\\/]')

# Names that something loads or runs just because the file is there: Python's site (``.pth``,
# ``sitecustomize``), imports from the folder (``.py``, bytecode, extension modules), the
# dynamic linker (``.so``, ``.dylib``, ``.dll`` beside a program), shells (rc files),
# desktops (``.desktop``, ``autorun.inf``, ``desktop.ini``, Explorer shortcuts) and Windows'
# search of the current folder for commands (``.bat``, ``.cmd``, ``.com``). Such a name gets
# ``INERT_SUFFIX``, so the bytes are kept but nothing picks them up.
INERT_SUFFIX = ".download"
_LOADED_EXTENSIONS = frozenset(
    {
        *("py", "pyw", "pyc", "pyo", "pyd", "pth", "pyz", "egg-link"),
        *("so", "dylib", "dll", "ocx", "cpl", "sys", "drv"),
        *("desktop", "service", "timer", "socket", "path", "autostart"),
        *("lnk", "scf", "url", "library-ms", "searchconnector-ms", "settingcontent-ms"),
        *("bat", "cmd", "com", "ps1", "psm1", "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta"),
        *("msc", "pif", "scr"),
    }
)
_LOADED_NAMES = frozenset(
    {
        *("sitecustomize.py", "usercustomize.py", "__init__.py", "__main__.py", "conftest.py"),
        *("bashrc", "bash_profile", "bash_login", "bash_logout", "profile", "zshrc", "zshenv"),
        *("zprofile", "zlogin", "zlogout", "cshrc", "tcshrc", "kshrc", "mkshrc", "inputrc"),
        *("pam_environment", "xprofile", "xinitrc", "xsession", "xsessionrc", "envrc", "env"),
        *("npmrc", "yarnrc", "pypirc", "netrc", "gitconfig", "gitattributes", "hgrc"),
        *("desktop.ini", "autorun.inf", "folder.htt", "makefile", "gnumakefile"),
    }
)
_VERSIONED_LIBRARY = re.compile(r"\.so(?:\.\d+)+$", re.IGNORECASE)


def is_loaded_name(name: str) -> bool:
    """Whether a file called ``name`` could be loaded or run by its mere presence."""
    lower = name.lower()
    bare = lower.lstrip(".")
    if bare in _LOADED_NAMES or lower in _LOADED_NAMES:
        return True
    _, dot, ext = bare.rpartition(".")
    return bool(dot and ext in _LOADED_EXTENSIONS) or bool(_VERSIONED_LIBRARY.search(lower))


def safe_file_name(name: str, *, fallback: str = _FALLBACK) -> str:
    """A name that stays inside any folder it is joined to, on POSIX and on Windows.

    Only the last path component survives (``../../etc/passwd`` becomes ``passwd``), after
    NFKC normalisation so look-alike slashes (U+FF0F, U+2215) count as slashes. Control and
    format characters (NUL, bidi overrides) are dropped, characters Windows forbids become
    ``_``, leading dots and trailing dots/spaces go, reserved device names get a ``_`` prefix,
    and the result is cut to ``MAX_NAME_BYTES`` of UTF-8 keeping the extension. A name that
    something would load or run on its own (``is_loaded_name``: ``.pth``, ``.so``, rc files...)
    ends in ``INERT_SUFFIX``.
    """
    text = unicodedata.normalize("NFKC", name).replace("\\", "/")
    text = text.replace("\u2215", "/").replace("\u2044", "/")  # division/fraction slashes
    last = text.rsplit("/", 1)[-1]
    kept = "".join(
        ch for ch in last if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
    )
    kept = _FORBIDDEN_CHARS.sub("_", kept)
    kept = " ".join(kept.split())  # tabs and runs of spaces: one space
    kept = kept.lstrip(". ").rstrip(". ")
    if not kept:
        return fallback
    stem = kept.split(".", 1)[0]
    if stem.lower() in _WINDOWS_RESERVED:
        kept = "_" + kept
    kept = _truncate(kept)
    return kept + INERT_SUFFIX if is_loaded_name(kept) else kept


def _truncate(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode()) > 16:
        stem, ext = name, ""
    room = MAX_NAME_BYTES - (len(ext.encode()) + 1 if ext else 0)
    cut = stem.encode()[:room].decode("utf-8", errors="ignore").rstrip(". ")
    return f"{cut}.{ext}" if ext else cut


_PARAM = re.compile(r"""([^\s;=]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)""")


def parse_content_disposition(value: str | None) -> str | None:
    """The file name a Content-Disposition header gives, ``filename*`` (RFC 6266) first."""
    if not value:
        return None
    params: dict[str, str] = {}
    for key, raw in _PARAM.findall(value):
        text = raw.strip()
        if text.startswith('"') and text.endswith('"') and len(text) >= 2:
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        params.setdefault(key.lower(), text)
    extended = params.get("filename*")
    if extended:
        charset, _, rest = extended.partition("'")
        _, _, encoded = rest.partition("'")
        if encoded:
            try:
                codecs.lookup(charset or "utf-8")  # unquote only decodes when it meets a %XX
                return unquote(encoded, encoding=charset or "utf-8", errors="strict")
            except (LookupError, UnicodeDecodeError):
                pass
    return params.get("filename") or None


def file_name_for(url: str, content_disposition: str | None = None) -> str:
    """The safe local name of a download: Content-Disposition's, else the URL path's last part."""
    given = parse_content_disposition(content_disposition)
    if given:
        return safe_file_name(given)
    path = urlsplit(url).path
    # Decode first: an encoded slash (..%2F..%2Fetc%2Fpasswd) is a slash to the file system.
    return safe_file_name(unquote(path.rsplit("/", 1)[-1] if path else ""))


def extension_of(url_or_name: str) -> str:
    """The lower-case extension (no dot) of a URL's path or a file name; ``""`` if none."""
    path = urlsplit(url_or_name).path if "://" in url_or_name else url_or_name
    suffix = PurePosixPath(unquote(path)).suffix
    return suffix[1:].lower() if suffix else ""


# --- sniffing -----------------------------------------------------------------------------

SNIFF_BYTES = 8192  # what ``sniff`` needs at most

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),  # doc, xls, ppt, msi
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"PK\x07\x08", "zip"),  # a spanned archive
    (b"%!PS", "postscript"),
    (b"\xc5\xd0\xd3\xc6", "postscript"),  # DOS EPS binary header
    (b"ITSF", "chm"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"{\\rtf", "rtf"),
    (b"OggS", "ogg"),
    (b"\x1a\x45\xdf\xa3", "webm"),  # Matroska/WebM (EBML)
    (b"fLaC", "flac"),
    (b"ID3", "mp3"),
    (b"\x7fELF", "elf"),
    (b"MZ", "pe"),
    (b"!<arch>\ndebian", "deb"),
    (b"\xed\xab\xee\xdb", "rpm"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\x00\x00\x01\x00", "ico"),
)
_RIFF = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}
_HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<title",
    b"<iframe",
    b"<style",
    b"<table",
    b"<div",
    b"<h1",
    b"<a ",
    b"<p>",
    b"<br",
    b"<!--",
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")


def sniff(head: bytes) -> str | None:  # noqa: PLR0911 - one return per signature family
    """The kind the first bytes show (``pdf``, ``zip``, ``html``, ``text``...), None if unknown."""
    if not head:
        return None
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"%PDF-" in head[:1024]:  # readers accept junk before the header
        return "pdf"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"RIFF") and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mp3"  # an MPEG audio frame sync without an ID3 tag
    if head.startswith(b"BM") and len(head) >= 26 and head[6:10] == b"\0\0\0\0":
        return "bmp"
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str | None:
    if b"\x00" in head and not head.startswith(_BOMS[1:]):
        return None
    for bom in _BOMS:
        if head.startswith(bom):
            return "text" if bom != _BOMS[0] else _html_or_text(head[len(bom) :])
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if controls > len(head) // 100:
        return None
    return _html_or_text(head)


def _html_or_text(head: bytes) -> str:
    start = head.lstrip()[:64].lower()
    if start.startswith(b"<?xml") and b"<svg" in head[:1024].lower():
        return "svg"
    return "html" if start.startswith(_HTML_STARTS) else "text"


# --- claims and agreement -----------------------------------------------------------------

_EXTENSIONS: dict[str, str] = {
    **dict.fromkeys(("pdf",), "pdf"),
    **dict.fromkeys(("doc", "xls", "ppt", "msi", "dot", "xlt", "pps"), "ole2"),
    **dict.fromkeys(
        ("zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "jar", "apk", "epub"), "zip"
    ),
    **dict.fromkeys(("ps", "eps"), "postscript"),
    **dict.fromkeys(("txt", "csv", "text", "log", "md"), "text"),
    **dict.fromkeys(("html", "htm", "xhtml"), "html"),
    **dict.fromkeys(("jpg", "jpeg", "jpe"), "jpeg"),
    **dict.fromkeys(("gz", "tgz"), "gzip"),
    **dict.fromkeys(("bz2", "tbz2"), "bzip2"),
    **dict.fromkeys(("xz", "txz"), "xz"),
    **dict.fromkeys(("mp4", "m4a", "m4v", "mov"), "mp4"),
    **dict.fromkeys(("ogg", "oga", "ogv", "opus"), "ogg"),
    **dict.fromkeys(("webm", "mkv"), "webm"),
    **dict.fromkeys(("exe", "dll"), "pe"),
    **dict.fromkeys(("tif", "tiff"), "tiff"),
    **{
        kind: kind
        for kind in (
            "chm", "rtf", "png", "gif", "bmp", "ico", "webp", "svg", "mp3", "wav", "avi",
            "flac", "7z", "rar", "tar", "deb", "rpm", "dmg",
        )
    },
}  # fmt: skip
_MIME: dict[str, str] = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/msword": "ole2",
    "application/vnd.ms-excel": "ole2",
    "application/vnd.ms-powerpoint": "ole2",
    "application/x-msi": "ole2",
    "application/x-ole-storage": "ole2",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/java-archive": "zip",
    "application/vnd.android.package-archive": "zip",
    "application/epub+zip": "zip",
    "application/postscript": "postscript",
    "application/vnd.ms-htmlhelp": "chm",
    "application/x-chm": "chm",
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
    "application/x-bzip2": "bzip2",
    "application/x-xz": "xz",
    "application/x-7z-compressed": "7z",
    "application/vnd.rar": "rar",
    "application/x-rar-compressed": "rar",
    "application/x-tar": "tar",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/x-icon": "ico",
    "image/vnd.microsoft.icon": "ico",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "video/ogg": "ogg",
    "application/ogg": "ogg",
    "video/webm": "webm",
    "audio/webm": "webm",
    "video/x-matroska": "webm",
    "video/mp4": "mp4",
    "audio/mp4": "mp4",
    "video/quicktime": "mp4",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "video/x-msvideo": "avi",
    "audio/flac": "flac",
    "application/x-msdownload": "pe",
    "application/x-dosexec": "pe",
    "application/vnd.microsoft.portable-executable": "pe",
    "application/x-executable": "elf",
    "application/x-elf": "elf",
    "application/vnd.debian.binary-package": "deb",
    "application/x-debian-package": "deb",
    "application/x-rpm": "rpm",
    "application/x-redhat-package-manager": "rpm",
    "application/x-apple-diskimage": "dmg",
}
_MIME_PREFIXES = (
    ("application/vnd.openxmlformats-officedocument.", "zip"),
    ("application/vnd.oasis.opendocument.", "zip"),
    ("text/", "text"),
)
# Content types that say "some bytes": they claim nothing.
_GENERIC_MIME = frozenset(
    {
        "application/octet-stream",
        "binary/octet-stream",
        "application/binary",
        "application/download",
        "application/force-download",
        "application/x-download",
        "application/unknown",
    }
)
_TEXTUAL = frozenset({"text", "html", "svg"})
_WEAK = frozenset({"tar", "mp3", "dmg"})  # no reliable signature at the start


def kind_for_extension(extension: str) -> str | None:
    """The kind an extension (no dot) claims, or None when it claims nothing we know."""
    return _EXTENSIONS.get(extension.lower().lstrip("."))


def kind_for_content_type(content_type: str | None) -> str | None:
    """The kind a Content-Type claims; None when absent, generic or unknown."""
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in _GENERIC_MIME:
        return None
    found = _MIME.get(mime)
    if found is not None:
        return found
    return next((kind for prefix, kind in _MIME_PREFIXES if mime.startswith(prefix)), None)


def _agrees(claim: str, sniffed: str | None) -> bool:
    if claim == sniffed:
        return True
    if claim in _TEXTUAL:
        return sniffed in _TEXTUAL
    return claim in _WEAK and sniffed is None


@dataclass(frozen=True, slots=True)
class TypeCheck:
    """What the bytes are, what was claimed, and the mismatch (None when all agree)."""

    sniffed: str | None
    by_extension: str | None
    by_content_type: str | None
    mismatch: str | None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


def check_type(head: bytes, *, name: str, content_type: str | None) -> TypeCheck:
    """Whether the name's extension and the Content-Type agree with the first bytes."""
    sniffed = sniff(head)
    by_extension = kind_for_extension(extension_of(name))
    by_type = kind_for_content_type(content_type)
    problems = [
        f"{what} says {claim} but the content is {sniffed or 'unrecognised'}"
        for what, claim in (("extension", by_extension), ("Content-Type", by_type))
        if claim is not None and not _agrees(claim, sniffed)
    ]
    mismatch = "type mismatch: " + "; ".join(problems) if problems else None
    return TypeCheck(sniffed, by_extension, by_type, mismatch)


# --- classes of links ---------------------------------------------------------------------

FILE_CLASSES: dict[str, frozenset[str]] = {
    "documents": frozenset(
        ("pdf", "doc", "docx", "txt", "ppt", "pptx", "ps", "chm", "rtf", "odt", "xls", "xlsx")
    ),
    "media": frozenset(
        (
            *("png", "jpg", "jpeg", "gif", "webp", "bmp", "svg", "ico", "tif", "tiff"),
            *("mp3", "ogg", "oga", "opus", "wav", "flac", "m4a"),
            *("mp4", "m4v", "mov", "webm", "mkv", "avi", "ogv"),
        )
    ),
    "applications": frozenset(("exe", "msi", "dmg", "deb", "rpm", "apk", "jar")),
    "archives": frozenset(("zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "rar")),
}


def file_class(url: str, classes: Iterable[str] = FILE_CLASSES) -> str | None:
    """The class (of ``classes``) a link's extension puts it in, or None."""
    extension = extension_of(url)
    return next((c for c in classes if extension in FILE_CLASSES.get(c, ())), None)


# --- hashing ------------------------------------------------------------------------------

_CHUNK = 1024 * 1024


def file_hashes(path: Path) -> tuple[str, str]:
    """``(md5, sha256)`` hex digests of a file, read once in chunks."""
    md5 = hashlib.md5(usedforsecurity=False)  # an identifier users look files up by
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()
