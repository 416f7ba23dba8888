"""The provider adapter interface: one small Protocol every upstream family implements.

The gateway speaks OpenAI Chat Completions internally, as the structs of `gateway.wire.openai`.
An adapter takes a request (a chat request as a `ChatInput`: the client's JSON as sent, and its
typed view on demand), the resolved `Target` and the decrypted `Credential`, talks to the provider
in its own wire format and returns OpenAI-format results:

* `chat()` -> `ChatResult` (a `ChatCompletion` plus normalised `Usage`).
* `open_stream()` -> `ChatStream`, returned only once the upstream answered 200 (so failures
  before the first byte raise `ProviderError` and can be retried or failed over); iterating it
  yields `ChatChunk`s, normalised (role chunk first, one finish chunk,
  no usage chunk, no `[DONE]`); after exhaustion `stream.usage` holds the final usage. An error
  after the first chunk raises `ProviderError` from the iterator.
* `embed()` and `images()` for the other endpoints; an adapter that lacks one raises
  `unsupported_operation()`.

Adapters never log, raise or put in a URL any credential value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar, Protocol, TypeAlias, TypeVar

from msgspec import Struct

from gateway.wire.chat_body import ChatInput
from gateway.wire.errors import ProviderError
from gateway.wire.openai import (
    ChatChunk,
    ChatCompletion,
    EmbeddingList,
    EmbeddingRequest,
    ImageRequest,
    ImagesResponse,
    JobHandle,
)
from shared.errors import ErrorCode, KeyrelayError
from shared.messages.usage import Usage
from shared.secret import Secret

T_co = TypeVar("T_co", covariant=True)


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
    job_wait_s: float | None = None  # media jobs: how long to await one (`Prefer:`), else `timeout_s`


@dataclass(slots=True)
class ChatResult:
    body: ChatCompletion
    usage: Usage
    headers: dict[str, str] = field(default_factory=dict)  # pass-through: x-ratelimit-*, retry-after


@dataclass(slots=True)
class EmbeddingResult:
    body: EmbeddingList
    usage: Usage
    headers: dict[str, str] = field(default_factory=dict)


class UpstreamJob(Struct, kw_only=True, frozen=True):
    """What polling a provider's job again needs: its id and the URLs it gave (never a credential)."""

    id: str
    status_url: str | None = None
    result_url: str | None = None


@dataclass(slots=True)
class ImageResult:
    body: ImagesResponse | JobHandle  # a job handle when an async provider is not done in time
    usage: Usage
    headers: dict[str, str] = field(default_factory=dict)
    cost_usd: float | None = None
    job: UpstreamJob | None = None  # with a handle: how `GET /v1/jobs/{id}` polls the job again


class UpstreamStream(Protocol[T_co]):
    """An opened upstream stream of items (chat chunks, or the Responses API's events)."""

    headers: dict[str, str]
    usage: Usage | None

    def __aiter__(self) -> AsyncIterator[T_co]: ...

    async def aclose(self) -> None:
        """Release the upstream connection at once (client went away, or failover)."""
        ...


ChatStream: TypeAlias = UpstreamStream[ChatChunk]


class ProviderAdapter(Protocol):
    name: ClassVar[str]

    async def chat(self, body: ChatInput, target: Target, cred: Credential, opts: CallOptions) -> ChatResult: ...

    async def open_stream(self, body: ChatInput, target: Target, cred: Credential, opts: CallOptions) -> ChatStream: ...

    async def embed(
        self, body: EmbeddingRequest, target: Target, cred: Credential, opts: CallOptions
    ) -> EmbeddingResult: ...

    async def images(self, body: ImageRequest, target: Target, cred: Credential, opts: CallOptions) -> ImageResult: ...


class Operation(Enum):
    """What a non-streaming inference endpoint asks of an adapter (streams use `open_stream`)."""

    CHAT = "chat completions"
    EMBED = "embeddings"
    IMAGES = "image generation"


def unsupported_operation(provider: str, operation: Operation) -> KeyrelayError:
    return KeyrelayError(ErrorCode.INVALID_REQUEST, f"{provider} does not support {operation.value}")


__all__ = [
    "CallOptions",
    "ChatResult",
    "ChatStream",
    "Credential",
    "EmbeddingResult",
    "ImageResult",
    "Operation",
    "ProviderAdapter",
    "ProviderError",
    "Target",
    "UpstreamStream",
    "unsupported_operation",
]
