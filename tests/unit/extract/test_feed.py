"""Specification of feed extraction: real RSS/Atom/JSON feeds, awkward encodings, XML attacks."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from haystack_collector.extract.feed import (
    FeedEntry,
    FeedError,
    extract_feed,
    feed_info,
    html_to_text,
    parse_feed,
)
from haystack_collector.extract.records import to_json
from tests.fixtures import REAL, real_bytes, reduced_bytes


def real_feed(name: str, sha256_prefix: str) -> bytes:
    """A pristine real feed (MANIFEST.md gives the hash prefix of each)."""
    return real_bytes(f"feeds/{name}", sha256_prefix)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- real feeds (ground truth from MANIFEST.md) -------------------------------------------


def test_atom_feedburner_with_stylesheet_instructions_and_crlf() -> None:
    data = real_feed("atom_feedburner_xslpi.atom", "d5c4fbe579a6b03c")
    info, entries = parse_feed(data)

    assert (info.title, info.format) == ("Google Ads Developer Blog", "atom10")
    assert len(entries) == 25
    first = entries[0]
    assert first.title == "AdWords and DFP Java client library will soon require Java 7+"
    assert first.link == (
        "http://feedproxy.google.com/~r/blogspot/lQlzL/~3/Zjf41PDVLAc/"
        "adwords-and-dfp-java-client-library.html"
    )
    assert first.id == "tag:blogger.com,1999:blog-7815614485808579332.post-8394866751819460570"
    # 2016-06-03T07:38:22.568-07:00, to the second, in UTC.
    assert first.updated == utc("2016-06-03T07:38:22-07:00")
    assert first.updated is not None
    assert first.updated.tzinfo == UTC
    assert first.categories == ["adwords_api", "client_libraries", "dfp_api"]
    # Content given as HTML comes out as text.
    assert first.summary is not None
    assert first.summary.startswith("After November 2016, all releases of the Google Ads API")
    assert "<" not in first.summary


def test_atom_youtube_with_newline_before_the_xml_declaration() -> None:
    data = real_feed("atom_youtube_channel.xml", "4aabdad76bb93074")
    info, entries = parse_feed(data)

    assert (info.title, info.format) == ("Google", "atom10")
    assert len(entries) == 15
    first = entries[0]
    assert first.title == "The Google app: Questions Title"
    assert first.link == "http://www.youtube.com/watch?v=5shykyfmb28"
    assert first.updated == utc("2015-05-13T17:38:30+00:00")
    assert first.id == "yt:video:5shykyfmb28"


def test_json_feed_version_1() -> None:
    data = real_feed("jsonfeed_v1_inessential.json", "181a9042fae5e041")
    info, entries = parse_feed(data)

    assert (info.title, info.format) == ("inessential.com", "json1")
    assert len(entries) == 20
    first = entries[0]
    assert first.title == "James Dempsey and the Breakpoints Benefit App Camp for Girls"
    assert (
        first.link == "http://inessential.com/2017/06/02/james_dempsey_and_the_breakpoints_benefi"
    )
    assert first.published == utc("2017-06-02T22:05:47-07:00")
    assert first.author == "Brent Simmons"  # the feed's author stands for every item's


def test_rss091_in_iso8859_1_with_leading_newline() -> None:
    data = real_feed("rss091_iso8859-1_folha.rss", "525a30afc1da9f47")
    info, entries = parse_feed(data)

    assert info.title == "Folha.com - Colunas - Futebol na Rede"
    assert info.format.startswith("rss091")
    assert len(entries) == 15
    first = entries[0]
    assert first.title == "Vida de jogador: trocando seis por nada"
    assert first.link == (
        "http://redir.folha.com.br/redir/online/folha/colunas/futebolnarede/rss091/"
        "*http://www1.folha.uol.com.br/folha/colunas/futebolnarede/"
        "740548-vida-de-jogador-trocando-seis-por-nada.shtml"
    )
    assert first.published is None
    # Latin-1 accents decoded as such, not as mojibake.
    assert info.description == "Primeiro jornal em tempo real em língua portuguesa"


def test_rss10_rdf_craigslist_title_markup_becomes_text() -> None:
    data = real_feed("rss10rdf_craigslist_search.rss", "0df37407055b7c96")
    info, entries = parse_feed(data)

    assert info.title == "craigslist SF bay area | apts/housing for rent search"
    assert info.format == "rss10"
    assert len(entries) == 25
    first = entries[0]
    # The title is HTML: "&#x0024;4300 3bd 1930ft<sup>2</sup>" reads "$4300 3bd 1930ft2".
    assert first.title == (
        "Bright, Spacious Beautiful Victorian (oakland north / temescal) $4300 3bd 1930ft2"
    )
    assert first.link == "http://sfbay.craigslist.org/eby/apa/6186664607.html"
    assert first.published == utc("2017-06-21T10:33:10-07:00")


def test_rss10_items_dated_by_dc_date_alone_are_published_then() -> None:
    # The Craigslist feed without its dcterms:issued lines (reduced/MANIFEST.md).
    data = reduced_bytes(
        "feeds/rss10rdf_dcdate_only_reduced_from_craigslist.rss", "081a3c16fe65b0b7"
    )
    info, entries = parse_feed(data)

    assert info.format == "rss10"
    assert [(entry.link, entry.published) for entry in entries] == [
        ("http://sfbay.craigslist.org/eby/apa/6186664607.html", utc("2017-06-21T10:33:10-07:00")),
        ("http://sfbay.craigslist.org/sfc/apa/6156068288.html", utc("2017-06-21T10:33:00-07:00")),
        ("http://sfbay.craigslist.org/eby/apa/6186664268.html", utc("2017-06-21T10:32:59-07:00")),
    ]
    assert all(entry.updated == entry.published for entry in entries)
    newest_first = sorted(entries, key=lambda entry: entry.published or utc("1970-01-01"))[::-1]
    assert newest_first == entries


@pytest.mark.parametrize(
    ("item", "published", "updated"),
    [
        # RSS 2.0 items: dc:date alone, pubDate alone, no date.
        ("<item><title>a</title><dc:date>2003-06-10T04:00:00Z</dc:date></item>", True, True),
        (
            "<item><title>a</title><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate></item>",
            True,
            False,
        ),
        ("<item><title>a</title></item>", False, False),
    ],
    ids=["dc:date", "pubDate", "undated"],
)
def test_a_single_date_is_the_published_date(item: str, published: bool, updated: bool) -> None:
    data = rss(item).replace(b"<rss ", b'<rss xmlns:dc="http://purl.org/dc/elements/1.1/" ', 1)
    [entry] = extract_feed(data)
    when = datetime(2003, 6, 10, 4, 0, tzinfo=UTC)
    assert (entry.published, entry.updated) == (
        when if published else None,
        when if updated else None,
    )


def test_an_atom_entry_with_only_updated_is_published_then() -> None:
    data = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry><id>urn:1</id>
<title>x</title><updated>2024-01-02T03:04:05+02:00</updated></entry><entry><id>urn:2</id>
<title>y</title><published>2023-12-31T00:00:00Z</published><updated>2024-01-02T00:00:00Z</updated>
</entry></feed>"""
    first, second = extract_feed(data)
    assert first.published == first.updated == datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert second.published == datetime(2023, 12, 31, tzinfo=UTC)  # its own, not the update
    assert second.updated == datetime(2024, 1, 2, tzinfo=UTC)


def test_a_json_feed_item_with_only_date_modified_is_published_then() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"id": "1", "date_modified": "2024-05-07T00:00:00+02:00"}],
    }
    [entry] = extract_feed(json.dumps(document).encode())
    assert entry.published == entry.updated == datetime(2024, 5, 6, 22, 0, tzinfo=UTC)


def test_rss20_guardian() -> None:
    data = real_feed("rss20_guardian.rss", "d9723c5b5ea957f3")
    info, entries = parse_feed(data)

    assert (info.title, info.format) == ("The Guardian", "rss20")
    assert len(entries) == 55
    first = entries[0]
    assert first.title == "Trump State of the Union address promised unity but emphasized discord"
    assert first.link == (
        "https://www.theguardian.com/us-news/2018/jan/31/"
        "donald-trump-state-of-the-union-address-unity-discord"
    )
    assert first.published == datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC)
    assert first.author == "David Smith in Washington"
    assert first.categories[:2] == ["Donald Trump", "State of the Union address"]
    # Paragraphs of the HTML description stay separate words.
    assert first.summary is not None
    assert "contempt Donald Trump" in first.summary


def test_rss20_declared_gb2312() -> None:
    data = real_feed("rss20_gb2312_qqtech.xml", "2b83ca96391be968")
    info, entries = parse_feed(data)

    assert info.title == "互联网"
    assert len(entries) == 1
    [entry] = entries
    assert entry.title == "拟298亿元重组盛大游戏后 世纪华通发20亿回购预案"
    assert entry.link == "http://tech.qq.com/a/20180919/009008.htm"
    assert entry.published == utc("2018-09-19T05:11:22+00:00")


def test_rss20_reddit() -> None:
    data = real_feed("rss20_reddit_frontpage.rss", "a1f89d765edc4d18")
    info, entries = parse_feed(data)

    assert info.title == "reddit: the front page of the internet"
    assert len(entries) == 24
    first = entries[0]
    assert first.title == "The water is too deep, so he improvises"
    assert first.link == (
        "https://www.reddit.com/r/funny/comments/3skxqc/the_water_is_too_deep_so_he_improvises/"
    )
    assert first.published == datetime(2015, 11, 12, 21, 16, 39, tzinfo=UTC)
    assert first.categories == ["funny"]


@pytest.mark.parametrize("name", sorted(path.name for path in (REAL / "feeds").glob("*")))
def test_every_real_feed_gives_records_of_the_contract(name: str) -> None:
    data = (REAL / "feeds" / name).read_bytes()
    entries = extract_feed(data)
    assert entries
    assert extract_feed(data) == parse_feed(data)[1] == entries
    for entry in entries:
        assert [f.name for f in dataclasses.fields(entry)] == [
            "id",
            "title",
            "link",
            "published",
            "updated",
            "author",
            "summary",
            "categories",
        ]
        assert entry.link is None or entry.link.startswith("http")
        for moment in (entry.published, entry.updated):
            assert moment is None or moment.utcoffset() == timedelta(0)
        json.loads(to_json(entry))


# --- small documents ----------------------------------------------------------------------


def rss(items: str, *, prolog: str = '<?xml version="1.0" encoding="utf-8"?>\n') -> bytes:
    return (
        f'{prolog}<rss version="2.0"><channel><title>T</title><link>https://s.test/</link>'
        f"{items}</channel></rss>"
    ).encode()


def test_relative_links_are_resolved_against_the_base_url() -> None:
    data = rss("<item><title>A</title><link>/posts/a</link></item>")
    [entry] = extract_feed(data, base_url="https://blog.example/feed.xml")
    assert entry.link == "https://blog.example/posts/a"


def test_html_titles_become_plain_text_with_entities_decoded() -> None:
    data = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>
<entry><id>urn:1</id>
<title type="html">&lt;b&gt;Fish&lt;/b&gt; &amp;amp; chips &amp;eacute;t&amp;eacute;</title>
<link href="https://a.test/1"/><updated>2024-01-02T03:04:05+02:00</updated></entry>
<entry><id>urn:2</id><title type="text">1 &lt; 2 &amp; &lt;b&gt; stays</title></entry>
</feed>"""
    first, second = extract_feed(data)
    assert first.title == "Fish & chips été"
    assert first.updated == datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert second.title == "1 < 2 & <b> stays"  # plain text is already text
    assert (second.id, second.link) == ("urn:2", None)


def test_an_entry_without_link_keeps_its_guid() -> None:
    data = rss('<item><title>x</title><guid isPermaLink="false">abc-123</guid></item>')
    [entry] = extract_feed(data)
    assert (entry.id, entry.link) == ("abc-123", None)


def test_whitespace_and_bom_before_the_declaration_keep_the_declared_encoding() -> None:
    body = '<?xml version="1.0" encoding="iso-8859-1"?>\n' + (
        '<rss version="2.0"><channel><title>Café</title>'
        "<item><title>Ação</title><link>https://s.test/a</link></item></channel></rss>"
    )
    data = b"\xef\xbb\xbf \r\n\t" + body.encode("iso-8859-1")
    info, [entry] = parse_feed(data)
    assert (info.title, entry.title) == ("Café", "Ação")


def test_a_feed_without_entries_is_an_empty_list() -> None:
    assert extract_feed(rss("")) == []
    assert feed_info(rss("")).title == "T"


def test_json_feed_1_1_authors_tags_relative_urls_and_html_content() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "home_page_url": "https://j.test/blog/",
        "items": [
            {
                "id": 7,
                "url": "posts/7",
                "title": "Tom &amp; Jerry",
                "content_html": "<p>Hello</p><p>world &amp; more</p>",
                "date_published": "2024-05-06T07:08:09Z",
                "date_modified": "2024-05-07T00:00:00+02:00",
                "authors": [{"url": "https://a.test"}, {"name": "Ann"}],
                "tags": ["x", "y", "x"],
            },
            {"id": "no-url", "content_text": "just text"},
            "not an item",
        ],
    }
    info, (first, second) = parse_feed(json.dumps(document).encode())
    assert (info.title, info.format, info.link) == ("J", "json11", "https://j.test/blog/")
    assert first == FeedEntry(
        id="7",
        title="Tom & Jerry",
        link="https://j.test/blog/posts/7",
        published=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        updated=datetime(2024, 5, 6, 22, 0, tzinfo=UTC),
        author="Ann",
        summary="Hello world & more",
        categories=["x", "y"],
    )
    assert (second.id, second.title, second.link, second.summary) == (
        "no-url",
        None,
        None,
        "just text",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not an RSS, Atom or JSON feed"),
        (b"<html><head><title>Hi</title></head><body><p>page</p></body></html>", "not an RSS"),
        (bytes(range(256)) * 20, "not an RSS"),
        (b'{"version": "2", "items": []}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1"}', "without an items array"),
    ],
)
def test_what_is_not_a_feed_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        extract_feed(data)


def test_html_to_text() -> None:
    assert html_to_text("<p>a<br>b</p><ul><li>c</li></ul>x<sup>2</sup> &lt;&gt;") == "a b c x2 <>"


# --- XML attacks --------------------------------------------------------------------------


def billion_laughs(levels: int = 10) -> bytes:
    """The classic: each entity is ten of the one before, so &lol9; is 10**9 'lol's."""
    declarations = ['<!ENTITY lol0 "lol">']
    declarations += [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels)]
    subset = "\n".join(declarations)
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{subset}\n]>\n'
        f'<rss version="2.0"><channel><title>&lol{levels - 1};</title>'
        f"<item><title>boom &lol{levels - 1};</title><link>https://x.test/1</link>"
        f"<description>&lol{levels - 1};</description></item></channel></rss>"
    ).encode()


def fields_text(entries: list[FeedEntry]) -> str:
    return " ".join(to_json(entry) for entry in entries)


def test_billion_laughs_does_not_expand() -> None:
    started = time.perf_counter()
    info, entries = parse_feed(billion_laughs())
    assert time.perf_counter() - started < 2
    text = fields_text(entries) + str(info)
    assert "lol" * 20 not in text
    assert len(text) < 5000
    assert [entry.link for entry in entries] == ["https://x.test/1"]


def test_quadratic_blowup_does_not_expand() -> None:
    big = "A" * 100_000
    data = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{big}">]>'
        f'<rss version="2.0"><channel><title>t</title><item><title>{"&a;" * 10_000}</title>'
        "<link>https://x.test/q</link></item></channel></rss>"
    ).encode()
    started = time.perf_counter()
    entries = extract_feed(data)
    assert time.perf_counter() - started < 2
    assert "A" * 1000 not in fields_text(entries)


@pytest.mark.parametrize(
    "declaration",
    [
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">',
        '<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;',
        '<!ENTITY xxe PUBLIC "-//X//Y" "file:///etc/hostname">',
    ],
)
def test_external_entities_are_never_resolved(declaration: str) -> None:
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [{declaration}]>\n'
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>&xxe;</title><link>https://x.test/e</link></item></channel></rss>"
    ).encode()
    [entry] = extract_feed(data)
    assert "root:" not in fields_text([entry])
    # The reference stays unresolved: left as written or dropped, never replaced.
    assert entry.title in {None, "&xxe;"}


def test_a_harmless_doctype_does_not_stop_parsing() -> None:
    prolog = (
        '<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//'
        'DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
    )
    [entry] = extract_feed(
        rss("<item><title>ok</title><link>https://s.test/1</link></item>", prolog=prolog)
    )
    assert entry.title == "ok"


def test_timezones_are_normalized_to_utc() -> None:
    data = rss(
        "<item><title>a</title><link>https://s.test/a</link>"
        "<pubDate>Tue, 10 Jun 2003 04:00:00 -0500</pubDate></item>"
    )
    [entry] = extract_feed(data)
    assert entry.published == datetime(2003, 6, 10, 4, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert entry.published is not None
    assert entry.published.tzinfo == UTC


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0" encoding="utf\x00-8"?><rss version="2.0"><channel><item>'
        b"<title>x</title></item></channel></rss>",
        b'<rss version="2.0"><channel><item><media:thumbnail width="x"></width></item>'
        b"</channel></rss>&",
    ],
    ids=["nul-in-encoding", "loose-parser-width"],
)
def test_feedparser_crashing_on_malformed_input_is_a_feed_error(data: bytes) -> None:
    # feedparser raised ValueError and TypeError out of these (found by the fuzz test).
    with pytest.raises(FeedError, match="not a readable feed"):
        extract_feed(data)
