"""Main text on real pages: the content a reader sees, without navigation or markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from haystack_collector.extract.limits import DocumentLimitError
from haystack_collector.extract.main_text import main_text
from haystack_collector.extract.volatile import VolatileRules

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real"


def test_a_craigslist_posting_gives_its_body_not_its_chrome() -> None:
    raw = (REAL / "craigslist_posting" / "cl2026_milwaukee_apa_7936415355.html").read_bytes()
    text = main_text(raw)
    # MANIFEST: body_first_words of section#postingbody
    assert "Beautifully updated, clean, quiet 2 bedroom, 1 bath apartment in the City" in text
    assert "<" not in text


def test_a_job_page_gives_title_company_and_description() -> None:
    name = "jobboard/realpython_fakejobs_detail_senior-python-developer-0.html"
    text = main_text((REAL / name).read_bytes(), encoding="utf-8")
    assert "Senior Python Developer" in text
    assert "Payne, Roberts and Davis" in text
    assert "Professional asset web application environmentally friendly" in text


def test_an_article_keeps_its_paragraphs_and_drops_scripts() -> None:
    text = main_text((REAL / "misc_html" / "readability_wikipedia.html").read_bytes())
    assert "Mozilla is a free-software community, created in 1998" in text
    assert "function(" not in text


def test_a_badly_encoded_page_still_gives_text() -> None:
    raw = "<html><body><article><p>caf\u00e9 ol\u00e9 " * 50 + "</p></article></body></html>"
    text = main_text(raw.encode("cp1252"), encoding="no-such-charset")
    assert "caf" in text


def test_drop_and_keep_rules_apply() -> None:
    html = "<html><body><main><p>Keep me</p><p class='x'>Drop me</p></main></body></html>"
    assert "Drop me" not in main_text(html, rules=VolatileRules(drop=(".x",)))
    assert main_text(html, rules=VolatileRules(keep=(".x",))) == "Drop me"


def test_malformed_input_gives_text_and_huge_input_a_clear_error() -> None:
    assert "broken" in main_text(b"<p>broken <b><i>markup</p></b><div")
    assert main_text(b"") == ""
    with pytest.raises(DocumentLimitError, match="nested too deeply"):
        main_text("<div>" * 50_000)
