"""Member tokens and project API keys: random, shown once, stored and sent on the bus only hashed.

Tokens carry 256 bits of randomness, so an unsalted SHA-256 is a safe lookup key: it cannot be
brute-forced back, and the same hash is computed at the edge and in catalog.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

MEMBER_TOKEN_PREFIX: Final = "krm_"  # noqa: S105 - a prefix, not a secret
API_KEY_PREFIX: Final = "kr-"
API_KEY_PUBLIC_CHARS: Final = 7  # the `prefix` catalog stores and lists for each key


def new_member_token() -> str:
    return MEMBER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_prefix(raw: str) -> str | None:
    """The public start of a project API key (what the key listing shows as `prefix`); None for
    anything that is not shaped like one of our keys (it could be some other secret)."""
    return raw[:API_KEY_PUBLIC_CHARS] if raw.startswith(API_KEY_PREFIX) and len(raw) > 32 else None


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_id(prefix: str) -> str:
    """Opaque ids like `prj_…`, `int_…`: 96 random bits, URL-safe, never guessable."""
    return f"{prefix}_{secrets.token_hex(12)}"
