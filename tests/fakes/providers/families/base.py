"""What a family contributes to the server: its name, base path and routes; plus credential readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp import web


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    base_path: str  # path part of the base URL, e.g. "/openai/v1"
    register: Callable[[web.UrlDispatcher], None]


def scheme_credential(request: web.Request, header: str, *schemes: str) -> str | None:
    """The credential after one of `schemes` in `header` (`Authorization: Bearer x` -> `x`)."""
    value = request.headers.get(header)
    if value is None:
        return None
    word, _, rest = value.strip().partition(" ")
    if word.lower() in {s.lower() for s in schemes} and rest.strip():
        return rest.strip()
    return ""


def bearer(request: web.Request) -> str | None:
    return scheme_credential(request, "authorization", "Bearer")


def masked(key: str) -> str:
    """How OpenAI-style providers echo a rejected key: a prefix, stars and the last four characters."""
    if len(key) < 16:
        return "***"
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"
