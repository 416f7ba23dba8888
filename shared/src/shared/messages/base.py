"""Base class for bus payloads and the error reply every request-reply union carries."""

from __future__ import annotations

from typing import Literal

import msgspec

ProjectScope = Literal["all"] | list[str]  # every project of the org, or these


class Msg(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Bus payload base. New fields always get a default (schema evolution)."""


class Failed(Msg, tag="failed", frozen=True, kw_only=True):
    """A service said no (or crashed while answering): distinct from no answer at all."""

    code: str
    message: str
    param: str | None = None


class Pong(Msg, tag="pong", frozen=True, kw_only=True):
    service: str
    ready: bool = True
    detail: str = ""


class Ping(Msg, frozen=True, kw_only=True):
    pass
