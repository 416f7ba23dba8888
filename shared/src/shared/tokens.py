"""Member tokens and project API keys: random, shown once, stored and sent on the bus only hashed.

Tokens carry 256 bits of randomness, so an unsalted SHA-256 is a safe lookup key: it cannot be
brute-forced back. They are made at the edge that shows them once (the gateway for members and
API keys, the `keyrelay bootstrap` CLI for the owner): catalog receives and stores only the hash,
so no bus message ever carries a token in clear.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Final

from shared.errors import KeyrelayError

MEMBER_TOKEN_PREFIX: Final = "krm_"  # noqa: S105 - a prefix, not a secret
API_KEY_PREFIX: Final = "kr-"
API_KEY_PUBLIC_CHARS: Final = 7  # the `prefix` catalog stores and lists for each key
_HASH = re.compile(r"[0-9a-f]{64}")
_PUBLIC_PREFIX = re.compile(rf"{API_KEY_PREFIX}[A-Za-z0-9_-]{{{API_KEY_PUBLIC_CHARS - len(API_KEY_PREFIX)}}}")


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


def require_token_hash(value: str, param: str) -> str:
    """A token hash as `hash_token` makes it (64 lowercase hex digits), or `invalid_request`."""
    if _HASH.fullmatch(value) is None:
        raise KeyrelayError("invalid_request", f"{param} is not a token hash", param=param)
    return value


def is_shown_prefix(value: str) -> bool:
    """Is `value` what `api_key_prefix` returns for one of our keys (and nothing longer)?"""
    return _PUBLIC_PREFIX.fullmatch(value) is not None


def new_id(prefix: str) -> str:
    """Opaque ids like `prj_…`, `int_…`: 96 random bits, URL-safe, never guessable."""
    return f"{prefix}_{secrets.token_hex(12)}"
