"""The provider adapter interface: one small Protocol every upstream family implements.

The gateway speaks OpenAI Chat Completions internally. An adapter takes an OpenAI-format request
body, the resolved `Target` and the decrypted `Credential`, talks to the provider in its own wire
format and returns OpenAI-format results:

* `chat()` -> `ChatResult` (an OpenAI `chat.completion` body plus normalised `Usage`).
* `open_stream()` -> `ChatStream`, returned only once the upstream answered 200 (so failures
  before the first byte raise `ProviderError` and can be retried or failed over); iterating it
  yields OpenAI `chat.completion.chunk` dicts, normalised (role chunk first, one finish chunk,
  no usage chunk, no `[DONE]`); after exhaustion `stream.usage` holds the final usage. An error
  after the first chunk raises `ProviderError` from the iterator.
* `embed()` and `images()` for the other endpoints; an adapter that lacks one raises
  `unsupported_operation()`.

Adapters never log, raise or put in a URL any credential value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from shared.errors import ErrorCode, KeyrelayError
from shared.messages.usage import Usage
from shared.secret import Secret


@dataclass(frozen=True, slots=True)
class Credential:
    """A decrypted credential, held only in memory and only inside `Secret`s."""

    api_key: Secret | None = None
    service_account_json: Secret | None = None  # Vertex: the whole service-account JSON document
    headers: Mapping[str, Secret] = field(default_factory=dict)  # forwarded custom auth headers
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt goes: chosen by routing, built from catalog data, never from the request."""

    adapter: str  # registry key: "openai", "anthropic", "gemini", "vertex", "azure", "groq", ...
    provider: str  # provider id of the integration ("openai", "anthropic", ...)
    base_url: str  # resolved base URL (custom host, settings override or provider default)
    model: str  # upstream model id
    integration_id: str = ""
    slug: str = ""
    # Azure: deployment + api_version. Vertex: project_id + location.
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CallOptions:
    """Per-attempt limits chosen by routing."""

    timeout_s: float = 60.0  # whole attempt (non-streaming) / between chunks (streaming)
    first_byte_timeout_s: float = 30.0  # time to first byte / first chunk
    include_usage: bool = True  # the client asked for stream usage (upstream is always asked)


@dataclass(slots=True)
class ChatResult:
    body: dict[str, Any]  # OpenAI chat.completion object
    usage: Usage
    headers: dict[str, str] = field(default_factory=dict)  # pass-through: x-ratelimit-*, retry-after


@dataclass(slots=True)
class EmbeddingResult:
    body: dict[str, Any]  # OpenAI embeddings list object
    usage: Usage
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ImageResult:
    body: dict[str, Any]  # OpenAI images response, or a job handle for async providers
    usage: Usage
    headers: dict[str, str] = field(default_factory=dict)
    cost_usd: float | None = None


class ChatStream(Protocol):
    headers: dict[str, str]
    usage: Usage | None

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def aclose(self) -> None:
        """Release the upstream connection at once (client went away, or failover)."""
        ...


class ProviderAdapter(Protocol):
    name: ClassVar[str]

    async def chat(self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions) -> ChatResult: ...

    async def open_stream(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> ChatStream: ...

    async def embed(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> EmbeddingResult: ...

    async def images(
        self, body: dict[str, Any], target: Target, cred: Credential, opts: CallOptions
    ) -> ImageResult: ...


class ProviderError(KeyrelayError):
    """An upstream failure, already mapped to a stable code.

    `upstream_status` is the provider's HTTP status (0 for connection errors and timeouts).
    The message names the provider and a short, key-free reason; never the upstream body verbatim.
    """

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        upstream_status: int = 0,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code, message, retry_after=retry_after, headers=headers)
        self.upstream_status = upstream_status

    @property
    def retryable(self) -> bool:
        return self.code.retryable


def unsupported_operation(provider: str, operation: str) -> KeyrelayError:
    return KeyrelayError(ErrorCode.INVALID_REQUEST, f"{provider} does not support {operation}")
