"""A chat request as the adapters get it: the JSON object as sent, and its typed view on demand.

OpenAI-format targets get the client's own body (`ChatInput.payload()`): every top-level field
stays the raw JSON the client sent (`msgspec.Raw`, written back byte for byte by the encoder)
unless an adapter reads or replaces it, so what the gateway has no struct for, at any depth
(unknown keys inside messages, content parts, tools, `response_format`...), reaches the provider
intact, and the body is neither converted to structs nor encoded from them. Only the model, the
stream switches, the gateway's own fields and the vendor's quirks (`OpenAICompatAdapter.prepare`)
change it.

Translators to other formats read the typed view (`ChatInput.typed`, a `wire.openai.ChatRequest`),
made on first use. The chat endpoint makes it before routing, so a body of the wrong shape is the
gateway's own 400 and never reaches an upstream, whatever its format.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.wire.openai import ChatRequest, Json, encode

_decode = msgspec.json.Decoder().decode
_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ABSENT = object()


class ChatPayload:
    """A chat body on its way to an OpenAI-format upstream: its top-level fields (`fields`, what is
    sent), each the raw JSON as the client sent it until an adapter reads it with `get` (a fresh
    decoded copy, which the adapter may change in place) or replaces it with `set`."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def get(self, name: str, default: Any = None) -> Any:
        value = self.fields.get(name, _ABSENT)
        if value is _ABSENT:
            return default
        if isinstance(value, msgspec.Raw):
            value = self.fields[name] = _decode(value)
        return value

    def set(self, name: str, value: object) -> None:
        self.fields[name] = value

    def drop(self, *names: str) -> None:
        for name in names:
            self.fields.pop(name, None)

    def rename(self, old: str, new: str) -> None:
        if old in self.fields:
            self.fields[new] = self.fields.pop(old)


class ChatInput:
    """One chat request: `body`, the JSON object (as routing read it; never changed), with the bytes
    it was decoded from when the gateway has them, and `typed`, its struct, made on first use."""

    __slots__ = ("_fields", "_raw", "_typed", "body")

    def __init__(self, body: Json, raw: bytes | None = None) -> None:
        self.body = body
        self._raw = raw
        self._typed: ChatRequest | None = None
        self._fields: dict[str, Any] | None = None

    @classmethod
    def of(cls, request: ChatRequest) -> ChatInput:
        """A request built as a struct (its `extra` fields included)."""
        raw = encode(request)
        out = cls(_decode(raw), raw)
        out._typed = request
        return out

    @property
    def typed(self) -> ChatRequest:
        """The typed view translators read (a wrong shape is the client's 400)."""
        if self._typed is None:
            self._typed = ChatRequest.from_body(self.body)
        return self._typed

    def payload(self) -> ChatPayload:
        """A fresh payload of the body's fields, as sent (each call its own: failover sends again)."""
        if self._fields is None:
            self._fields = _fields.decode(self._raw if self._raw is not None else encode(self.body))
        return ChatPayload(dict(self._fields))
