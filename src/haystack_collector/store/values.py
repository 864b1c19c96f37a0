"""ItemData values: stored as text with a type tag, read back as the Python type they were."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from haystack_collector.masking import strip_credentials

ItemValue = str | int | float | bool | Decimal | datetime | date | dict[str, Any] | list[Any] | None


def as_values(value: ItemValue | Sequence[ItemValue]) -> list[ItemValue]:
    """A key's values: a list or tuple is one value per element, anything else one value."""
    if isinstance(value, list | tuple):
        return list(cast("Sequence[ItemValue]", value))
    return [cast("ItemValue", value)]


def encode(value: ItemValue) -> tuple[str | None, str | None]:  # noqa: PLR0911
    """``(text, type tag)`` for a value; datetimes become ISO-8601 in UTC.

    Text loses the credentials of the URLs in it (``user:password@``): items are readable by
    anyone the API lets read, and a bookmark or a git-credentials file must not hand them out.
    """
    if value is None:
        return None, None
    if isinstance(value, str):
        return strip_credentials(value), "str"
    if isinstance(value, bool):  # before int: bool is an int
        return ("true" if value else "false"), "bool"
    if isinstance(value, int):
        return str(value), "int"
    if isinstance(value, float):
        return repr(value), "float"
    if isinstance(value, Decimal):
        return str(value), "decimal"
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(), "datetime"
    if isinstance(value, date):
        return value.isoformat(), "date"
    if isinstance(value, dict | list | tuple):
        return strip_credentials(json.dumps(value, ensure_ascii=False, default=str)), "json"
    raise TypeError(
        f"cannot store a {type(value).__name__} as item data; use str, numbers, dates or JSON"
    )


def decode(text: str | None, tag: str | None) -> ItemValue:  # noqa: PLR0911
    """The value ``encode`` was given; untagged (legacy) rows read back as text."""
    if text is None:
        return None
    match tag:
        case "int":
            return int(text)
        case "float":
            return float(text)
        case "decimal":
            return Decimal(text)
        case "bool":
            return text == "true"
        case "datetime":
            return datetime.fromisoformat(text)
        case "date":
            return date.fromisoformat(text)
        case "json":
            loaded: dict[str, Any] | list[Any] = json.loads(text)
            return loaded
        case _:
            return text
