"""Anthropic Messages (providers.md 3): `x-api-key` + `anthropic-version`, translated both ways.

Also serves custom hosts speaking the Anthropic format (e.g. MiniMax's Anthropic surface): the
base URL may or may not end in `/v1`. Token counting (`/v1/messages/count_tokens`) takes the
Messages body this gateway would send, cut down to the fields counting accepts.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec
from msgspec import Struct

from gateway.providers.adapter import TranslatedAdapter
from gateway.providers.base import CallOptions, Credential, ProviderError, Target
from gateway.providers.unsupported import NoEmbeddings, NoImages
from gateway.translate.anthropic import AnthropicFormat
from gateway.translate.anthropic_wire import MessagesRequest
from gateway.translate.common import decode_vendor
from gateway.translate.format import ChatFormat
from gateway.translate.system_turns import accepts_system_turns
from gateway.wire.openai import ChatRequest, Json
from shared.errors import ErrorCode

ANTHROPIC_VERSION = "2023-06-01"
# what `/v1/messages/count_tokens` takes; anything else (`max_tokens`, `temperature`, `stream`,
# `metadata`) is refused there as "Extra inputs are not permitted"
COUNT_TOKENS_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config"})
MESSAGES = AnthropicFormat()
MESSAGES_WITH_SYSTEM_TURNS = AnthropicFormat(system_turns=True)


def messages_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


class AnthropicAdapter(TranslatedAdapter, NoEmbeddings, NoImages):
    name: ClassVar[str] = "anthropic"
    format = MESSAGES
    auth_header = "x-api-key"
    auth_scheme = ""

    def auth_headers(self, cred: Credential, target: Target) -> dict[str, str]:
        return {"anthropic-version": ANTHROPIC_VERSION, **super().auth_headers(cred, target)}

    def chat_format(self, target: Target) -> ChatFormat:
        return MESSAGES_WITH_SYSTEM_TURNS if accepts_system_turns(target.provider, target.model) else MESSAGES

    def chat_url(self, target: Target, cred: Credential, stream: bool) -> str:
        del cred, stream
        return messages_url(target.base_url)

    def counts_tokens(self, model: str) -> bool:
        del model  # every model behind the Messages API has `/v1/messages/count_tokens`
        return True

    async def count_tokens(self, body: ChatRequest, target: Target, cred: Credential, opts: CallOptions) -> int:
        """`POST /v1/messages/count_tokens` with the Messages body this gateway would send."""
        payload = count_tokens_body(MESSAGES.request(body, target.model, stream=False))
        url = messages_url(target.base_url) + "/count_tokens"
        raw, _ = await self.exchange(url, payload, cred, target, opts)
        return input_tokens(self.name, raw)

    async def count_messages(self, payload: Json, target: Target, cred: Credential, opts: CallOptions) -> int:
        """`POST /v1/messages/count_tokens` for a Messages body as it is (the pass-through's)."""
        body = {key: value for key, value in {**payload, "model": target.model}.items() if key in COUNT_TOKENS_FIELDS}
        raw, _ = await self.exchange(messages_url(target.base_url) + "/count_tokens", body, cred, target, opts)
        return input_tokens(self.name, raw)


class TokenCount(Struct):
    input_tokens: int | None = None


def count_tokens_body(payload: MessagesRequest) -> Json:
    """A Messages body cut down to what token counting accepts."""
    full: Json = msgspec.to_builtins(payload)
    return {key: value for key, value in full.items() if key in COUNT_TOKENS_FIELDS}


def input_tokens(provider: str, raw: bytes) -> int:
    """`{"input_tokens": N}`, the answer of Anthropic's (and Claude on Vertex's) token counting."""
    count = decode_vendor(raw, TokenCount, provider).input_tokens
    if count is None or count < 0:
        raise ProviderError(ErrorCode.UPSTREAM_ERROR, f"{provider}: token count answer without input_tokens")
    return count
