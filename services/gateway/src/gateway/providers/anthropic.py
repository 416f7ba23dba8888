"""Anthropic Messages (providers.md 3): `x-api-key` + `anthropic-version`, translated both ways.

Also serves custom hosts speaking the Anthropic format (e.g. MiniMax's Anthropic surface): the
base URL may or may not end in `/v1`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp

from gateway.providers.base import (
    CallOptions,
    ChatResult,
    Credential,
    ProviderError,
    Target,
)
from gateway.providers.errors import passthrough_headers
from gateway.providers.http import JSON_HEADERS, ProviderStream, read_json, send
from gateway.providers.unsupported import NoEmbeddings, NoImages
from gateway.translate.anthropic import (
    AnthropicStreamTranslator,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
)
from gateway.translate.system_turns import accepts_system_turns
from shared.errors import ErrorCode

ANTHROPIC_VERSION = "2023-06-01"
# what `/v1/messages/count_tokens` takes; anything else (`max_tokens`, `temperature`, `stream`,
# `metadata`) is refused there as "Extra inputs are not permitted"
COUNT_TOKENS_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config"})


def messages_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


class AnthropicAdapter(NoEmbeddings, NoImages):
    name: ClassVar[str] = "anthropic"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def headers(self, cred: Credential) -> dict[str, str]:
        out = {**JSON_HEADERS, "anthropic-version": ANTHROPIC_VERSION}
        if cred.api_key is not None:
            out["x-api-key"] = cred.api_key.reveal()
        for name, value in cred.headers.items():
            out[name.lower()] = value.reveal()
        return out

    def payload(self, body: dict[str, Any], target: Target, stream: bool) -> dict[str, Any]:
        payload = openai_to_anthropic_request(
            {**body, "model": target.model, "stream": stream},
            system_turns=accepts_system_turns(target.provider, target.model),
        )
        if not stream:
            payload.pop("stream", None)
        return payload

    async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        response = await send(
            self._session,
            self.name,
            "POST",
            messages_url(target.base_url),
            headers=self.headers(cred),
            opts=opts,
            payload=self.payload(body, target, False),
        )
        headers = passthrough_headers(response.headers)
        data = await read_json(self.name, response)
        out, usage = anthropic_to_openai_response(data, target.model)
        return ChatResult(body=out, usage=usage, headers=headers)

    async def open_stream(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> ProviderStream:
        response = await send(
            self._session,
            self.name,
            "POST",
            messages_url(target.base_url),
            headers=self.headers(cred),
            opts=opts,
            payload=self.payload(body, target, True),
            stream=True,
        )
        return ProviderStream(self.name, response, AnthropicStreamTranslator(self.name, target.model), opts)

    def counts_tokens(self, model: str) -> bool:
        del model  # every model behind the Messages API has `/v1/messages/count_tokens`
        return True

    async def count_tokens(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> int:
        """`POST /v1/messages/count_tokens` with the Messages body this gateway would send."""
        payload = count_tokens_body(self.payload(body, target, False))
        response = await send(
            self._session,
            self.name,
            "POST",
            messages_url(target.base_url) + "/count_tokens",
            headers=self.headers(cred),
            opts=opts,
            payload=payload,
        )
        return input_tokens(self.name, await read_json(self.name, response))


def count_tokens_body(payload: dict[str, Any]) -> dict[str, Any]:
    """A Messages body cut down to what token counting accepts."""
    return {key: value for key, value in payload.items() if key in COUNT_TOKENS_FIELDS}


def input_tokens(provider: str, body: dict[str, Any]) -> int:
    """`{"input_tokens": N}`, the answer of Anthropic's (and Claude on Vertex's) token counting."""
    count = body.get("input_tokens")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ProviderError(ErrorCode.UPSTREAM_ERROR, f"{provider}: token count answer without input_tokens")
    return count
