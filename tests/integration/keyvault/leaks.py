"""Finding a secret in any recognisable form: as is, JSON- or URL-escaped, hex, base64, or any 12-character piece."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

WINDOW = 12


def _windows(text: bytes, size: int) -> set[bytes]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def forms(secret: str) -> set[bytes]:
    """Every needle to look for; a haystack containing any of them leaks (part of) the secret."""
    raw = secret.encode()
    needles = _windows(raw, WINDOW)
    needles |= {json.dumps(secret).encode()[1:-1], quote(secret, safe="").encode()}
    hexed = raw.hex().encode()
    needles |= _windows(hexed, 2 * WINDOW) | {w.upper() for w in _windows(hexed, 2 * WINDOW)}
    for shift in range(3):  # base64 of the secret at each alignment; edge characters depend on neighbours
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            inner = encode(b"\x00" * shift + raw)[4:-4]
            needles |= _windows(inner, 16)
    return needles


def leaks(secret: str, haystack: bytes) -> list[bytes]:
    """The needles found in `haystack` (empty: no leak)."""
    return sorted(n for n in forms(secret) if n in haystack)
