"""Specification of generic page extraction, on real captured pages and small documents."""

from __future__ import annotations

import dataclasses
import random
from html import escape

import pytest

from haystack_collector.extract import Field, Form, Image, Link, Page, extract_page
from tests.fixtures import real_bytes


def real_page(relative: str, sha256_prefix: str) -> bytes:
    """Read a pristine real capture (MANIFEST.md gives the hash prefix of each)."""
    return real_bytes(relative, sha256_prefix)


def page(html: str, base_url: str | None = "https://example.com/dir/page.html") -> Page:
    return extract_page(html, base_url=base_url)


# --- real pages (ground truth from MANIFEST.md) -------------------------------------------------


def test_realpython_fake_jobs_index() -> None:
    data = real_page("jobboard/realpython_fakejobs_index.html", "f3199d30c223be6b")
    result = extract_page(data, base_url="https://realpython.github.io/fake-jobs/")

    assert result.title == "Fake Python"
    # 200 <a href>: 100 "Learn" links to one URL, kept once, and 100 distinct "Apply" links.
    assert len(result.links) == 101
    assert result.links[0] == Link("https://www.realpython.com/", "Learn")
    apply_links = [link for link in result.links if link.text == "Apply"]
    assert len(apply_links) == 100
    assert apply_links[0].url == (
        "https://realpython.github.io/fake-jobs/jobs/senior-python-developer-0.html"
    )
    assert len(result.images) == 100
    assert result.forms == []


def test_realpython_fake_jobs_detail_has_no_links_images_or_forms() -> None:
    data = real_page(
        "jobboard/realpython_fakejobs_detail_senior-python-developer-0.html", "3a59e264901ba765"
    )
    result = extract_page(data, base_url="https://realpython.github.io/fake-jobs/jobs/x.html")

    assert result.title == "Fake Python"
    assert (result.links, result.images, result.forms) == ([], [], [])


def test_wikipedia_article() -> None:
    data = real_page("misc_html/readability_wikipedia.html", "7104f5945907560e")
    result = extract_page(data, base_url="https://en.wikipedia.org/wiki/Mozilla")

    assert result.title == "Mozilla - Wikipedia"
    assert result.canonical == "https://en.wikipedia.org/wiki/Mozilla"
    # 848 <a href>, many of them "#..." or repeated: every kept link is absolute, bare and unique.
    assert 400 < len(result.links) < 848
    urls = [link.url for link in result.links]
    assert len(set(urls)) == len(urls)
    assert all(url.startswith(("http://", "https://")) and "#" not in url for url in urls)
    assert Link("https://en.wikipedia.org/wiki/Firefox", "Firefox") in result.links
    # 16 <img src>; the infobox ones are protocol-relative, resolved with the page's scheme.
    assert len(result.images) == 16
    assert result.images[0].src == (
        "https://upload.wikimedia.org/wikipedia/commons/thumb/5/5c/"
        "Mozilla_dinosaur_head_logo.png/200px-Mozilla_dinosaur_head_logo.png"
    )
    assert result.images[-1].src == (
        "https://en.wikipedia.org/static/images/poweredby_mediawiki_88x31.png"
    )
    assert (result.images[0].width, result.images[0].height) == (200, 143)
    # The search form has no method attribute: GET.
    [search] = result.forms
    assert search.action == "https://en.wikipedia.org/w/index.php"
    assert search.method == "GET"
    assert [field.name for field in search.fields] == ["search", "title", "fulltext", "go"]
    assert search.fields[1] == Field("title", "hidden", "Special:Search")


def test_mozilla_customize_page() -> None:
    data = real_page("misc_html/readability_mozilla-1.html", "49171015a6f3313e")
    result = extract_page(data, base_url="https://www.mozilla.org/en-US/firefox/customize/")

    assert result.title == (
        "Firefox — Customize and make it your own — The most flexible browser on the Web — Mozilla"
    )
    assert len(result.images) == 6  # 7 <img>, one lazy image without src
    newsletter, language = result.forms
    assert newsletter.action == "https://www.mozilla.org/en-US/newsletter/"
    assert newsletter.method == "POST"
    defaults = {(field.name, field.default) for field in newsletter.fields}
    assert ("country", "us") in defaults  # the selected <option>
    assert ("fmt", "H") in defaults  # the checked radio
    assert ("privacy", None) in defaults  # an unchecked checkbox is not submitted
    # No action attribute: the form submits to the page itself.
    assert language.action == "https://www.mozilla.org/en-US/firefox/customize/"


def test_weworkremotely_listing() -> None:
    data = real_page("jobboard/weworkremotely_2026_all_jobs_raw.html", "65adbb6c16e7ea04")
    result = extract_page(data, base_url="https://weworkremotely.com/remote-jobs")

    assert result.title == "We Work Remotely | All Remote Jobs"
    assert len(result.images) == 314
    assert [(form.action, form.method) for form in result.forms] == [
        ("https://weworkremotely.com/remote-jobs/search", "GET")
    ] * 2
    job = next(
        link for link in result.links if link.url.endswith("/toggl-senior-product-manager-4")
    )
    # Text from nested block elements is joined with spaces, not glued together.
    assert job.text.startswith("Senior Product Manager New Toggl")


def test_indeed_serp() -> None:
    data = real_page("jobboard/indeed_2025_serp_alljobs.html", "a36b3e3ce739e2cf")
    result = extract_page(data, base_url="https://www.indeed.com/jobs?q=&l=Savannah")

    assert result.title == "All Jobs"
    assert len(result.images) == 1
    assert len(result.forms) == 2
    assert result.forms[0].action == (
        "https://www.indeed.com/jobs?q=&latLong=31.97987%2C-81.18076"
        "&locString=Savannah%2C%20GA%2C%2031419&radius=35&from=searchOnDesktopSerp"
    )


def test_cp1252_page_without_charset() -> None:
    data = real_page(
        "craigslist_search/cl2009_newyork_fuo_ligneroset_bare_p.html", "305604c9f9deac77"
    )
    base = "https://newyork.craigslist.org/search/fuo?query=ligne+roset"

    as_utf8 = extract_page(data, base_url=base)  # invalid UTF-8 is replaced, never raised
    as_cp1252 = extract_page(data, base_url=base, encoding="cp1252")

    for result in (as_utf8, as_cp1252):
        assert result.title == "classifieds - craigslist"
        assert (
            Link(
                "https://newyork.craigslist.org/mnh/fuo/1082742442.html",
                "Beautiful Ligne Roset Lumeo Armoire in Excellent Condition - $4499 -",
            )
            in result.links
        )


def test_firefox_bookmarks_skip_place_uris() -> None:
    data = real_page("bookmarks/netscape_firefox_nested.htm", "8702f1a78279f088")
    result = extract_page(data)

    # 24 <A>: 21 http(s) and 3 "place:" smart bookmarks, which are not crawlable.
    assert 0 < len(result.links) <= 21
    assert all(link.url.startswith(("http://", "https://")) for link in result.links)


# --- title ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "title"),
    [
        ("<title>Plain</title>", "Plain"),
        ("<title>\n  Spread \t over\n lines  </title>", "Spread over lines"),
        ("<title>Fish &amp; Chips &#8211; &eacute;t&eacute;</title>", "Fish & Chips – été"),
        ("<title><b>not markup</b></title>", "<b>not markup</b>"),
        ("<title></title>", ""),
        ("<p>No title here</p>", None),
        ("<title>First</title><title>Second</title>", "First"),
        ("<title>Page</title><svg><title>Tooltip</title></svg>", "Page"),
        ("<title>Unclosed", "Unclosed"),
    ],
)
def test_title(html: str, title: str | None) -> None:
    assert page(html).title == title


# --- links and base href -------------------------------------------------------------------------


def test_links_are_resolved_in_document_order() -> None:
    result = page(
        '<a href="b.html">B</a> <a href="/root">Root</a> <a href="//cdn.example.org/x">CDN</a>'
        ' <a href="https://other.org">Other</a> <map><area href="map.html" alt=" Map  area "></map>'
    )
    assert result.links == [
        Link("https://example.com/dir/b.html", "B"),
        Link("https://example.com/root", "Root"),
        Link("https://cdn.example.org/x", "CDN"),
        Link("https://other.org/", "Other"),
        Link("https://example.com/dir/map.html", "Map area"),
    ]


def test_frames_are_listed_once_in_document_order() -> None:
    result = page(
        '<frameset><frame src="toc.html" name="toc"><frame src=" main.html#top ">'
        '<frame src="toc.html"><frame><frame src="#x"><frame src="javascript:void(0)"></frameset>'
    )
    assert result.frames == [
        "https://example.com/dir/toc.html",
        "https://example.com/dir/main.html",
    ]
    assert result.links == []  # a frame is no hyperlink: it has no text, and it is shown in place


def test_iframes_are_frames() -> None:
    result = page(
        '<p><a href="a.html">A</a><iframe src="//video.example.org/embed/1"></iframe>'
        '<iframe src="a.html"></iframe><iframe></iframe></p>'
    )
    assert result.frames == ["https://video.example.org/embed/1", "https://example.com/dir/a.html"]
    assert result.links == [Link("https://example.com/dir/a.html", "A")]


def test_frames_resolve_against_base_href() -> None:
    result = page(
        '<head><base href="https://example.com/docs/"></head>'
        '<frameset><frame src="body.html"></frameset>'
    )
    assert result.frames == ["https://example.com/docs/body.html"]


def test_links_that_are_not_pages_are_skipped() -> None:
    result = page(
        '<a href="#top">top</a><a href="  #x">x</a><a href="javascript:void(0)">js</a>'
        '<a href="JavaScript:go()">js</a><a href="mailto:a@b.c">mail</a><a href="tel:123">tel</a>'
        '<a href="data:text/plain,hi">data</a><a href="ftp://f.org/">ftp</a><a href="">empty</a>'
        '<a name="anchor">no href</a><a href="http://[::1">broken</a><a href="ok">kept</a>'
    )
    assert result.links == [Link("https://example.com/dir/ok", "kept")]


def test_duplicate_links_are_kept_once_with_the_first_text() -> None:
    result = page(
        '<a href="x"><img src="i.png"></a><a href="x">Second</a>'
        '<a href="https://EXAMPLE.com:443/dir/x#frag">Third</a><a href="./x">Fourth</a>'
    )
    assert result.links == [Link("https://example.com/dir/x", "")]


def test_link_text_is_whitespace_collapsed_with_entities_decoded() -> None:
    result = page('<a href="x">\n  Caf&eacute;\n  <span>&amp;</span>\t<b>Bar</b>  </a>')
    assert result.links == [Link("https://example.com/dir/x", "Café & Bar")]


def test_base_href_overrides_the_page_url_for_every_link() -> None:
    result = page(
        '<a href="before">B</a><base href="/other/"><base href="https://ignored.org/">'
        '<a href="after">A</a><img src="i.png">'
    )
    assert result.base_url == "https://example.com/other/"
    assert [link.url for link in result.links] == [
        "https://example.com/other/before",
        "https://example.com/other/after",
    ]
    assert result.images[0].src == "https://example.com/other/i.png"


def test_unusable_base_href_is_ignored() -> None:
    result = page('<base href="javascript:alert(1)"><a href="x">x</a>')
    assert result.base_url == "https://example.com/dir/page.html"
    assert result.links == [Link("https://example.com/dir/x", "x")]


def test_absolute_base_href_works_without_a_page_url() -> None:
    result = page('<base href="http://example.net/a/"><a href="b">b</a>', base_url=None)
    assert result.base_url == "http://example.net/a/"
    assert result.links == [Link("http://example.net/a/b", "b")]


def test_without_any_base_only_absolute_links_are_kept() -> None:
    result = page('<a href="relative">r</a><a href="http://example.org/">abs</a>', base_url=None)
    assert result.base_url is None
    assert result.links == [Link("http://example.org/", "abs")]


# --- images --------------------------------------------------------------------------------------


def test_images() -> None:
    result = page(
        '<img src="a.png" alt="A" width="120" height=" 80 ">'
        '<img src="b.png" width="100px" height="50%">'
        '<img src="c.png" alt="" width="-3" height="1.5">'
        '<img alt="lazy" data-src="lazy.png"><img src="data:image/png;base64,AAAA">'
        '<img src=""><img src="a.png" alt="again">'
    )
    assert result.images == [
        Image("https://example.com/dir/a.png", "A", 120, 80),
        Image("https://example.com/dir/b.png", None, None, None),
        Image("https://example.com/dir/c.png", "", None, None),
        Image("https://example.com/dir/a.png", "again", None, None),
    ]


# --- forms ---------------------------------------------------------------------------------------


FORM = """
<form name="search" action="/find?x=1" method="post">
  <input name="q" value="python">
  <input name="page" type="HIDDEN" value="2">
  <input name="empty">
  <input value="no name">
  <input type="checkbox" name="remote" checked>
  <input type="checkbox" name="junior" value="yes">
  <input type="checkbox" name="senior" value="yes" checked>
  <input type="radio" name="sort" value="date">
  <input type="radio" name="sort" value="relevance" checked>
  <select name="country"><option value="fr">France</option>
    <option value="de" selected>Germany</option></select>
  <select name="first"><option>  Alpha  </option><option>Beta</option></select>
  <select name="multi" multiple><option value="1">1</option></select>
  <select name="none"></select>
  <textarea name="note">
Hello &amp; welcome</textarea>
  <button name="go" value="now">Go</button>
  <button>unnamed</button>
  <button name="reset" type="reset">Reset</button>
</form>
"""


def test_form_fields_and_their_defaults() -> None:
    [form] = page(FORM).forms
    assert form == Form(
        "search",
        "https://example.com/find?x=1",
        "POST",
        [
            Field("q", "text", "python"),
            Field("page", "hidden", "2"),
            Field("empty", "text", ""),
            Field("remote", "checkbox", "on"),
            Field("junior", "checkbox", None),
            Field("senior", "checkbox", "yes"),
            Field("sort", "radio", None),
            Field("sort", "radio", "relevance"),
            Field("country", "select", "de"),
            Field("first", "select", "Alpha"),
            Field("multi", "select-multiple", None),
            Field("none", "select", None),
            Field("note", "textarea", "Hello & welcome"),
            Field("go", "submit", "now"),
            Field("reset", "reset", ""),
        ],
    )


@pytest.mark.parametrize(
    ("form_tag", "action", "method"),
    [
        ("<form>", "https://example.com/dir/page.html", "GET"),
        ('<form action="">', "https://example.com/dir/page.html", "GET"),
        ('<form action="next" method="Post">', "https://example.com/dir/next", "POST"),
        ('<form action="next" method=" get ">', "https://example.com/dir/next", "GET"),
        ('<form method="dialog">', "https://example.com/dir/page.html", "DIALOG"),
        ('<form method="PUT">', "https://example.com/dir/page.html", "GET"),  # invalid: GET
        ('<form action="javascript:submit()">', None, "GET"),
        ('<form action="mailto:a@b.c" method="post">', None, "POST"),
    ],
)
def test_form_action_and_method(form_tag: str, action: str | None, method: str) -> None:
    [form] = page(f"{form_tag}<input name=a></form>").forms
    assert (form.action, form.method) == (action, method)


def test_form_without_action_submits_to_the_page_not_the_base_href() -> None:
    [bare, relative] = page(
        '<base href="https://static.example.com/"><form></form><form action="s"></form>'
    ).forms
    assert bare.action == "https://example.com/dir/page.html"
    assert relative.action == "https://static.example.com/s"


def test_forms_are_listed_in_document_order_with_their_own_fields() -> None:
    forms = page(
        '<form name="one"><input name="a"></form><p><form name="two"><input name="b"></form>'
    ).forms
    assert [(form.name, [field.name for field in form.fields]) for form in forms] == [
        ("one", ["a"]),
        ("two", ["b"]),
    ]


# --- meta refresh, canonical, robots -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "target"),
    [
        ("5; url=/next", "https://example.com/next"),
        ("0;URL='https://other.org/x'", "https://other.org/x"),
        ('0; url="later.html"', "https://example.com/dir/later.html"),
        ("3, next.html", "https://example.com/dir/next.html"),
        ("  1 ;  url = spaced.html  ", "https://example.com/dir/spaced.html"),
        ("30", None),  # a plain reload
        ("url=/no-delay", None),  # browsers need the delay first
        ("", None),
        ("0; url=javascript:alert(1)", None),
    ],
)
def test_meta_refresh(content: str, target: str | None) -> None:
    html = f'<meta http-equiv="Refresh" content="{escape(content)}">'
    assert page(html).meta_refresh == target


def test_no_meta_refresh_without_the_http_equiv() -> None:
    assert page('<meta name="refresh" content="0; url=/x">').meta_refresh is None


@pytest.mark.parametrize(
    ("html", "canonical"),
    [
        ('<link rel="canonical" href="/dir/page">', "https://example.com/dir/page"),
        ('<link rel="Canonical" href="https://EXAMPLE.com/p#x">', "https://example.com/p"),
        ('<link rel="alternate canonical" href="p2">', "https://example.com/dir/p2"),
        (
            '<link rel="canonical" href="a"><link rel="canonical" href="b">',
            "https://example.com/dir/a",
        ),
        ('<link rel="stylesheet" href="s.css">', None),
        ('<link rel="canonical" href="">', "https://example.com/dir/page.html"),
        ("<p>none</p>", None),
    ],
)
def test_canonical(html: str, canonical: str | None) -> None:
    assert page(html).canonical == canonical


@pytest.mark.parametrize(
    ("metas", "noindex", "nofollow"),
    [
        ("", False, False),
        ('<meta name="robots" content="index, follow">', False, False),
        ('<meta name="robots" content="noindex">', True, False),
        ('<meta name="ROBOTS" content="NOFOLLOW">', False, True),
        ('<meta name="robots" content="noindex,nofollow">', True, True),
        ('<meta name="robots" content="none">', True, True),
        (
            '<meta name="robots" content="noindex"><meta name="robots" content="nofollow">',
            True,
            True,
        ),
        ('<meta name="googlebot" content="noindex, nofollow">', False, False),
        ('<meta name="robots">', False, False),
    ],
)
def test_robots_meta(metas: str, noindex: bool, nofollow: bool) -> None:
    result = page(f"<head>{metas}</head>")
    assert (result.robots_noindex, result.robots_nofollow) == (noindex, nofollow)


# --- input handling ------------------------------------------------------------------------------


def test_bytes_are_decoded_as_utf8_by_default_and_with_the_given_encoding() -> None:
    html = "<title>Crème brûlée</title>"
    assert extract_page(html.encode()).title == "Crème brûlée"
    assert extract_page(b"\xef\xbb\xbf" + html.encode()).title == "Crème brûlée"
    assert extract_page(html.encode("latin-1"), encoding="latin-1").title == "Crème brûlée"
    assert extract_page(html.encode("latin-1")).title == "Cr\ufffdme br\ufffdl\ufffde"
    assert extract_page(html.encode(), encoding="no-such-charset").title == "Crème brûlée"


def test_records_are_immutable() -> None:
    result = page('<a href="x">x</a>')
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.title = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.links[0].url = "changed"  # type: ignore[misc]


def _garbage(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize(
    "html",
    [
        "",
        b"",
        "   ",
        "<",
        "<a href=",
        '<a href="/truncated',
        "<html><head><title>Cut off",
        "<div><p><a href='x'>unclosed<table><tr><td><form><select><option>",
        "</a></form></select></html>",
        "<form action='/f'><input name=x value='unterminated></form>",
        "<!-- unterminated comment <a href=x>",
        "<script>document.write('<a href=x>')",
        "<![CDATA[ <a href=x> ]]>",
        _garbage(10_000),
        _garbage(100_000).decode("latin-1"),
        "\x00<a href='\x00x'>\x00</a>\x00",
        "<a href='x\ud800'>lone surrogate \udfff</a>",
        "<div>" * 5_000 + "<a href=deep>deep</a>",  # lexbor parses deep nesting in O(depth²)
        '<a href="/' + "a" * 1_000_000 + '">huge href</a>',
        '<img src="x.png" alt="' + "x" * 1_000_000 + '" width="' + "9" * 10_000 + '">',
        "<title>" + "t " * 100_000 + "</title>",
        '<meta http-equiv=refresh content="' + "0;" * 10_000 + '">',
        '<meta http-equiv=refresh content="0;' + " " * 200_000 + 'x">',
        "<a href=x>" * 10_000,
    ],
)
def test_malformed_input_never_raises(html: str | bytes) -> None:
    result = extract_page(html, base_url="https://example.com/")
    assert isinstance(result, Page)
    assert all(link.url.startswith("https://") for link in result.links)
