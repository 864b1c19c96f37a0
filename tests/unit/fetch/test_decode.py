"""Decoding real pages and feeds, including wrong and missing charsets."""

from __future__ import annotations

import codecs

import pytest

from haystack_collector.fetch import decode_body
from tests.fixtures import real_bytes


def real(name: str) -> bytes:
    return real_bytes(name)


def test_gb2312_feed_by_its_xml_declaration() -> None:
    text, encoding = decode_body(real("feeds/rss20_gb2312_qqtech.xml"), "application/rss+xml")
    assert encoding == "gb18030"  # GB2312's superset, as browsers do
    assert "互联网" in text
    assert "拟298亿元重组盛大游戏后 世纪华通发20亿回购预案" in text


def test_gb2312_feed_served_with_a_wrong_utf8_header() -> None:
    text, _ = decode_body(real("feeds/rss20_gb2312_qqtech.xml"), "text/xml; charset=utf-8")
    assert "世纪华通" in text


def test_gb2312_feed_without_any_declaration_is_detected() -> None:
    body = real("feeds/rss20_gb2312_qqtech.xml").replace(b' encoding="gb2312"', b"")
    text, encoding = decode_body(body)
    assert encoding == "gb18030"
    assert "互联网" in text


def test_latin1_feed_with_leading_newline_before_the_declaration() -> None:
    text, encoding = decode_body(real("feeds/rss091_iso8859-1_folha.rss"))
    assert encoding == "cp1252"  # ISO-8859-1 labels mean windows-1252 on the web
    assert "Folha.com - Colunas - Futebol na Rede" in text
    assert "Campeões" in text
    assert "\ufffd" not in text


def test_latin1_feed_wrongly_declared_utf8_falls_back_to_detection() -> None:
    body = real("feeds/rss091_iso8859-1_folha.rss").replace(b"ISO-8859-1", b"UTF-8")
    text, _ = decode_body(body, "text/xml; charset=UTF-8")
    assert "Campeões" in text
    assert "atenção" in text


def test_undeclared_cp1252_page_keeps_its_smart_quotes() -> None:
    text, encoding = decode_body(
        real("craigslist_search/cl2009_newyork_fuo_ligneroset_bare_p.html")
    )
    assert encoding == "cp1252"
    assert "Ligne Roset \u201cContours\u201d 4-door ebony oak console" in text
    assert "Found: 15 Displaying: 1 - 15" in text


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("bookmarks/firefox_export_zh_menu.html", "书签菜单"),
        ("craigslist_search/cl2025_phoenix_sof_jobs_staticresults.html", "🧑\u200d💻"),
        # No charset declared anywhere in this one: plain UTF-8 must win before detection.
        ("craigslist_search/cl2019_sfbay_sof_jobs_resultrow.html", 'class="plus">▸</span>'),
        (
            "craigslist_search/cl2023_rendered_gallery_clsearchresult.html",
            'ago<span class="separator">·',
        ),
    ],
)
def test_utf8_pages_with_and_without_declarations(name: str, needle: str) -> None:
    text, encoding = decode_body(real(name), "text/html")
    assert encoding == "utf-8"
    assert needle in text


def test_valid_utf8_beats_a_wrong_legacy_header() -> None:
    # Servers that label everything ISO-8859-1 are common; real Latin-1 text is almost never
    # valid UTF-8 by chance.
    text, encoding = decode_body("Café – naïve".encode(), "text/html; charset=iso-8859-1")
    assert (text, encoding) == ("Café – naïve", "utf-8")


def test_an_ascii_body_follows_its_label() -> None:
    assert decode_body("hi".encode("utf-16-le"), "text/plain; charset=utf-16le") == (
        "hi",
        "utf-16-le",
    )


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_a_bom_beats_the_header(bom: bytes, codec: str) -> None:
    text, encoding = decode_body(bom + "Grüße".encode(codec), "text/html; charset=iso-8859-1")
    assert (text, encoding) == ("Grüße", codec)


def test_meta_http_equiv_and_unknown_labels() -> None:
    page = '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>Привет'
    assert decode_body(page.encode("koi8-r"))[0].endswith("Привет")
    assert decode_body(b"<meta charset='no-such-codec'>plain")[1] == "utf-8"


def test_undecodable_bytes_end_as_utf8_with_replacement() -> None:
    text, encoding = decode_body(b"ok \x81\x8d\x8f\x90\x9d")
    # Bytes no codec explains; UTF-16 without a BOM is never guessed (as in browsers).
    assert (text[:3], encoding) == ("ok ", "utf-8")


def test_a_multibyte_character_cut_by_the_size_cap_does_not_discard_the_charset() -> None:
    body = "日本語のテキスト".encode()[:-1]
    text, encoding = decode_body(body, "text/plain; charset=utf-8")
    assert (encoding, text[:6]) == ("utf-8", "日本語のテキ")
