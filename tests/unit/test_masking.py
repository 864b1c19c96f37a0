"""Specification of haystack_collector.masking: what is hidden, by value and by key name."""

from __future__ import annotations

import pytest

from haystack_collector.masking import looks_secret, mask_text, mask_value, strip_credentials

GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://alice:{GHP}@github.com", "https://alice:***@github.com"),
        ("proxy http://user:pa55word@proxy.lan:3128 up", "proxy http://user:***@proxy.lan:3128 up"),
        ("mysql://u:p@ss:w@rd@host/db", "mysql://u:***@host/db"),
        (f"https://{GHP}@github.com/org/repo.git", "https://***@github.com/org/repo.git"),
        (
            "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42",
            "https://***@o1.ingest.sentry.io/42",
        ),
        ("git token " + GHP + " leaked", "git token *** leaked"),
        ("slack xoxb-1234567890-abcdefghijkl", "slack ***"),
        ("key sk-proj-abcdefghijklmnopqrstuvwx1234", "key ***"),
        ("stripe sk_live_abcdefghijklmnop1234", "stripe ***"),
        ("aws AKIAABCDEFGHIJKLMNOP", "aws ***"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer ***"),
        (
            "post to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX now",
            "post to https://hooks.slack.com/services/*** now",
        ),
        (
            "https://discord.com/api/webhooks/123456/abcdefghijklmnopqrstuvwxyz",
            "https://discord.com/api/webhooks/***",
        ),
        ("https://api.telegram.org/bot123456:AAbbCCddEEffGGhhIIjjKKll/sendMessage", None),
        ("https://example.com/a?api_key=abc123&q=jobs", "https://example.com/a?api_key=***&q=jobs"),
    ],
)
def test_mask_text_hides_credentials_tokens_and_webhook_secrets(
    text: str, expected: str | None
) -> None:
    masked = mask_text(text)
    if expected is None:
        assert "AAbbCC" not in masked
    else:
        assert masked == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/a/b?q=1",
        "mail bob@example.com about https://example.com/",
        "sha256 " + "ab" * 32,
        "correlation 91207f18 item 42",
        "https://user@example.com/ (a plain user name)",
    ],
)
def test_mask_text_leaves_ordinary_text_alone(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("DbPassword", "hunter2", "***"),
        ("ProxyUrl", "http://user:pa55word@proxy:3128", "http://user:***@proxy:3128"),
        ("NotifyUrl", "https://hooks.slack.com/services/T0/B0/abcdefghijklmnop", None),
        ("Upstream", "Zx9kQ2vL8mN4pR7tY1wB6cD3fG5hJ0sA", "***"),
        ("RunQueue", "1", "1"),
        ("DefaultDelay", "2.5", "2.5"),
        ("SystemVersion", "2.0.1", "2.0.1"),
        ("Digest", "0123456789abcdef" * 2, "***"),  # hex keys look like this too
        ("Label", "Supercalifragilisticexpialidocious", "Supercalifragilisticexpialidocious"),
        ("Empty", None, None),
    ],
)
def test_mask_value_masks_by_key_name_and_by_value(
    key: str, value: str | None, shown: str | None
) -> None:
    masked = mask_value(key, value)
    if key == "NotifyUrl":
        assert masked == "https://hooks.slack.com/services/***"
    else:
        assert masked == shown


def test_looks_secret_tells_keys_from_words_and_digests() -> None:
    assert looks_secret("Zx9kQ2vL8mN4pR7tY1wB6cD3fG5hJ0sA")
    assert looks_secret(GHP)
    assert not looks_secret("a sentence with several words in it")
    assert not looks_secret("downloads/2024/reports")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://alice:{GHP}@github.com", "https://github.com"),
        ("see ftp://anon:x@ftp.example.org/pub and http://a@b.test/", None),
        ("https://example.com/path@2x.png", "https://example.com/path@2x.png"),
        ("no url here: bob@example.com", "no url here: bob@example.com"),
    ],
)
def test_strip_credentials_removes_userinfo(text: str, expected: str | None) -> None:
    stripped = strip_credentials(text)
    if expected is None:
        assert stripped == "see ftp://ftp.example.org/pub and http://b.test/"
    else:
        assert stripped == expected
