"""`Secret`: a value that renders as `[redacted]` everywhere except through `reveal()`."""

from __future__ import annotations

import re
from typing import Any, Final

REDACTED: Final = "[redacted]"
_USERINFO = re.compile(r"(?<=://)[^,\s]*@")


class Secret:
    """Wraps a credential in memory.

    `repr`, `str`, `format`, msgspec/JSON encoding (via `enc_hook`) and structlog rendering all
    produce `[redacted]`. Only `reveal()` returns the value, and callers use it at the last moment
    (building an upstream header), never to log or raise.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("Secret cannot be pickled")


def secret_enc_hook(obj: Any) -> Any:
    """msgspec `enc_hook`: a Secret that reaches an encoder becomes `[redacted]`, never its value."""
    if isinstance(obj, Secret):
        return REDACTED
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def secret_dec_hook(tp: type, obj: Any) -> Any:
    """msgspec `dec_hook`: a string read into a `Secret` field (settings, the stack file) is wrapped at once."""
    if tp is Secret and isinstance(obj, str):
        return Secret(obj)
    raise NotImplementedError(f"cannot decode {tp!r}")


def revealing_enc_hook(obj: Any) -> Any:
    """msgspec `enc_hook` for the one place a secret is meant to be written out in clear: a file
    only its owner may read (the stack file, mode 0600)."""
    if isinstance(obj, Secret):
        return obj.reveal()
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def without_credentials(url: str) -> str:
    """`url` (or a comma-separated list of them) fit for a message: any `user:password@` is redacted."""
    return _USERINFO.sub(f"{REDACTED}@", url)
