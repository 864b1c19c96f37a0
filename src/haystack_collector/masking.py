"""Secrets out of sight: credentials in URLs, token-like strings and secret-named keys.

One module for every place that shows text someone else may read: the logs (``logs.redact``),
Status messages (``store.add_status``), the config API (``GET /api/config``) and the item
exports. Pure functions, no I/O.

``mask_text`` keeps free text readable and hides what would let someone in:

* the password of a URL (``https://alice:***@github.com``), and a user name that is itself a
  key (``https://***@sentry.io/1``);
* well-known token shapes wherever they appear: GitHub (``ghp_…``, ``github_pat_…``), GitLab
  (``glpat-…``), Slack (``xoxb-…``), OpenAI/Stripe style (``sk-…``, ``sk_live_…``), AWS access
  key ids, JWTs, ``Bearer …``;
* webhook URLs whose path is the secret (Slack, Discord, Teams/Office, Zapier, IFTTT…): the
  host stays, the path becomes ``***``;
* values of secret-named ``key=value`` pairs (``password=``, ``api_key=``, ``token=``…).

``looks_secret`` judges a whole value (a config value): any of the above, or one long
high-entropy word. Free text is not judged that way, since hashes and ids would vanish from
the logs. ``strip_credentials`` removes the userinfo of URLs outright: what items keep.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = [
    "REDACTED",
    "SECRET_NAME",
    "looks_secret",
    "mask_text",
    "mask_value",
    "strip_credentials",
]

REDACTED = "***"

# Keys whose values are secret whatever they look like.
SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|api[_-]?key|credential|authorization|webhook|private[_-]?key",
    re.IGNORECASE,
)

# scheme://userinfo@ — userinfo runs to the LAST "@" before the authority ends, so a password
# holding "@" or ":" is masked whole.
_URL_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#\\]*)@")
# A lone user name this long, of key characters, is a key (Sentry DSNs, GitHub's token@host).
_KEY_LIKE_USER = re.compile(r"[A-Za-z0-9_\-]{20,}")

_TOKENS = re.compile(
    r"""
    (?<![A-Za-z0-9_\-])
    (?:
        gh[pousr]_[A-Za-z0-9]{20,}                  # GitHub tokens
      | github_pat_[A-Za-z0-9_]{20,}
      | glpat-[A-Za-z0-9_\-]{20,}                   # GitLab
      | xox[abposr]-[A-Za-z0-9\-]{10,}              # Slack
      | sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}       # OpenAI, Anthropic
      | [sr]k_(?:live|test)_[A-Za-z0-9]{16,}        # Stripe
      | A(?:KIA|SIA)[A-Z0-9]{16}                    # AWS access key ids
      | AIza[A-Za-z0-9_\-]{35}                      # Google API keys
      | eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+  # JWTs
    )
    """,
    re.VERBOSE,
)
_BEARER = re.compile(
    r"(?P<head>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/\-]{8,}=*", re.IGNORECASE
)
# Webhooks whose path is the credential: keep scheme and host, hide the path.
_WEBHOOK = re.compile(
    r"""
    (?P<head>https?://(?:
        hooks\.slack\.com/(?:services|workflows|triggers)
      | (?:[\w\-]+\.)?discord(?:app)?\.com/api/webhooks
      | [\w\-]+\.webhook\.office\.com
      | outlook\.office\.com/webhook
      | hooks\.zapier\.com/hooks
      | maker\.ifttt\.com/trigger
      | chat\.googleapis\.com/v1/spaces
      | api\.telegram\.org
      | [\w.\-]+/hooks?(?=/[A-Za-z0-9_\-]{16,})
    ))(?P<secret>/[^\s"'<>]*)
    """,
    re.VERBOSE | re.IGNORECASE,
)
# The lookbehind anchors keys to the start of a word run; without it a long run with no "="
# would be rescanned from every position.
_KEY_VALUE = re.compile(r"(?<![\w.\-])(?P<key>[\w.\-]+)=(?P<value>[^\s&;,'\"]*)")
_TELEGRAM_BOT = re.compile(r"/bot\d+:[A-Za-z0-9_\-]{20,}")

# A single word at least this long, with this many bits of entropy per character, is a key
# when it is a whole config value (hex digests reach 4, random base64 about 5-6).
_LONG_WORD = re.compile(r"[A-Za-z0-9_\-+/=.~]{24,}")
_MIN_ENTROPY = 3.5


def _mask_userinfo(match: re.Match[str]) -> str:
    userinfo = match["userinfo"]
    user, colon, _ = userinfo.partition(":")
    if colon:
        return f"{match['head']}{user}:{REDACTED}@"
    if _KEY_LIKE_USER.fullmatch(user):
        return f"{match['head']}{REDACTED}@"
    return match[0]


def _mask_webhook(match: re.Match[str]) -> str:
    return f"{match['head']}/{REDACTED}"


def _mask_key_value(match: re.Match[str]) -> str:
    if SECRET_NAME.search(match["key"]):
        return f"{match['key']}={REDACTED}"
    return match[0]


def mask_text(text: str) -> str:
    """``text`` with URL passwords, known token shapes, webhook paths and secret params masked."""
    if "@" in text and "://" in text:
        text = _URL_USERINFO.sub(_mask_userinfo, text)
    if "://" in text:
        text = _WEBHOOK.sub(_mask_webhook, text)
        if "/bot" in text:
            text = _TELEGRAM_BOT.sub(f"/bot{REDACTED}", text)
    text = _TOKENS.sub(REDACTED, text)
    text = _BEARER.sub(rf"\g<head>{REDACTED}", text)
    if "=" in text:
        text = _KEY_VALUE.sub(_mask_key_value, text)
    return text


def _entropy(word: str) -> float:
    counts = Counter(word)
    return -sum(n / len(word) * math.log2(n / len(word)) for n in counts.values())


def looks_secret(value: str) -> bool:
    """Whether a whole value (not free text) is, or holds, a secret."""
    if mask_text(value) != value:
        return True
    word = value.strip()
    return (
        bool(_LONG_WORD.fullmatch(word))
        and any(c.isdigit() for c in word)
        and any(c.isalpha() for c in word)
        and _entropy(word) >= _MIN_ENTROPY
    )


def mask_value(key: str, value: str | None) -> str | None:
    """A key/value pair's value as shown to someone without a token."""
    if not value:
        return value
    if SECRET_NAME.search(key):
        return REDACTED
    masked = mask_text(value)
    if masked != value:
        return masked
    return REDACTED if looks_secret(value) else value


def _drop_userinfo(match: re.Match[str]) -> str:
    return match["head"]


def strip_credentials(text: str) -> str:
    """``text`` with the userinfo (``user:password@``) of every URL in it removed."""
    if "@" not in text or "://" not in text:
        return text
    return _URL_USERINFO.sub(_drop_userinfo, text)
