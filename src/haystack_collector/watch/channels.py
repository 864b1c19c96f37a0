"""Sending through Apprise, and channel URLs shown without their secrets.

Every sender is Apprise's (email, Discord, Slack, Telegram, ntfy, Matrix, json:// and form://
webhooks...): a channel is an Apprise URL, and nothing here speaks any service's protocol.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from haystack_collector.errors import ConfigError
from haystack_collector.masking import mask_text

__all__ = ["SendResult", "check_channels", "mask_channel", "send"]

MAX_CHANNELS = 10
MAX_CHANNEL_LENGTH = 2_000


@functools.cache
def _apprise() -> ModuleType:
    """Apprise, imported on first use: it loads its plugins (a quarter second), which an API
    process or a command that sends nothing should not pay for at start."""
    import apprise  # noqa: PLC0415

    # Apprise logs each send at INFO (and its own URLs at DEBUG): ours says what matters.
    logging.getLogger("apprise").setLevel(logging.WARNING)
    return apprise


def _plugin(url: str) -> Any:
    return _apprise().Apprise.instantiate(url)


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    error: str | None = None  # masked


def mask_channel(url: str) -> str:
    """A channel URL as it may be shown: Apprise's own privacy form, without its options."""
    plugin = _plugin(url)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"{scheme[:20]}://***"
    private = plugin.url(privacy=True)
    shown = str(private).split("?", 1)[0]
    return mask_text(shown)


def check_channels(channels: list[str]) -> list[str]:
    """The channels, each a URL Apprise can send to; ConfigError (masked) for any other."""
    if not channels:
        raise ConfigError("channels: give at least one Apprise URL", setting="channels")
    if len(channels) > MAX_CHANNELS:
        raise ConfigError(f"channels: at most {MAX_CHANNELS}", setting="channels")
    checked: list[str] = []
    for index, given in enumerate(channels):
        url = given.strip()
        if len(url) > MAX_CHANNEL_LENGTH:
            raise ConfigError(f"channels[{index}]: longer than {MAX_CHANNEL_LENGTH} characters")
        if _plugin(url) is None:
            raise ConfigError(
                f"channels[{index}]: {mask_channel(url)} is not a URL Apprise can send to"
                " (see https://github.com/caronc/apprise/wiki)",
                setting="channels",
            )
        checked.append(url)
    return checked


def send(url: str, *, title: str, body: str) -> SendResult:
    """Send one message to one channel; what Apprise logged of a failure comes back masked."""
    apprise = _apprise()
    sender = apprise.Apprise()
    if not sender.add(url):
        return SendResult(False, f"{mask_channel(url)}: not a URL Apprise can send to")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        try:
            ok = bool(sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT))
        except Exception as error:  # a plugin's bug must not stop the deliverer
            return SendResult(False, mask_text(f"{mask_channel(url)}: {error}"))
        said = captured.getvalue().strip()
    if ok:
        return SendResult(True)
    reason = " ".join(line.split(" - ", 2)[-1] for line in said.splitlines()[-3:]) or "failed"
    return SendResult(False, mask_text(f"{mask_channel(url)}: {reason}")[:1_000])
