"""Input-token counts for `POST /v1/messages/count_tokens`: the provider's own count, or an estimate.

Adapters whose upstream speaks Anthropic's format (Anthropic, Claude on Vertex) implement
`TokenCounter` and forward the count to the provider's counting endpoint. Everywhere else the
gateway estimates: about four characters per token over every text the request carries (system
prompt, messages, tool definitions, tool inputs and results), a flat amount per image or document,
plus a few tokens of framing per message. An estimate is marked as such by the endpoint.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

from gateway.providers.base import CallOptions, Credential, Target
from gateway.wire.openai import ChatRequest

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 1600  # Anthropic's ceiling for one image (about 1.15 megapixels)
TOKENS_PER_DOCUMENT = 1600  # a page-sized guess; PDFs are counted exactly only by the provider
_OPAQUE_KEYS = frozenset({"data", "signature", "cache_control", "type", "id", "tool_use_id", "media_type"})


@runtime_checkable
class TokenCounter(Protocol):
    """An adapter that can ask its provider how many input tokens a request has."""

    def counts_tokens(self, model: str) -> bool:
        """Whether the provider counts tokens for this upstream model."""
        ...

    async def count_tokens(self, body: ChatRequest, target: Target, cred: Credential, opts: CallOptions) -> int:
        """The provider's input-token count of an OpenAI-format chat request, as it would be sent."""
        ...


def estimate_input_tokens(request: dict[str, Any]) -> int:
    """A provider-independent estimate for an Anthropic Messages request body."""
    chars, flat = _walk(request.get("system")), 0
    messages = request.get("messages")
    for message in messages if isinstance(messages, list) else []:
        flat += TOKENS_PER_MESSAGE
        if isinstance(message, dict):
            chars += _walk(message.get("content"))
            flat += _media(message.get("content"))
    chars += _walk(request.get("tools"), keep_keys=True)
    return max(1, math.ceil(chars / CHARS_PER_TOKEN) + flat)


def _walk(value: Any, *, keep_keys: bool = False) -> int:
    """Characters of every string in the value (keys too, for tool schemas), skipping binary data."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_walk(item, keep_keys=keep_keys) for item in value)
    if isinstance(value, dict):
        if value.get("type") in {"image", "document"}:
            return 0
        return sum(
            (len(key) if keep_keys else 0) + _walk(item, keep_keys=keep_keys)
            for key, item in value.items()
            if keep_keys or key not in _OPAQUE_KEYS
        )
    return len(str(value)) if isinstance(value, int | float) and keep_keys else 0


def _media(value: Any) -> int:
    """Flat tokens for images and documents, wherever they sit (tool results included)."""
    if isinstance(value, list):
        return sum(_media(item) for item in value)
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "image":
            return TOKENS_PER_IMAGE
        if kind == "document":
            return TOKENS_PER_DOCUMENT
        return _media(value.get("content"))
    return 0
