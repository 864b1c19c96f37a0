"""What every extractor returns and how a record becomes one JSON line.

Extractors are pure functions ``(data: bytes, *, base_url: str | None = None) -> list[R]``
where ``R`` is a frozen dataclass whose field names are the record's JSON keys. Missing values
are ``None``; dates are ``datetime`` (or ``date``) and come out as ISO-8601; nested
dataclasses, tuples and lists come out as JSON objects and arrays.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any

__all__ = ["to_json", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (dataclasses → dicts, dates → ISO-8601 strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [to_jsonable(v) for v in value]
    return value


def to_json(record: Any) -> str:
    """One record as one line of JSON (non-ASCII kept readable)."""
    return json.dumps(to_jsonable(record), ensure_ascii=False, separators=(", ", ": "))
