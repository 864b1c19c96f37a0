"""Conditional GET validators (ETag, Last-Modified) per URI."""

from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass(frozen=True, slots=True)
class Validators:
    """What the server said it can compare against next time."""

    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


class ValidatorCache(Protocol):
    """Storage for validators; the lead will back it with ItemData."""

    def get(self, uri: str) -> Validators | None: ...

    def put(self, uri: str, validators: Validators) -> None: ...


class DictValidatorCache:
    """In-memory ValidatorCache."""

    def __init__(self) -> None:
        self._items: dict[str, Validators] = {}

    def get(self, uri: str) -> Validators | None:
        return self._items.get(uri)

    def put(self, uri: str, validators: Validators) -> None:
        self._items[uri] = validators


class NoValidators:
    """A ValidatorCache that keeps nothing: every fetch is unconditional.

    For callers that must read every body (a 304 has none) or keep validators themselves.
    """

    def get(self, uri: str) -> Validators | None:
        return None

    def put(self, uri: str, validators: Validators) -> None:
        return None
