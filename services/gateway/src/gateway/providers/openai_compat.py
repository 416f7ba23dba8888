"""OpenAI-compatible providers: one base, each vendor a small configuration of it.

Usage is normalised from wherever the vendor puts it (top-level `usage`, Groq `x_groq.usage`,
Moonshot `choices[0].usage`, Perplexity on every chunk: the last wins). `include_usage` is always
requested upstream; the relay strips it for clients that did not ask.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import aiohttp
import msgspec

from gateway.outbound import guard_url
from gateway.providers.base import (
    CallOptions,
    ChatResult,
    Credential,
    EmbeddingResult,
    ImageResult,
    ProviderError,
    Target,
)
from gateway.providers.errors import map_error, passthrough_headers
from gateway.providers.sse import iter_events
from shared.messages.usage import Usage

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def usage_from(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0), completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(cached or raw.get("cached_tokens") or 0),
        reasoning_tokens=int((completion_details or {}).get("reasoning_tokens") or 0) if isinstance(completion_details, dict) else 0,
        total_tokens=int(raw.get("total_tokens") or 0),
    ).finalize()


class OpenAICompatStream:
    def __init__(self, response: aiohttp.ClientResponse, adapter: OpenAICompatAdapter) -> None:
        self._response = response
        self._adapter = adapter
        self.headers = passthrough_headers(response.headers)
        self.usage: Usage | None = None

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:  # type: ignore[override]
        done = False
        try:
            async for event in iter_events(self._response.content.iter_any()):
                if event.data.strip() == "[DONE]":
                    done = True
                    break
                try:
                    chunk = _decode(event.data)
                except msgspec.DecodeError:
                    raise ProviderError("upstream_error", f"{self._adapter.name}: malformed stream chunk") from None
                if not isinstance(chunk, dict):
                    continue
                if "error" in chunk and not chunk.get("choices"):
                    raise map_error(self._adapter.name, 500, chunk, {})
                usage = self._adapter.chunk_usage(chunk)
                if usage is not None:
                    self.usage = usage
                if self._adapter.is_final_chunk(chunk):
                    done = True
                chunk = self._adapter.normalize_chunk(chunk)
                if chunk.get("choices"):
                    yield chunk
                if done and self._adapter.final_chunk_ends_stream:
                    break
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionResetError):
            raise ProviderError("upstream_error", f"{self._adapter.name}: stream interrupted") from None
        finally:
            self._response.release()
        if not done:
            raise ProviderError("upstream_error", f"{self._adapter.name}: stream ended without its end marker")

    async def aclose(self) -> None:
        self._response.close()


class OpenAICompatAdapter:
    name: ClassVar[str] = "openai"
    chat_path: ClassVar[str] = "/chat/completions"
    final_chunk_ends_stream: ClassVar[bool] = False

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    # --- vendor hooks ------------------------------------------------------------------------------
    def headers(self, cred: Credential) -> dict[str, str]:
        out = {"content-type": "application/json", "accept": "application/json"}
        if cred.api_key is not None:
            out["authorization"] = f"Bearer {cred.api_key.reveal()}"
        for name, value in cred.headers.items():
            out[name] = value.reveal()
        return out

    def url(self, target: Target, path: str) -> str:
        return target.base_url.rstrip("/") + path

    def prepare(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        payload = dict(body)
        payload.pop("models", None)
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {**(payload.get("stream_options") or {}), "include_usage": True}
        return payload

    def chunk_usage(self, chunk: dict[str, Any]) -> Usage | None:
        return usage_from(chunk.get("usage"))

    def is_final_chunk(self, chunk: dict[str, Any]) -> bool:
        del chunk
        return False

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        chunk.pop("usage", None)
        return chunk

    def response_usage(self, body: dict[str, Any]) -> Usage:
        return usage_from(body.get("usage")) or Usage()

    # --- calls ---------------------------------------------------------------------------------------
    async def _post(self, url: str, payload: dict[str, Any], cred: Credential, opts: CallOptions,
                    stream: bool) -> aiohttp.ClientResponse:
        policy = getattr(self._session, "policy", None)
        if policy is not None:
            guard_url(policy, url)
        timeout = aiohttp.ClientTimeout(total=None if stream else opts.timeout_s, sock_connect=10,
                                        sock_read=opts.first_byte_timeout_s if stream else opts.timeout_s)
        try:
            response = await self._session.post(url, data=_encode(payload), headers=self.headers(cred),
                                                timeout=timeout, allow_redirects=False)
        except TimeoutError:
            raise ProviderError("upstream_timeout", f"{self.name}: no response in time") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderError("upstream_error", f"{self.name}: connection failed ({type(exc).__name__})") from None
        if response.status != 200:
            try:
                raw = await asyncio.wait_for(response.read(), timeout=5)
                body = _decode(raw) if raw else None
            except Exception:
                body = None
            finally:
                response.release()
            raise map_error(self.name, response.status, body, response.headers)
        return response

    async def _json(self, response: aiohttp.ClientResponse) -> dict[str, Any]:
        try:
            raw = await response.read()
        except TimeoutError:
            raise ProviderError("upstream_timeout", f"{self.name}: response body timed out") from None
        except (aiohttp.ClientError, OSError):
            raise ProviderError("upstream_error", f"{self.name}: response interrupted") from None
        finally:
            response.release()
        try:
            body = _decode(raw)
        except msgspec.DecodeError:
            raise ProviderError("upstream_error", f"{self.name}: malformed response") from None
        if not isinstance(body, dict):
            raise ProviderError("upstream_error", f"{self.name}: malformed response")
        return body

    async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult:
        response = await self._post(self.url(target, self.chat_path), self.prepare(body, False), cred, opts, False)
        headers = passthrough_headers(response.headers)
        data = await self._json(response)
        return ChatResult(body=data, usage=self.response_usage(data), headers=headers)

    async def open_stream(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> OpenAICompatStream:
        response = await self._post(self.url(target, self.chat_path), self.prepare(body, True), cred, opts, True)
        return OpenAICompatStream(response, self)

    async def embed(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> EmbeddingResult:
        response = await self._post(self.url(target, "/embeddings"), dict(body), cred, opts, False)
        headers = passthrough_headers(response.headers)
        data = await self._json(response)
        return EmbeddingResult(body=data, usage=self.response_usage(data), headers=headers)

    async def images(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ImageResult:
        response = await self._post(self.url(target, "/images/generations"), dict(body), cred, opts, False)
        headers = passthrough_headers(response.headers)
        data = await self._json(response)
        return ImageResult(body=data, usage=self.response_usage(data), headers=headers)
