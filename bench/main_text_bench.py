"""Main-text extractors compared on the real pages in tests/fixtures/real: quality and speed.

    python bench/main_text_bench.py [--runs 20]

Needs trafilatura and resiliparse importable (a scratch venv is fine; only the chosen one is a
Haystack dependency). For each page the reference is the visible text a reader would call the
page's content, picked by a selector a person chose for that page (the posting body, the job
box, the article's paragraphs, the page's <main>); each extractor's output is scored by word
precision (how much of what it returned is in the reference), recall (how much of the
reference it returned) and F1, on bags of lower-cased words. Speed is the best of ``--runs``
calls per page. Not a test: pytest never collects this.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

ROOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real"
# page -> (selectors whose text is the reference, selectors removed first)
PAGES: dict[str, tuple[str, str]] = {
    "craigslist_posting/cl2012_sfbay_pen_apa_3372916109_userbody.html": ("h2, div#userbody", ""),
    "craigslist_posting/cl2013a_sfbay_apa_3555443860.html": (
        "h2.postingtitle, section#postingbody",
        "",
    ),
    "craigslist_posting/cl2015_sfbay_apa_4831182004.html": (
        "h2.postingtitle, section#postingbody",
        "",
    ),
    "craigslist_posting/cl2017_sfbay_apa_5953880532_titletextonly.html": (
        "#titletextonly, section#postingbody",
        "",
    ),
    "craigslist_posting/cl2022_cto_7552653376_pre_redesign.html": (
        "#titletextonly, section#postingbody",
        ".print-information",
    ),
    "craigslist_posting/cl2023_posting_no_price.html": (
        "#titletextonly, section#postingbody",
        ".print-information",
    ),
    "craigslist_posting/cl2026_milwaukee_apa_7936415355.html": (
        "#titletextonly, section#postingbody",
        ".print-information",
    ),
    "jobboard/realpython_fakejobs_detail_senior-python-developer-0.html": ("div.box", ""),
    "misc_html/readability_wikipedia.html": ("h1, #mw-content-text p", ""),
    "misc_html/readability_mozilla-1.html": ("main", "form, script, style"),
}
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> Counter[str]:
    return Counter(word.lower() for word in _WORD.findall(text))


def reference(html: str, keep: str, drop: str) -> str:
    tree = LexborHTMLParser(html)
    if drop:
        for node in tree.css(drop):
            node.decompose()
    return "\n".join(node.text(separator=" ") for node in tree.css(keep))


def score(got: str, want: str) -> tuple[float, float, float]:
    g, w = words(got), words(want)
    common = sum((g & w).values())
    precision = common / max(sum(g.values()), 1)
    recall = common / max(sum(w.values()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def trafilatura_text(html: str) -> str:
    import trafilatura  # noqa: PLC0415

    return trafilatura.extract(html, include_comments=False, include_tables=True) or ""


def resiliparse_text(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text  # noqa: PLC0415

    return extract_plain_text(html, main_content=True)


EXTRACTORS: dict[str, Callable[[str], str]] = {
    "trafilatura": trafilatura_text,
    "resiliparse": resiliparse_text,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    totals: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in EXTRACTORS}
    print(f"{'page':58} {'extractor':12} {'prec':>5} {'rec':>5} {'F1':>5} {'ms':>7}")
    for name, (keep, drop) in PAGES.items():
        html = (ROOT / name).read_bytes().decode("utf-8", errors="replace")
        want = reference(html, keep, drop)
        for label, extract in EXTRACTORS.items():
            got = extract(html)
            best = float("inf")
            for _ in range(args.runs):
                started = time.perf_counter()
                extract(html)
                best = min(best, time.perf_counter() - started)
            p, r, f = score(got, want)
            totals[label].append((p, r, f, best * 1000))
            print(f"{name[-58:]:58} {label:12} {p:5.2f} {r:5.2f} {f:5.2f} {best * 1000:7.2f}")
    print()
    for label, rows in totals.items():
        p, r, f, ms = (statistics.mean(column) for column in zip(*rows, strict=True))
        total_ms = sum(row[3] for row in rows)
        print(
            f"{label:12} mean precision {p:.2f} recall {r:.2f} F1 {f:.2f}; "
            f"mean {ms:.2f} ms/page, {total_ms:.1f} ms for all {len(rows)} pages"
        )


if __name__ == "__main__":
    main()
