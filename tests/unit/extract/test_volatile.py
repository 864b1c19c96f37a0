"""Volatile rules: a footer clock and a rotating ad are no change; a changed paragraph is."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from haystack_collector.extract.limits import MAX_DOCUMENT_BYTES, DocumentLimitError
from haystack_collector.extract.volatile import (
    MAX_PATTERNS,
    VolatileRules,
    changed,
    normalize,
    text_digest,
)


def visit(paragraph: str, *, clock: str, ad: str) -> str:
    return (
        "<html><head><title>Prices</title><style>.x{}</style></head><body>"
        f"<main><h1>Prices</h1><p>{paragraph}</p></main>"
        f"<aside class='ad' id='ad-{ad}'><img alt='{ad}'>{ad}</aside>"
        f"<footer>Generated at {clock} UTC <script>var now = '{clock}'</script></footer>"
        "</body></html>"
    )


RULES = VolatileRules(drop=("aside.ad",), ignore=(r"Generated at \d\d:\d\d:\d\d UTC",))


def test_a_footer_timestamp_and_a_rotating_ad_are_no_change() -> None:
    first = visit("Apples cost 3 euros.", clock="10:00:01", ad="shoes")
    second = visit("Apples cost 3 euros.", clock="17:45:59", ad="hats")
    assert not changed(first, second, RULES)
    assert changed(first, second)  # without the rules they are


def test_a_changed_paragraph_is_a_change() -> None:
    first = visit("Apples cost 3 euros.", clock="10:00:01", ad="shoes")
    second = visit("Apples cost 4 euros.", clock="10:00:01", ad="shoes")
    assert changed(first, second, RULES)


def test_normalize_reads_visible_text_only() -> None:
    text = normalize(visit("Apples   cost\n 3 euros.", clock="10:00:01", ad="shoes"), RULES)
    assert text.splitlines() == ["Prices", "Apples cost 3 euros."]


def test_keep_selectors_make_only_their_elements_count() -> None:
    rules = VolatileRules(keep=("main p",))
    first = visit("Apples cost 3 euros.", clock="10:00:01", ad="shoes")
    assert normalize(first, rules) == "Apples cost 3 euros."
    assert not changed(first, visit("Apples cost 3 euros.", clock="11:00:00", ad="x"), rules)


def test_plain_text_is_normalized_by_the_patterns_and_whitespace() -> None:
    rules = VolatileRules(ignore=(r"\d+ views",))
    assert normalize("Title\n\n  body  text 123 views \n", rules) == "Title\nbody text"
    assert not changed("a 1 views", "a 999 views", rules)


def test_text_digest_applies_the_patterns() -> None:
    rules = VolatileRules(ignore=(r"v\d+",))
    assert text_digest("T", "body v1", rules) == text_digest("T", "body v2", rules)
    assert text_digest("T", "body", rules) != text_digest("U", "body", rules)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"ignore": [r"(a+)+$"]}, "exponential"),
        ({"ignore": [r"(?:\w*\s*)*x"]}, "exponential"),
        ({"ignore": [r"(a)\1"]}, "backreferences"),
        ({"ignore": ["("]}, "invalid pattern"),
        ({"ignore": [""]}, "empty"),
        ({"ignore": ["x" * 201]}, "at most 200"),
        ({"ignore": ["x"] * (MAX_PATTERNS + 1)}, "at most"),
        ({"drop": ["div[[["]}, "invalid CSS selector"),
        ({"keep": ["  "]}, "cannot be empty"),
        ({"other": ["x"]}, "Extra inputs"),
    ],
)
def test_rules_are_validated(rules: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        VolatileRules.model_validate(rules)


def test_bounded_patterns_stay_fast_on_hostile_text() -> None:
    rules = VolatileRules(ignore=(r"a{1,5}b+", r"(?:ab){1,3}c*", r"\d+:\d+"))
    hostile = "a" * 200_000 + "!"
    started = time.perf_counter()
    normalize(hostile, rules)
    assert time.perf_counter() - started < 2.0


def test_a_document_beyond_the_limits_is_refused_with_a_clear_error() -> None:
    with pytest.raises(DocumentLimitError, match="too large"):
        normalize("<html><body>" + "x" * MAX_DOCUMENT_BYTES + "</body></html>")
    with pytest.raises(DocumentLimitError, match="nested too deeply"):
        normalize("<html><body>" + "<div>" * 20_000 + "</body></html>")
