"""Specification of the Craigslist extractors, on every real capture (ground truth: MANIFEST.md)."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from haystack_collector.extract.craigslist import (
    Posting,
    SearchResult,
    extract_posting,
    extract_search,
    post_id_from_url,
    search_next_url,
)
from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.records import to_json
from tests.fixtures import real_bytes, reduced_bytes

PACIFIC_STANDARD = timezone(timedelta(hours=-8))
PACIFIC_DAYLIGHT = timezone(timedelta(hours=-7))


def real_page(relative: str, sha256_prefix: str) -> bytes:
    """Read a pristine real capture (MANIFEST.md gives the hash prefix of each)."""
    return real_bytes(relative, sha256_prefix)


def first_words(text: str | None, count: int = 12) -> str:
    return " ".join((text or "").split()[:count])


def one_posting(data: bytes, base_url: str | None = None) -> Posting:
    [posting] = extract_posting(data, base_url=base_url)
    return posting


# --- search pages ---------------------------------------------------------------------------


def test_2009_bare_p_rows_split_price_and_hood_out_of_the_row() -> None:
    data = real_page("craigslist_search/cl2009_newyork_fuo_ligneroset_bare_p.html", "305604c9f9")
    rows = extract_search(data, base_url="https://newyork.craigslist.org/search/fuo")

    assert len(rows) == 15  # "Found: 15 Displaying: 1 - 15"
    # title_raw "Beautiful Ligne Roset Lumeo Armoire in Excellent Condition - $4499 -"
    assert rows[0] == SearchResult(
        post_id="1082742442",
        title="Beautiful Ligne Roset Lumeo Armoire in Excellent Condition",
        url="https://newyork.craigslist.org/mnh/fuo/1082742442.html",
        price=4499,
        posted=None,  # "Mar 19" carries no year
        hood="SoHo",
        nearby=False,
    )
    # A row without a price ("... sideboard -") keeps its whole title.
    assert any(row.price is None and row.title.endswith("sideboard") for row in rows if row.title)
    # The page is cp1252 (smart quotes at offset 6844): decoded, not mangled.
    assert any("\u201cContours\u201d" in (row.title or "") for row in rows)


def test_bare_rows_stay_relative_without_any_base() -> None:
    data = real_page("craigslist_search/cl2009_newyork_fuo_ligneroset_bare_p.html", "305604c9f9")
    assert extract_search(data)[0].url == "/mnh/fuo/1082742442.html"


def test_2012_p_row_itemdate_rows() -> None:
    data = real_page("craigslist_search/cl2012_sfbay_cta_miata_rowitemdate.html", "c59c94ef9e")
    rows = extract_search(data)

    assert len(rows) == 100  # "Found: 122 Displaying: 1 - 100"
    first = rows[0]
    assert first.title == "2008 Mazda MX-5 Miata Let us do the numbers!"
    assert first.url == "http://sfbay.craigslist.org/nby/ctd/3367578332.html"
    assert first.post_id == "3367578332"
    assert first.hood == "santa rosa"  # "(santa rosa)"
    assert first.price is None  # span.itempp is empty
    assert rows[1].price == 1500  # " $1500"
    assert not any(row.nearby for row in rows)
    assert search_next_url(data) == (
        "http://sanfrancisco.craigslist.org/search/cta?maxAsk=2000&query=miata&srchType=T&s=100"
    )


def test_2012_rows_without_a_neighbourhood_do_not_take_the_category_for_one() -> None:
    data = real_page("craigslist_search/cl2012_sfbay_cta_miata_rowitemdate.html", "c59c94ef9e")
    rows = {row.post_id: row for row in extract_search(data)}

    # <span class="itempn"></span> then <span class="itemcg"><small class="gc">owner</small>.
    assert rows["3367517938"].title == "Miata Hardtop Wanted"
    assert rows["3367517938"].hood is None
    assert sum(row.hood is None for row in rows.values()) == 6  # the six empty span.itempn
    assert not {row.hood for row in rows.values()} & {"owner", "dealer"}


def test_2010_2011_p_rows_with_the_hood_in_a_bare_font_after_the_link() -> None:
    # The 2012 capture's rows in the 2010-2011 shape (reduced/MANIFEST.md):
    # Oct 29 - <a href=...>92 Mazda Miata -</a> $1500<font size="-1"> (berkeley)</font>
    # <small class="gc"><a href=...>owner</a></small>
    data = reduced_bytes(
        "craigslist_search/cl2011_p_row_font_hood_reduced_from_cl2012.html", "dff647bb85937a92"
    )
    rows = extract_search(data)

    assert len(rows) == 16
    assert rows[0] == SearchResult(
        post_id="3367578332",
        title="2008 Mazda MX-5 Miata Let us do the numbers!",  # the link's trailing " -" dropped
        url="http://sfbay.craigslist.org/nby/ctd/3367578332.html",
        price=None,
        posted=None,  # "Oct 29": no year
        hood="santa rosa",
        nearby=False,
    )
    assert (rows[1].title, rows[1].price, rows[1].hood) == ("92 Mazda Miata", 1500, "berkeley")
    assert rows[4].hood == "san jose"  # written "( san jose)"
    assert rows[6].title == "2000 - Mazda - MX-5 Miata"  # inner " - " kept
    assert [row.hood is not None for row in rows] == [True] * 10 + [False] * 6
    assert (rows[10].title, rows[10].price, rows[10].hood) == ("Miata Hardtop Wanted", None, None)
    # The same listings as in the 2012 markup, field for field but the date.
    real = extract_search(
        real_page("craigslist_search/cl2012_sfbay_cta_miata_rowitemdate.html", "c59c94ef9e")
    )
    by_id = {row.post_id: row for row in real}
    assert [(r.title, r.url, r.price, r.hood) for r in rows] == [
        (r.title, r.url, r.price, r.hood) for r in (by_id[row.post_id] for row in rows)
    ]


@pytest.mark.parametrize(
    ("row", "hood"),
    [
        # 2009: bare <p>, the hood in a font after the link (price inside the link).
        (
            '<p> Apr 18 - <a href="/brw/reb/1128608404.html">Loft -</a><font size="-1"> '
            '(W. Woodland)</font> <span class="p"> img</span></p>',
            "W. Woodland",
        ),
        # 2010-2011: p.row, bare price text, the hood's font, then the category's small.gc.
        (
            '<p class="row"> Feb 23 - <a href="/que/spo/2230781276.html">Surfboard -</a> $490'
            '<font size="-1"> (astoria)</font> <small class="gc"><a href="/spo/">sporting goods'
            "</a></small></p>",
            "astoria",
        ),
        # ... and one without a hood: the category is not one.
        (
            '<p class="row"> Feb 23 - <a href="/que/spo/2230781277.html">Fins -</a> $40 '
            '<small class="gc"><a href="/spo/">sporting goods</a></small></p>',
            None,
        ),
        # 2012: span.itempn > font.
        (
            '<p class="row"><span class="itemdate"> Aug 20</span>'
            '<a href="/wst/fuo/3213144343.html">Crib</a><span class="itempp">$199</span>'
            '<span class="itempn"><font size="-1">'
            '(Westwood)</font></span><span class="itemcg"><small class="gc"><a href="/fuo/">'
            "furniture - by owner</a></small></span></p>",
            "Westwood",
        ),
        # 2013: the date in a small, the hood in span.itempnr > small.
        (
            '<p class="srch row" data-pid="3757140411"><span class="pl"><small><span class='
            '"itemdate">Apr 21</span></small> <a href="/eby/tid/3757140411.html">Tickets</a>'
            '</span><span class="itempnr"><span class="itempp"></span> <small> (alameda)</small>'
            '</span> <small class="gc"><a href="/tid/">tickets - by dealer</a></small></p>',
            "alameda",
        ),
        # 2014-2015: span.pnr > small.
        (
            '<p class="row" data-pid="4286406856"><span class="pl"><span class="date">Jan 28'
            '</span> <a href="/sfc/swp/4286406856.html">Condo</a></span><span class="l2">'
            '<span class="pnr"> <small> (russian hill)</small> <span class="px"></span></span>'
            "</span></p>",
            "russian hill",
        ),
        # 2016-2022: span.result-hood.
        (
            '<ul class="rows"><li class="result-row" data-pid="6990024478"><p class="result-info">'
            '<a href="/sfc/sof/d/x/6990024478.html" class="result-title hdrlnk">Dev</a>'
            '<span class="result-meta"><span class="result-hood"> (financial district)</span>'
            "</span></p></li></ul>",
            "financial district",
        ),
        # 2023+ server HTML: div.location.
        (
            '<ol class="cl-static-search-results"><li class="cl-static-search-result" title="Flat">'
            '<a href="https://milwaukee.craigslist.org/apa/d/flat/7936415355.html"><div class='
            '"title">Flat</div><div class="details"><div class="price">$1,325</div><div class='
            '"location">\n Wauwatosa\n </div></div></a></li></ol>',
            "Wauwatosa",
        ),
    ],
    ids=["2009", "2010-font", "2010-no-hood", "2012", "2013", "2014", "2016", "2023"],
)
def test_every_era_hood_markup_gives_the_place_without_parentheses(
    row: str, hood: str | None
) -> None:
    [result] = extract_search(row.encode())
    assert result.hood == hood


def test_2012_nothing_found_page_has_no_rows_and_no_next_page() -> None:
    data = real_page("craigslist_search/cl2012_sfbay_sss_noresults.html", "087d3ecc78")
    assert extract_search(data, base_url="https://sfbay.craigslist.org/search/sss") == []
    assert search_next_url(data) is None


def test_2014_p_row_with_day_banners() -> None:
    data = real_page("craigslist_search/cl2014_sfbay_sfc_swp_rowpl_banner.html", "6bdfec2d83")
    rows = extract_search(data, base_url="https://sfbay.craigslist.org/sfc/swp/")

    assert len(rows) == 31
    assert rows[0] == SearchResult(
        post_id="4286406856",
        title="KAUA'I one bedroom beachfront condo",
        url="https://sfbay.craigslist.org/sfc/swp/4286406856.html",
        price=None,
        posted=None,  # "Jan 28": no year
        hood="russian hill",  # "(russian hill)"
        nearby=False,
    )
    assert {row.price for row in rows} >= {2995}  # <span class="price">&#x0024;2995</span>
    assert search_next_url(data, base_url="https://sfbay.craigslist.org/sfc/swp/") == (
        "https://sfbay.craigslist.org/sfc/swp/index100.html"
    )


def test_2019_result_rows_of_a_jobs_search() -> None:
    data = real_page("craigslist_search/cl2019_sfbay_sof_jobs_resultrow.html", "560740051b")
    rows = extract_search(data)

    assert len(rows) == 120  # rangeFrom 1 - rangeTo 120 of totalcount 148
    assert rows[0] == SearchResult(
        post_id="6990024477",
        title="Senior iOS Engineer - up to $160,000",
        url=(
            "https://sfbay.craigslist.org/sfc/sof/d/san-francisco-airport-senior-ios/6990024477.html"
        ),
        price=None,  # jobs have no price
        posted=datetime(2019, 9, 30, 16, 53),
        hood=None,
        nearby=False,
    )
    assert sum(row.hood is not None for row in rows) > 0
    assert not any(row.nearby for row in rows)  # rows_before_nearby_header: 120
    # Relative next link, resolved against the page's canonical URL.
    assert search_next_url(data) == "https://sfbay.craigslist.org/search/sof?s=120"


def test_2023_rendered_gallery_cards() -> None:
    data = real_page("craigslist_search/cl2023_rendered_gallery_clsearchresult.html", "8ca9e5cc8a")
    rows = extract_search(data)

    assert len(rows) == 120
    assert len({row.post_id for row in rows}) == 120  # pids_unique
    assert rows[0] == SearchResult(
        post_id="7692736931",
        title="Solar tea light",
        url="https://boston.craigslist.org/nos/for/d/peabody-solar-tea-light/7692736931.html",
        price=5,  # "$5"
        posted=None,  # "12 mins ago" is relative to an unknown moment
        hood="Peabody",  # meta "12 mins ago · Peabody"
        nearby=False,
    )


def test_2025_static_results_skip_the_hub_links_item() -> None:
    data = real_page("craigslist_search/cl2025_phoenix_sof_jobs_staticresults.html", "ce84dc2667")
    rows = extract_search(data)

    assert len(rows) == 2  # the li.cl-static-hub-links is not a listing
    assert rows[0] == SearchResult(
        post_id="7896115661",
        title="Co-Founder / Founding Engineer \u2014 AI Startup with Global Impact",
        url=(
            "https://phoenix.craigslist.org/evl/sof/d/"
            "tempe-co-founder-founding-engineer-ai/7896115661.html"
        ),
        price=0,  # job rows carry "$0"
        posted=None,
        hood="Chandler, AZ",
        nearby=False,
    )
    assert rows[-1].title == "Launch Your Software Development Career \U0001f9d1\u200d\U0001f4bb"
    assert rows[-1].url == (
        "https://phoenix.craigslist.org/cph/sof/d/phoenix-launch-your-software/7894083922.html"
    )
    assert search_next_url(data) is None


def test_2026_static_results() -> None:
    data = real_page(
        "craigslist_search/cl2026_milwaukee_apa_wauwatosa_staticresults.html", "cf8f4789f8"
    )
    rows = extract_search(data)

    assert len(rows) == 37  # as many as the JSON-LD ItemList
    assert rows[0] == SearchResult(
        post_id="7936415355",
        title="Wauwatosa 2 Bdrm, 1 Bath Near MCW",
        url=(
            "https://milwaukee.craigslist.org/apa/d/"
            "milwaukee-wauwatosa-bdrm-bath-near-mcw/7936415355.html"
        ),
        price=1325,  # "$1,325"
        posted=None,
        hood="Wauwatosa",
        nearby=False,
    )
    assert rows[-1].title == "Charming 1 bed/1 bath, cat friendly, Avail. 06/17!"
    assert rows[-1].url == (
        "https://milwaukee.craigslist.org/apa/d/milwaukee-charming-bed-bath-cat/7928419584.html"
    )


NEARBY_2019 = b"""<html><head><link rel="canonical" href="https://sfbay.craigslist.org/search/sof">
</head><body><ul class="rows">
<li class="result-row" data-pid="7000000001"><p class="result-info">
 <time class="result-date" datetime="2020-01-02 10:30">Jan 2</time>
 <a href="/sfc/sof/d/local-job/7000000001.html" class="result-title hdrlnk">Local job</a>
 <span class="result-meta"><span class="result-price">$1,200.50</span>
 <span class="result-hood"> (mission)</span></span></p></li>
<h4 class="ban nearby">Few local results found. Here are some from nearby areas.</h4>
<li class="result-row" data-pid="7000000002"><p class="result-info">
 <a href="https://sacramento.craigslist.org/sof/d/far-job/7000000002.html"
    class="result-title hdrlnk">Far job</a>
 <span class="result-meta"><span class="nearby" title="sacramento">(sac &gt; davis)</span>
 </span></p></li>
</ul></body></html>"""

NEARBY_2014 = b"""<html><body><div class="content">
<p class="row" data-pid="4300000001"><span class="pl"><span class="date">Jan 28</span>
 <a href="/sfc/apa/4300000001.html">Here</a></span>
 <span class="l2"><span class="price">&#x0024;900</span>
 <span class="pnr"><small> (soma)</small></span></span></p>
<h4 class="ban"><span class="bantext">Mon Jan 27</span></h4>
<h4 class="ban"><span class="bantext">Few local results found. Here are some from nearby
 areas.</span></h4>
<p class="row" data-pid="4300000002"><span class="pl"><span class="date">Jan 27</span>
 <a href="http://monterey.craigslist.org/apa/4300000002.html">There</a></span></p>
</div></body></html>"""


def test_rows_after_a_nearby_areas_header_are_flagged_nearby() -> None:
    rows = extract_search(NEARBY_2019)
    assert [(row.post_id, row.nearby) for row in rows] == [
        ("7000000001", False),
        ("7000000002", True),
    ]
    assert rows[0].price == 1200.5
    assert rows[0].hood == "mission"
    assert rows[0].url == "https://sfbay.craigslist.org/sfc/sof/d/local-job/7000000001.html"
    assert rows[1].hood == "sac > davis"


def test_a_day_banner_is_not_a_nearby_header_but_the_nearby_banner_is() -> None:
    rows = extract_search(NEARBY_2014, base_url="https://sfbay.craigslist.org/search/apa")
    assert [(row.title, row.price, row.hood, row.nearby) for row in rows] == [
        ("Here", 900, "soma", False),
        ("There", None, None, True),
    ]


def test_a_www_view_link_is_read_like_any_posting_link() -> None:
    page = b"""<ol class="cl-static-search-results"><li class="cl-static-search-result"
        title="A job"><a href="https://www.craigslist.org/view/d/a-job/7900000001.html">
        <div class="title">A job</div><div class="details"><div class="price">$12.50</div>
        <div class="location"> Tempe </div></div></a></li></ol>"""
    [row] = extract_search(page)
    assert (row.post_id, row.url, row.price, row.hood) == (
        "7900000001",
        "https://www.craigslist.org/view/d/a-job/7900000001.html",
        12.5,
        "Tempe",
    )


def test_post_ids_come_from_posting_urls_of_every_era() -> None:
    assert post_id_from_url("http://sfbay.craigslist.org/nby/ctd/3367578332.html") == "3367578332"
    assert post_id_from_url("https://x.craigslist.org/sfc/sof/d/slug-2/6990024477.html") == (
        "6990024477"
    )
    assert post_id_from_url("https://www.craigslist.org/view/d/slug/7900000001.html?x=1") == (
        "7900000001"
    )
    assert post_id_from_url("https://sfbay.craigslist.org/search/sof?s=120") is None
    assert post_id_from_url(None) is None


# --- postings -------------------------------------------------------------------------------


def test_2012_userbody_posting() -> None:
    data = real_page(
        "craigslist_posting/cl2012_sfbay_pen_apa_3372916109_userbody.html", "aaa437267b"
    )
    posting = one_posting(data)

    assert posting.post_id == "3372916109"
    # h2 "$300 / 4br - 2000ft² - THANKSGIVING IN TAHOE -- ... (Tahoe-Truckee)": the document
    # title is the bare title.
    assert posting.title == "THANKSGIVING IN TAHOE -- Wonderful house/location, hot tub, sleeps 10+"
    assert posting.price == 300
    assert first_words(posting.body) == (
        "Great House for Thanksgiving Wed Nov 21 check in (a couple days"
    )
    assert posting.posted == datetime(2012, 10, 29, 11, 19, tzinfo=PACIFIC_DAYLIGHT)
    assert posting.updated is None
    assert posting.status == "active"
    # The body ends before the CLTAGS block; its blurbs are the attributes.
    assert "google map" not in (posting.body or "")
    assert "cats are OK - purrr" in posting.attributes
    assert (posting.latitude, posting.longitude) == (39.330779, -120.216608)
    assert len(posting.images) == 8
    assert all(url.startswith("http://images.craigslist.org/") for url in posting.images)


def test_2013_postingbody_with_a_decoy_date_in_the_body() -> None:
    data = real_page("craigslist_posting/cl2013a_sfbay_apa_3555443860.html", "9234b05ae2")
    posting = one_posting(data)

    assert posting.post_id == "3555443860"
    # h2 "$2050 / 3br - 1108ft² - Cherry St. Home with Large backyard (fremont / ...)"
    assert posting.title == "Cherry St. Home with Large backyard"
    assert posting.price == 2050
    assert first_words(posting.body) == (
        "Max Property Management | MAX Property Management, Inc. | (510) 505-0702 36633"
    )
    # <date>2013-01-27, 10:31AM PST</date>, not the body's "Posted: Nov 30, 2012".
    assert posting.posted == datetime(2013, 1, 27, 10, 31, tzinfo=PACIFIC_STANDARD)
    assert posting.status == "active"


def test_2015_posting() -> None:
    data = real_page("craigslist_posting/cl2015_sfbay_apa_4831182004.html", "4afd78f948")
    posting = one_posting(data)

    assert posting.post_id == "4831182004"
    assert posting.title == "~PARKS,TRAILS,AND SPACIOUS LIVING IN THIS GROUND FLOOR APARTMENT HOME~"
    assert posting.price == 2209
    assert first_words(posting.body) == (
        "Amber Court Apartment CALL US TODAY! show contact info This beautiful Two"
    )
    assert (posting.latitude, posting.longitude) == (37.576801, -122.042860)
    assert len(posting.images) == 4
    assert posting.posted == datetime(2015, 1, 3, 16, 6, 20, tzinfo=PACIFIC_STANDARD)
    assert posting.updated is None
    assert posting.attributes == [
        "2 BR",
        "apartment",
        "available feb 14",
        "w/d in unit",
        "carport",
        "cats are OK - purrr",
        "dogs are OK - wooof",
    ]


def test_2017_titletextonly_posting_with_an_update() -> None:
    data = real_page(
        "craigslist_posting/cl2017_sfbay_apa_5953880532_titletextonly.html", "aaba97921f"
    )
    posting = one_posting(data)

    assert posting.post_id == "5953880532"
    assert posting.title == "3BR 1867 Sqft Single Family home available for rent"
    assert posting.price == 3275  # "$3275"
    assert first_words(posting.body) == (
        "Open House Jan 15th 10AM - Noon 34529 Mahogany Lane, Union City,"
    )
    assert "QR Code Link" not in (posting.body or "")
    assert (posting.latitude, posting.longitude) == (37.591743, -122.006493)
    assert len(posting.images) == 9
    assert posting.posted == datetime(2017, 1, 10, 14, 13, 22, tzinfo=PACIFIC_STANDARD)
    assert posting.updated == datetime(2017, 1, 14, 18, 47, 34, tzinfo=PACIFIC_STANDARD)
    assert posting.attributes == [
        "4BR / 2.5Ba",
        "1867 ft 2",
        "available feb 15",
        "sunday 2017-01-15",
        "house",
        "w/d hookups",
        "no smoking",
        "attached garage",
    ]


def test_2022_posting_strips_the_qr_code_block_and_the_more_ads_link() -> None:
    data = real_page("craigslist_posting/cl2022_cto_7552653376_pre_redesign.html", "2bb34d8269")
    posting = one_posting(data)

    assert posting.post_id == "7552653376"
    assert posting.title == "K5 Blazer (Square Body)"
    assert posting.price == 20000  # "$20,000"
    assert first_words(posting.body) == (
        "K5 Blazer Wheeler:Complete Overhaul Rebuilt 350/350/205 14bolt full float Dana 44"
    )
    assert "QR Code" not in (posting.body or "")
    assert (posting.latitude, posting.longitude) == (48.002769, -122.085228)
    assert posting.posted == datetime(2022, 11, 1, 20, 7, 31, tzinfo=PACIFIC_DAYLIGHT)
    assert posting.updated == datetime(2022, 11, 1, 20, 7, 32, tzinfo=PACIFIC_DAYLIGHT)
    # MANIFEST's attrgroup spans, less "more ads by this user" (a link, no attribute).
    assert posting.attributes[:7] == [
        "1986 chevrolet k5 blazer",
        "condition: good",
        "cylinders: 8 cylinders",
        "drive: 4wd",
        "fuel: gas",
        "odometer: 123456",
        "paint color: black",
    ]
    # MANIFEST counts the 4 thumbnails rendered; the page's imgList has the whole gallery.
    assert len(posting.images) >= 4
    assert (
        posting.images[0] == "https://images.craigslist.org/00707_4SxHHnZZYVDz_0CI0t2_600x450.jpg"
    )


def test_2023_posting_without_a_price() -> None:
    data = real_page("craigslist_posting/cl2023_posting_no_price.html", "428d8b1853")
    posting = one_posting(data)

    assert posting.post_id == "7647523987"
    assert posting.title == "2019 Suzuki DR650 SKU:UK2101120-CA Suzuki DR650"
    assert posting.price is None
    assert first_words(posting.body) == (
        "Nault's Windham Motorcycles Ask for: Joey Labranch \u260e (802) 222-0394 60 Range"
    )
    assert (posting.latitude, posting.longitude) == (42.806427, -71.262245)
    assert len(posting.images) == 2
    # "Posted about 4 hours ago": the datetime attribute is what counts.
    assert posting.posted == datetime(2023, 7, 25, 20, 10, 58, tzinfo=timezone(timedelta(hours=-4)))
    assert posting.updated is None
    assert posting.attributes == [
        "2019 Suzuki DR650",
        "VIN: JS1SP46A2K2101120",
        "fuel:",
        "odometer: 3478",
        "paint color: custom",
        "title status: clean",
        "transmission: other",
    ]


def test_2026_posting_with_label_value_attributes() -> None:
    data = real_page("craigslist_posting/cl2026_milwaukee_apa_7936415355.html", "da8142d9b1")
    posting = one_posting(data)

    assert posting.post_id == "7936415355"
    assert posting.title == "Wauwatosa 2 Bdrm, 1 Bath Near MCW"  # not h2.street-address
    assert posting.price == 1325  # "$1,325"
    assert first_words(posting.body) == (
        "Beautifully updated, clean, quiet 2 bedroom, 1 bath apartment in the City"
    )
    assert (posting.latitude, posting.longitude) == (43.049222, -88.057494)
    assert posting.posted == datetime(2026, 5, 24, 8, 45, 51, tzinfo=timezone(timedelta(hours=-5)))
    # MANIFEST's spans "rent period:" and "monthly" are one label/value attribute.
    assert posting.attributes[:7] == [
        "2BR / 1Ba",
        "925ft 2",
        "available jun 1",
        "rent period: monthly",
        "cats are OK - purrr",
        "apartment",
        "w/d hookups",
    ]
    # MANIFEST counts 11 thumbnails; the poster uploaded one picture twice.
    assert len(posting.images) == 10
    assert len(set(posting.images)) == len(posting.images)


def test_deleted_posting() -> None:
    data = real_page("craigslist_posting/cl_deleted_by_author.html", "43e79dfd02")
    posting = one_posting(data)

    assert posting.status == "deleted"
    assert posting.title is None  # the only h2 is the notice
    assert first_words(posting.body) == (
        "This posting has been deleted by its author. (The title on the"
    )
    assert posting.post_id == "3618082811"  # from the page script: var pID = "3618082811"
    assert (posting.posted, posting.price, posting.images) == (None, None, [])


@pytest.mark.parametrize(
    ("notice", "status"),
    [
        ("This posting has been flagged for removal.", "flagged"),
        ("This posting has expired.", "expired"),
        ("This posting has been deleted by its author.", "deleted"),
    ],
)
def test_removal_notices_set_the_status(notice: str, status: str) -> None:
    page = f"""<html><body class="posting"><section class="body"><div class="removed">
        <h2>{notice}</h2><h5>(The title on the listings page will be removed.)</h5>
        </div></section></body></html>"""
    posting = one_posting(page.encode())
    assert posting.status == status
    assert posting.title is None


def test_job_postings_give_compensation_and_employment_type() -> None:
    old_style = b"""<html><body class="posting"><h2 class="postingtitle">
        <span class="postingtitletext"><span id="titletextonly">Python developer</span></span>
        </h2><div class="mapAndAttrs"><p class="attrgroup">
        <span>compensation: <b>$60-80/hr DOE</b></span><br>
        <span>employment type: <b>contract</b></span></p></div>
        <section id="postingbody">Build things.</section>
        <div class="postinginfos"><p class="postinginfo">post id: 7100000001</p>
        <p class="postinginfo reveal">posted: <time datetime="2021-03-04T05:06:07-0800">x</time>
        </p></div></body></html>"""
    new_style = b"""<html><body><h1 class="postingtitle"><span class="postingtitletext">
        <span id="titletextonly">Line cook</span></span></h1>
        <div class="attrgroup"><div class="attr remuneration"><span class="labl">compensation:
        </span><span class="valu">$22/hr</span></div><div class="attr job_type">
        <span class="labl">employment type:</span><span class="valu">full-time</span></div>
        </div><section id="postingbody">Cook.</section></body></html>"""

    old = one_posting(old_style)
    assert (old.title, old.compensation, old.employment_type) == (
        "Python developer",
        "$60-80/hr DOE",
        "contract",
    )
    assert old.post_id == "7100000001"
    assert old.posted == datetime(2021, 3, 4, 13, 6, 7, tzinfo=UTC)
    assert old.body == "Build things."
    new = one_posting(new_style)
    assert (new.title, new.compensation, new.employment_type) == (
        "Line cook",
        "$22/hr",
        "full-time",
    )
    assert new.attributes == ["compensation: $22/hr", "employment type: full-time"]


def test_images_resolve_against_the_page_url() -> None:
    page = b"""<html><body class="posting"><figure class="iw"><div id="thumbs">
        <a href="/img/1_600x450.jpg"><img src="/img/1_50x50c.jpg"></a>
        <a href="//images.craigslist.org/2_600x450.jpg"><img src="x_50x50c.jpg"></a></div>
        </figure><section id="postingbody">Hi</section></body></html>"""
    posting = one_posting(page, base_url="https://sfbay.craigslist.org/sfc/apa/1234567.html")
    assert posting.images == [
        "https://sfbay.craigslist.org/img/1_600x450.jpg",
        "https://images.craigslist.org/2_600x450.jpg",
    ]
    assert posting.body == "Hi"


def test_records_serialize_to_json() -> None:
    data = real_page("craigslist_posting/cl2015_sfbay_apa_4831182004.html", "4afd78f948")
    line = to_json(one_posting(data))
    assert '"posted": "2015-01-03T16:06:20-08:00"' in line
    assert '"status": "active"' in line
    row = SearchResult("1", "t", "https://x/1.html", 5, date(2020, 1, 2), None, False)
    assert '"posted": "2020-01-02"' in to_json(row)


# --- hostile input --------------------------------------------------------------------------

HOSTILE = [
    pytest.param(b"", id="empty"),
    pytest.param(os.urandom(4096), id="random-bytes"),
    pytest.param(b"\xff\xfe\x00<\x00p" * 500, id="utf16-ish-garbage"),
    pytest.param(b"<html><body><ul class='rows'><li class='result-row' data-pid=", id="truncated"),
    pytest.param(b"<div>" * 5_000 + b"deep", id="nested-5000-deep"),
    pytest.param(b"\x00" * 1000 + b"<p class='row'>\x00</p>", id="nul-bytes"),
    pytest.param(
        b"<html><head><title>Weather</title></head><body><h2>Sunny</h2><p>Mar 19 - warm"
        b"</p><a href='/next'>next</a></body></html>",
        id="not-craigslist",
    ),
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_input_gives_no_search_results(data: bytes) -> None:
    assert extract_search(data, base_url="https://sfbay.craigslist.org/search/sss") == []


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_input_gives_one_empty_active_posting(data: bytes) -> None:
    posting = one_posting(data, base_url="https://sfbay.craigslist.org/sfc/apa/1234567.html")
    assert posting == Posting(
        post_id=None,
        title=None,
        body=None,
        posted=None,
        updated=None,
        price=None,
        compensation=None,
        employment_type=None,
        attributes=[],
        latitude=None,
        longitude=None,
        images=[],
        status="active",
    )


@pytest.mark.parametrize("extractor", [extract_search, extract_posting, search_next_url])
def test_a_page_nested_past_the_limit_is_refused_before_parsing(extractor: Any) -> None:
    # lexbor's tree building is O(depth²): 200,000 nested <div>s took over two minutes.
    data = b"<html><body>" + b"<div>" * 200_000 + b"deep" + b"</div>" * 200_000
    started = time.perf_counter()

    with pytest.raises(DocumentLimitError, match="nested too deeply"):
        extractor(data, base_url="https://sfbay.craigslist.org/search/sss")
    assert time.perf_counter() - started < 10


def test_a_truncated_posting_keeps_what_arrived() -> None:
    data = real_page("craigslist_posting/cl2017_sfbay_apa_5953880532_titletextonly.html", "aaba979")
    cut = data[: data.index(b"Upgrades<br>")]
    posting = one_posting(cut)
    assert posting.title == "3BR 1867 Sqft Single Family home available for rent"
    assert first_words(posting.body, 3) == "Open House Jan"
    assert posting.post_id is None  # the post id comes after the body
    assert posting.status == "active"


def test_a_rendered_card_meta_gives_the_place_not_the_age_or_distance() -> None:
    card = b"""<ol class="cl-search-results"><li data-pid="7700000001" class="cl-search-result"
        title="Boat"><div class="gallery-card"><a class="posting-title" href=
        "https://miami.craigslist.org/mdc/boa/d/miami-boat/7700000001.html"><span class="label">
        Boat</span></a><div class="meta">3 hrs ago<span class="separator">\xc2\xb7</span>2.5mi
        <span class="separator">\xc2\xb7</span>Miami</div><span class="priceinfo">$9,999</span>
        </div></li></ol>"""
    [row] = extract_search(card)
    assert (row.post_id, row.title, row.price, row.hood) == ("7700000001", "Boat", 9999, "Miami")
