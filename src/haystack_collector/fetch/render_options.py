"""The ``wait:`` and ``scroll:`` blocks users write (site definitions, engine settings), as
validated models that become ``render.WaitSpec`` and ``render.ScrollSpec``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from haystack_collector.fetch.render import ScrollSpec, WaitSpec

__all__ = ["ScrollOptions", "WaitOptions", "scroll_from_json", "wait_from_json"]


class WaitOptions(BaseModel):
    """Wait until ``selector`` appears and/or the network is idle, then ``delay`` seconds;
    ``timeout`` bounds each wait (a wait that runs out keeps the page as it is)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    selector: str | None = Field(default=None, min_length=1)
    network_idle: bool = False
    delay: float = Field(default=0.0, ge=0, le=60)
    timeout: float = Field(default=10.0, gt=0, le=300)

    def spec(self) -> WaitSpec:
        return WaitSpec(self.selector, self.network_idle, self.delay, self.timeout)


class ScrollOptions(BaseModel):
    """Scroll to the bottom up to ``max_scrolls`` times, waiting up to ``pause`` seconds each
    time for more content; stop once nothing new comes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_scrolls: int = Field(default=10, ge=0, le=1000)
    pause: float = Field(default=2.0, gt=0, le=60)

    def spec(self) -> ScrollSpec:
        return ScrollSpec(self.max_scrolls, self.pause)


def wait_from_json(raw: Any) -> WaitSpec | None:
    return WaitOptions.model_validate(raw).spec() if isinstance(raw, dict) else None


def scroll_from_json(raw: Any) -> ScrollSpec | None:
    return ScrollOptions.model_validate(raw).spec() if isinstance(raw, dict) else None
