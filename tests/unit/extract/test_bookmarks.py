"""Specification of bookmark extraction: browser exports, shortcuts, webloc, URL lists."""

from __future__ import annotations

import dataclasses
import json
import os
import plistlib
import time
from datetime import UTC, datetime

import pytest

from haystack_collector.extract.bookmarks import (
    MAX_FOLDER_DEPTH,
    Bookmark,
    detect_bookmark_format,
    extract_bookmark_file,
    extract_bookmarks,
)
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.records import to_json
from tests.fixtures import REAL, real_bytes


def real_file(name: str, sha256_prefix: str) -> bytes:
    """A pristine real bookmark file (MANIFEST.md gives the hash prefix of each)."""
    return real_bytes(f"bookmarks/{name}", sha256_prefix)


def epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --- real files (ground truth from MANIFEST.md) -------------------------------------------


def test_chromium_export_with_nested_folders() -> None:
    data = real_file("netscape_chromium_nested.htm", "6fc2017ba07b85a7")
    found = extract_bookmarks(data)

    assert detect_bookmark_format(data) == "netscape"
    assert len(found) == 18
    assert all(b.url.startswith(("http://", "https://")) for b in found)
    assert found[0] == Bookmark(
        url="http://www.jabber.org/",
        title="jabber.org - the original XMPP instant messaging service",
        folder=["Personal toolbar"],  # the first folder; the H1 is the file's title, no folder
        added=epoch(1466010266),
        tags=[],
        description=None,
    )
    assert not any(b.description for b in found)  # no <DD> in the file
    assert len({tuple(b.folder) for b in found if b.folder}) <= 7  # 7 <H3> folders
    assert ["Dev", "PHP"] in [b.folder for b in found]


def test_firefox_export_with_place_uris_tags_and_descriptions() -> None:
    data = real_file("netscape_firefox_nested.htm", "8702f1a78279f088")
    found = extract_bookmarks(data)

    assert len(found) == 24
    assert sum(b.url.startswith("place:") for b in found) == 3
    assert sum(b.url.startswith(("http://", "https://")) for b in found) == 21
    assert sum(bool(b.tags) for b in found) == 20
    assert found[0].url == (
        "place:folder=BOOKMARKS_MENU&folder=UNFILED_BOOKMARKS&folder=TOOLBAR&queryType=1"
        "&sort=12&maxResults=10&excludeQueries=1"
    )
    assert found[0].title == "Recently saved"
    assert found[0].added == epoch(1460294956)
    assert found[0].folder == []
    timeline = found[2]
    assert timeline.tags == [
        "tolkien",
        "lord",
        "rings",
        "elves",
        "timeline",
        "graphics",
        "genealogy",
        "fantasy",
    ]
    assert timeline.description is None  # its <DD> is empty
    # The first folder is "Comics", which has a <DD> of its own: not a link's description.
    comics = [b for b in found if b.folder == ["Comics"]]
    assert comics
    assert all(b.description != "Comics, webcomics, fun stuff!" for b in found)


def test_delicious_export_flat_with_descriptions_on_four_of_five() -> None:
    data = real_file("netscape_delicious.htm", "1c52ffb8bddd7d33")
    found = extract_bookmarks(data)

    assert len(found) == 5
    assert found[0] == Bookmark(
        url="https://support.mozilla.org/en-US/kb/export-firefox-bookmarks-to-backup-or-transfer",
        title="Export Firefox bookmarks to backup or transfer",
        folder=[],
        added=epoch(1098309600),
        tags=["firefox", "bookmark", "export"],
        description=(
            "Export your bookmarks to an HTML file, which can be used as a backup or for "
            "importing into another web browser"
        ),
    )
    assert [b.description is not None for b in found] == [True, True, False, True, True]
    assert all(b.tags for b in found)
    assert found[3].description == '"Hello!"'  # entities decoded
    assert found[4].tags == ["@font-face", "os", "typography"]


def test_firefox_export_with_chinese_folders() -> None:
    data = real_file("firefox_export_zh_menu.html", "5d282b1affb78a9e")
    found = extract_bookmarks(data)

    assert len(found) == 139
    assert sum(b.url.startswith("place:") for b in found) == 3
    assert found[0].title == "最近使用的书签"
    assert found[0].added == epoch(1440995496)
    assert found[0].url.startswith("place:folder=BOOKMARKS_MENU")
    assert ["Mozilla Firefox"] in [b.folder for b in found]
    assert ["书签工具栏", "常用网址"] in [b.folder for b in found]
    assert not any(b.tags for b in found)  # no TAGS attributes
    # 128 <DD>: some empty, two describing folders; the rest describe links.
    described = sum(b.description is not None for b in found)
    assert 0 < described <= 128


def test_minimal_internet_shortcut() -> None:
    data = real_file("shortcut_minimal_Google.url", "d2edef8e43054be5")
    assert detect_bookmark_format(data) == "url"
    assert extract_bookmarks(data) == [Bookmark("http://www.google.com/", None, [], None, [], None)]
    [named] = extract_bookmark_file(data, name="shortcut_minimal_Google.url")
    assert named.title == "shortcut_minimal_Google"


def test_windows_shortcut_with_crlf_and_a_section_before_internetshortcut() -> None:
    data = real_file("shortcut_crlf_prop3_GitHub.url", "7725897ca7c3920d")
    [found] = extract_bookmark_file(data, name="GitHub.url")
    assert (found.url, found.title) == ("https://github.com/carlbennett/BNRBot", "GitHub")


@pytest.mark.parametrize("name", sorted(path.name for path in (REAL / "bookmarks").glob("*")))
def test_every_real_file_gives_records_of_the_contract(name: str) -> None:
    found = extract_bookmarks((REAL / "bookmarks" / name).read_bytes())
    assert found
    for bookmark in found:
        assert [f.name for f in dataclasses.fields(bookmark)] == [
            "url",
            "title",
            "folder",
            "added",
            "tags",
            "description",
        ]
        assert bookmark.added is None or bookmark.added.tzinfo == UTC
        json.loads(to_json(bookmark))


# --- other formats and edge cases ---------------------------------------------------------


def test_webloc_xml_and_binary_plists() -> None:
    plist = {"URL": "https://apple.test/page"}
    for data in (plistlib.dumps(plist), plistlib.dumps(plist, fmt=plistlib.FMT_BINARY)):
        assert detect_bookmark_format(data) == "webloc"
        [found] = extract_bookmark_file(data, name="Apple Page.webloc")
        assert (found.url, found.title) == ("https://apple.test/page", "Apple Page")


def test_a_plist_without_a_url_or_a_broken_one_gives_nothing() -> None:
    assert extract_bookmarks(plistlib.dumps({"Other": 1})) == []
    assert extract_bookmarks(b"bplist00\x00\x01garbage") == []
    assert extract_bookmarks(b'<?xml version="1.0"?><plist><dict><key>URL') == []


def test_a_plist_declaring_entities_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY x "https://evil.test/">]>'
        b'<plist version="1.0"><dict><key>URL</key><string>&x;</string></dict></plist>'
    )
    assert extract_bookmarks(data) == []


def test_text_url_list_skips_blanks_comments_and_non_urls_and_repeats() -> None:
    data = (
        b"# my reading list\r\nhttps://a.test/1\r\n\r\n  http://b.test/2  \n"
        b"not a url\nftp://files.test/x\nhttps://a.test/1\nmailto:x@y.test\n"
    )
    assert detect_bookmark_format(data) == "text"
    assert [b.url for b in extract_bookmarks(data)] == [
        "https://a.test/1",
        "http://b.test/2",
        "ftp://files.test/x",
    ]


def test_relative_hrefs_resolve_against_the_base_url() -> None:
    data = b'<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n<DT><A HREF="/x">X</A>\n</DL>'
    [found] = extract_bookmarks(data, base_url="https://base.test/dir/")
    assert found.url == "https://base.test/x"


def test_lower_case_markup_single_quotes_entities_and_millisecond_dates() -> None:
    data = (
        b"<dl><dt><h3>Work &amp; Play</h3><dl>"
        b"<dt><a href='https://q.test/?a=1&amp;b=2' add_date='1700000000000' tags=' a , b ,a'>"
        b"Q &lt;3</a><dd>line one\nline two</dl></dl>"
    )
    [found] = extract_bookmarks(data)
    assert found == Bookmark(
        url="https://q.test/?a=1&b=2",
        title="Q <3",
        folder=["Work & Play"],
        added=epoch(1700000000),
        tags=["a", "b"],
        description="line one line two",
    )


def test_windows_1252_export_without_utf8() -> None:
    data = (
        '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=windows-1252">\n'
        '<DL><p><DT><A HREF="https://c.test/">Café – “quoted”</A></DL>'
    ).encode("cp1252")
    [found] = extract_bookmarks(data)
    assert found.title == "Café – “quoted”"


def test_unbalanced_lists_do_not_break_extraction() -> None:
    data = (
        b"</DL></DL><DL><DT><H3>A</H3><DL><DT><A HREF='https://u.test/1'>1</A>"
        b"<DT><H3>B</H3><DL><DT><A HREF='https://u.test/2'>2</A>"
    )
    assert [(b.url, b.folder) for b in extract_bookmarks(data)] == [
        ("https://u.test/1", ["A"]),
        ("https://u.test/2", ["A", "B"]),
    ]


def test_an_anchor_without_href_is_skipped() -> None:
    data = b"<DL><DT><A NAME='x'>no link</A><DT><A HREF='https://h.test/'>h</A></DL>"
    assert [b.url for b in extract_bookmarks(data)] == ["https://h.test/"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(range(256)) * 64,
        os.urandom(4096) + b"\x00",
        b"\x89PNG\r\n\x1a\n" + bytes(500),
        "\u00e9\u00e8".encode("utf-16") * 100,
    ],
)
def test_binary_garbage_gives_no_records(data: bytes) -> None:
    assert extract_bookmarks(data) == []
    assert extract_bookmark_file(data, name="garbage.html") == []


def test_binary_garbage_is_no_format() -> None:
    assert detect_bookmark_format(bytes(range(256)) * 64) is None


def netscape_file(links: int, depth: int) -> bytes:
    parts = ["<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<TITLE>Bookmarks</TITLE>\n<DL><p>\n"]
    parts += [f'<DT><H3 ADD_DATE="1">Folder {n}</H3>\n<DL><p>\n' for n in range(depth)]
    parts += [
        f'<DT><A HREF="https://example.test/{n}" ADD_DATE="1700000000" TAGS="t{n % 7},x"'
        f' ICON="data:image/png;base64,iVBORw0KGgo=">Link &amp; {n}</A>\n<DD>About {n}\n'
        for n in range(links)
    ]
    parts += ["</DL><p>\n"] * (depth + 1)
    return "".join(parts).encode()


def test_a_hundred_thousand_links_in_deeply_nested_folders_are_read_in_linear_time() -> None:
    data = netscape_file(100_000, depth=MAX_FOLDER_DEPTH)
    started = time.perf_counter()
    found = extract_bookmarks(data)
    elapsed = time.perf_counter() - started

    # About 1.5 s on an idle 2-core machine; the bound only catches a quadratic blow-up (which
    # would take minutes), so a busy CI machine cannot make it flaky.
    assert elapsed < 30, f"took {elapsed:.2f}s"
    assert len(found) == 100_000
    last = found[-1]
    assert last.url == "https://example.test/99999"
    assert last.title == "Link & 99999"
    assert last.description == "About 99999"
    assert last.tags == ["t4", "x"]
    assert len(last.folder) == MAX_FOLDER_DEPTH
    assert last.folder[0] == "Folder 0"
    assert last.folder[-1] == f"Folder {MAX_FOLDER_DEPTH - 1}"


def test_folders_nested_deeper_than_the_limit_are_refused_with_the_reason() -> None:
    # Each link one folder deeper would make the folder paths, and memory, grow quadratically.
    data = netscape_file(1, depth=MAX_FOLDER_DEPTH + 1)

    with pytest.raises(DocumentLimitError, match=f"more than {MAX_FOLDER_DEPTH} deep"):
        extract_bookmarks(data)


@pytest.mark.parametrize("closing", ["\n", ""])
def test_links_never_closed_are_read_in_linear_time(closing: str) -> None:
    # Each unclosed <A> used to search the rest of the file for its </A> (or line end).
    data = (
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n"
        + (f'<DT><A HREF="https://example.test/">a link{closing}' * 100_000)
    ).encode()
    started = time.perf_counter()
    found = extract_bookmarks(data)

    assert time.perf_counter() - started < 30  # was minutes
    assert len(found) == 100_000
    assert found[0].title == "a link"


@pytest.mark.parametrize("add_date", ["\u00b2", "\u0663\u0664", "1" * 5000, "-5", "12x"])
def test_an_unreadable_add_date_is_ignored_and_the_bookmark_kept(add_date: str) -> None:
    data = (
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n"
        f'<DT><A HREF="https://example.test/" ADD_DATE="{add_date}">Kept</A>\n</DL>'
    ).encode()

    [bookmark] = extract_bookmarks(data)

    assert (bookmark.url, bookmark.title, bookmark.added) == ("https://example.test/", "Kept", None)
