"""ItemData values are stored as text and read back as the type they were written as."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from haystack_collector.store.values import as_values, decode, encode


@pytest.mark.parametrize(
    ("value", "text", "tag"),
    [
        ("hello", "hello", "str"),
        ("", "", "str"),
        (42, "42", "int"),
        (-7, "-7", "int"),
        (2.5, "2.5", "float"),
        (True, "true", "bool"),
        (False, "false", "bool"),
        (Decimal("19.99"), "19.99", "decimal"),
        (date(2025, 8, 3), "2025-08-03", "date"),
        (datetime(2025, 8, 3, 13, 50, 27, tzinfo=UTC), "2025-08-03T13:50:27+00:00", "datetime"),
        ({"a": [1, "é"]}, '{"a": [1, "é"]}', "json"),
        ([1, 2], "[1, 2]", "json"),
        (None, None, None),
    ],
)
def test_values_round_trip_through_text(value: Any, text: str | None, tag: str | None) -> None:
    assert encode(value) == (text, tag)
    assert decode(text, tag) == value


def test_datetimes_are_stored_in_utc_whatever_their_zone() -> None:
    local = datetime(2025, 8, 3, 15, 50, tzinfo=timezone(timedelta(hours=2)))
    text, tag = encode(local)
    assert text == "2025-08-03T13:50:00+00:00"
    assert decode(text, tag) == local


def test_naive_datetimes_are_taken_as_utc() -> None:
    assert encode(datetime(2025, 1, 1, 12, 0))[0] == "2025-01-01T12:00:00+00:00"


def test_legacy_rows_without_a_type_read_back_as_text() -> None:
    assert decode("42", None) == "42"


def test_unstorable_values_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match="cannot store a object"):
        encode(object())  # type: ignore[arg-type]


def test_lists_and_tuples_are_one_value_per_element() -> None:
    assert as_values([1, 2]) == [1, 2]
    assert as_values((1,)) == [1]
    assert as_values("ab") == ["ab"]
