"""API bearer tokens: minted once, stored only as a SHA-256 hash, revocable by name.

The secret is shown exactly once (by ``create_token``); the database keeps its hex SHA-256, so a
leaked database does not leak working tokens. A name identifies a token slot: creating a token
under the name of a revoked one replaces it, under the name of a live one is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import TOKEN_NAME_MAX, api_tokens
from haystack_collector.errors import ConfigError, IntegrityViolation, NotFoundError
from haystack_collector.store._sql import from_db, utcnow

# Principals the API uses for requests without a token; a token may not pretend to be one.
RESERVED_NAMES = frozenset({"loopback", "anonymous"})
# Touching tokenLastUsed on every request would make every authenticated read a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown about a token: never its secret nor its hash."""

    name: str
    created: datetime | None
    last_used: datetime | None
    revoked: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked is None


@dataclass(frozen=True, slots=True)
class TokenMatch:
    """A live token that matched a presented secret."""

    token_id: int
    name: str
    last_used: datetime | None  # aware UTC


def hash_secret(secret: str) -> str:
    """The hex SHA-256 stored for ``secret``."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def validate_name(name: str) -> None:
    """Raise ConfigError unless ``name`` is a usable token name."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid token name {name!r}: use letters, digits and . _ @ -, starting with a "
            "letter or digit",
            setting="name",
        )
    if len(name) > TOKEN_NAME_MAX:
        raise ConfigError(
            f"token name is {len(name)} characters long; the limit is {TOKEN_NAME_MAX}",
            setting="name",
        )
    if name.lower() in RESERVED_NAMES:
        raise ConfigError(f"token name {name!r} is reserved", setting="name")


def create_token(conn: Connection, *, name: str) -> str:
    """Mint a token called ``name`` and return its secret (the only time it is available)."""
    validate_name(name)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    values = {
        "tokenHash": hash_secret(secret),
        "tokenCreated": utcnow(),
        "tokenLastUsed": None,
        "tokenRevoked": None,
    }
    existing = conn.execute(
        select(api_tokens.c.tokenId, api_tokens.c.tokenRevoked).where(
            api_tokens.c.tokenName == name
        )
    ).first()
    if existing is None:
        conn.execute(api_tokens.insert().values(tokenName=name, **values))
    elif existing.tokenRevoked is not None:
        conn.execute(
            update(api_tokens).where(api_tokens.c.tokenId == existing.tokenId).values(**values)
        )
    else:
        raise IntegrityViolation(
            f"a token named {name!r} already exists; revoke it first or choose another name"
        )
    return secret


def lookup_token(conn: Connection, *, secret: str) -> TokenMatch | None:
    """The live token whose secret is ``secret``, or None; reads only."""
    if not secret:
        return None
    digest = hash_secret(secret)
    row = conn.execute(
        select(
            api_tokens.c.tokenId,
            api_tokens.c.tokenName,
            api_tokens.c.tokenHash,
            api_tokens.c.tokenLastUsed,
        ).where(api_tokens.c.tokenHash == digest, api_tokens.c.tokenRevoked.is_(None))
    ).first()
    # The index lookup already matched; comparing again in constant time keeps a collation
    # or trailing-space quirk of some database from ever admitting a near miss.
    if row is None or not hmac.compare_digest(str(row.tokenHash), digest):
        return None
    return TokenMatch(row.tokenId, row.tokenName, from_db(row.tokenLastUsed))


def needs_touch(match: TokenMatch, *, now: datetime | None = None) -> bool:
    """Whether ``match``'s last use is older than the resolution we record it at."""
    if match.last_used is None:
        return True
    current = from_db(now or utcnow())
    assert current is not None
    return current - match.last_used >= LAST_USED_RESOLUTION


def touch_token(conn: Connection, *, token_id: int) -> None:
    """Record a use of the token, unless one was recorded within the last minute."""
    now = utcnow()
    conn.execute(
        update(api_tokens)
        .where(
            api_tokens.c.tokenId == token_id,
            or_(
                api_tokens.c.tokenLastUsed.is_(None),
                api_tokens.c.tokenLastUsed <= now - LAST_USED_RESOLUTION,
            ),
        )
        .values(tokenLastUsed=now)
    )


def verify_token(conn: Connection, *, secret: str) -> str | None:
    """The name of the live token ``secret`` belongs to, or None; records its use."""
    match = lookup_token(conn, secret=secret)
    if match is None:
        return None
    if needs_touch(match):
        touch_token(conn, token_id=match.token_id)
    return match.name


def revoke_token(conn: Connection, *, name: str) -> bool:
    """Revoke the token called ``name``; False if it already was. NotFoundError if none."""
    row = conn.execute(
        select(api_tokens.c.tokenId, api_tokens.c.tokenRevoked).where(
            api_tokens.c.tokenName == name
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no token named {name!r}")
    if row.tokenRevoked is not None:
        return False
    conn.execute(
        update(api_tokens).where(api_tokens.c.tokenId == row.tokenId).values(tokenRevoked=utcnow())
    )
    return True


def list_tokens(conn: Connection, *, include_revoked: bool = True) -> list[TokenInfo]:
    """Every token by name, without secrets or hashes."""
    query = select(
        api_tokens.c.tokenName,
        api_tokens.c.tokenCreated,
        api_tokens.c.tokenLastUsed,
        api_tokens.c.tokenRevoked,
    ).order_by(api_tokens.c.tokenName)
    if not include_revoked:
        query = query.where(api_tokens.c.tokenRevoked.is_(None))
    return [
        TokenInfo(
            name=row.tokenName,
            created=from_db(row.tokenCreated),
            last_used=from_db(row.tokenLastUsed),
            revoked=from_db(row.tokenRevoked),
        )
        for row in conn.execute(query)
    ]
