"""What a watch is: a filter over items (and postings), the events it tells of, its channels.

The filter is the Items search's (engine, data key and value, full-text ``q``, item states, a
site or a URL prefix) plus a posting's fields (keyword, location, compensation, source); the
events are ``new``, ``changed`` and ``gone``. Stored as JSON in ``Watches``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from haystack_collector.errors import ConfigError
from haystack_collector.extract.postings import (
    POSTING_COMPANY,
    POSTING_COMPENSATION,
    POSTING_FINGERPRINT,
    POSTING_LOCATION,
    POSTING_SOURCE,
    POSTING_TITLE,
    compensation_amount,
)
from haystack_collector.store.item_state import ITEM_STATES
from haystack_collector.store.query import ItemFilter

__all__ = [
    "EVENTS",
    "PostingFilter",
    "WatchFilter",
    "check_events",
    "check_volatile",
]

EVENTS = ("new", "changed", "gone")
_TEXT_MAX = 500


@dataclass(frozen=True, slots=True)
class PostingFilter:
    """A posting's fields: words in its title or company, a place, pay, who found it."""

    keyword: str | None = None
    location: str | None = None
    source: str | None = None
    compensation: bool = False  # only postings that state their pay
    min_compensation: float | None = None  # ...of at least this much (the first figure)

    def active(self) -> bool:
        return any((self.keyword, self.location, self.source, self.compensation)) or (
            self.min_compensation is not None
        )

    def matches(self, fields: dict[str, Any]) -> bool:
        """Whether a posting's job fields meet this filter."""
        if self.keyword:
            text = " ".join(str(fields.get(key) or "") for key in (POSTING_TITLE, POSTING_COMPANY))
            if not all(word in text.casefold() for word in self.keyword.casefold().split()):
                return False
        if (
            self.location
            and self.location.casefold() not in str(fields.get(POSTING_LOCATION) or "").casefold()
        ):
            return False
        if self.source and str(fields.get(POSTING_SOURCE) or "") != self.source:
            return False
        pay = fields.get(POSTING_COMPENSATION)
        if (self.compensation or self.min_compensation is not None) and not pay:
            return False
        if self.min_compensation is not None:
            amount = compensation_amount(str(pay))
            if amount is None or amount < self.min_compensation:
                return False
        return True


@dataclass(frozen=True, slots=True)
class WatchFilter:
    """The Items search's filters, plus a posting's fields."""

    engine: str | None = None
    key: str | None = None
    value: str | None = None
    q: str | None = None
    state: tuple[str, ...] = ()
    site: str | None = None
    url_prefix: str | None = None
    posting: PostingFilter = field(default_factory=PostingFilter)

    def __post_init__(self) -> None:
        for name in ("engine", "key", "value", "q", "site", "url_prefix"):
            text = getattr(self, name)
            if text is not None and (len(text) > 2_000 or "\x00" in text):
                raise ConfigError(f"filter.{name}: at most 2000 characters, no NUL")
        if self.value is not None and self.key is None:
            raise ConfigError("filter.value: give the data key it belongs to (key)")
        bad = [state for state in self.state if state not in ITEM_STATES]
        if bad:
            raise ConfigError(
                f"filter.state: {', '.join(bad)} is not one of {', '.join(ITEM_STATES)}"
            )
        for name in ("keyword", "location", "source"):
            text = getattr(self.posting, name)
            if text is not None and len(text) > _TEXT_MAX:
                raise ConfigError(f"filter.{name}: at most {_TEXT_MAX} characters")
        if self.posting.min_compensation is not None and self.posting.min_compensation < 0:
            raise ConfigError("filter.min_compensation: not below 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatchFilter:
        """A filter from its JSON form; ConfigError for an unknown field."""
        known = {"engine", "key", "value", "q", "state", "site", "url_prefix"}
        posting_keys = {"keyword", "location", "source", "compensation", "min_compensation"}
        unknown = set(data) - known - posting_keys - {"posting"}
        if unknown:
            raise ConfigError(f"filter: unknown field(s) {', '.join(sorted(unknown))}")
        posting = dict(data.get("posting") or {})
        posting.update({key: data[key] for key in posting_keys if key in data})
        state = data.get("state") or ()
        return cls(
            **{key: _text(data.get(key)) for key in known - {"state"}},
            state=tuple([state] if isinstance(state, str) else state),
            posting=PostingFilter(
                keyword=_text(posting.get("keyword")),
                location=_text(posting.get("location")),
                source=_text(posting.get("source")),
                compensation=bool(posting.get("compensation")),
                min_compensation=(
                    None
                    if posting.get("min_compensation") in (None, "")
                    else float(posting["min_compensation"])
                ),
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, without the fields left empty."""
        found = {
            key: value
            for key, value in asdict(self).items()
            if key != "posting" and value not in (None, (), [])
        }
        if self.state:
            found["state"] = list(self.state)
        posting = {
            key: value for key, value in asdict(self.posting).items() if value not in (None, False)
        }
        if posting:
            found["posting"] = posting
        return found

    def item_filter(self) -> ItemFilter:
        """The Items search this filter is (a posting filter also asks for the posting key)."""
        key, value = self.key, self.value
        if key is None and self.posting.active():
            key = POSTING_FINGERPRINT
        return ItemFilter(
            engine=self.engine,
            key=key,
            value=value,
            q=self.q,
            state=self.state or None,
            site=self.site,
            url_prefix=self.url_prefix,
        )

    def describe(self) -> str:
        """The filter in a few words, for a message or a list."""
        found = self.to_dict()
        names = ("engine", "key", "value", "q", "state", "site", "url_prefix")
        parts = [f"{name}={_shown(found[name])}" for name in names if name in found]
        parts += [f"{key}={_shown(value)}" for key, value in found.get("posting", {}).items()]
        return ", ".join(parts) or "every item"


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def check_events(events: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The events in their usual order; ConfigError for an unknown or none."""
    if not events:
        raise ConfigError(f"events: give one or more of {', '.join(EVENTS)}", setting="events")
    bad = [each for each in events if each not in EVENTS]
    if bad:
        raise ConfigError(
            f"events: {', '.join(bad)} is not one of {', '.join(EVENTS)}", setting="events"
        )
    return tuple(each for each in EVENTS if each in events)


def check_volatile(rules: dict[str, Any]) -> dict[str, Any]:
    """A watch's volatile rules (``extract.volatile.VolatileRules``: ``drop`` and ``keep`` CSS
    selectors, ``ignore`` patterns, checked for safety); ConfigError naming the bad one."""
    from pydantic import ValidationError  # noqa: PLC0415

    from haystack_collector.extract.volatile import VolatileRules  # noqa: PLC0415

    try:
        checked = VolatileRules.model_validate(rules)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        raise ConfigError(f"volatile.{where}: {message}", setting="volatile") from None
    return {key: list(value) for key, value in checked.model_dump().items() if value}
