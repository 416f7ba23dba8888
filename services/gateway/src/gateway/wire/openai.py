"""The OpenAI-format structs every adapter and translator works on (providers.md 1, 20).

Absent stays absent and null stays null: optional fields default to `UNSET`, which msgspec never
encodes. Top-level fields the gateway does not read are kept, untouched, in each struct's `extra`
map (`Extensible`): `from_body` fills it from a request body, `decode` from an upstream body, and
`encode` writes it back beside the typed fields. Unknown keys of nested objects are not kept: so a
chat request goes to OpenAI-format upstreams as the client's own JSON (`wire/chat_body.py`), never
encoded from `ChatRequest`, which only translators to other formats read (and so they drop the
rest, refusing what matters: providers.md 1). Nested objects the gateway never looks inside (JSON
schemas, logprobs, audio) stay open maps.
"""

from __future__ import annotations

import functools
from typing import Any, Generic, Self, TypeVar

import msgspec
from msgspec import UNSET, Struct, UnsetType, field

from shared.errors import KeyrelayError

Json = dict[str, Any]  # an object the gateway passes through without looking inside
EXTRA = "keyrelay:extra"  # the wire name of `extra`: no API has it, and `encode` never writes it
E = TypeVar("E", bound="Extensible")
ChoiceT = TypeVar("ChoiceT", bound="Plain")

_encoder = msgspec.json.Encoder()
_decode = msgspec.json.Decoder().decode
_raw_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])


class Plain(Struct, kw_only=True, gc=False):
    """The base of every boundary struct: keyword-only, and untracked by the cycle collector (these
    structs never refer back to themselves; a request makes hundreds of them, so this matters)."""


class Extensible(Plain, kw_only=True):
    """A top-level body: typed fields plus `extra`, the fields passed through untouched."""

    extra: dict[str, Any] | UnsetType = field(default=UNSET, name=EXTRA)

    @classmethod
    def known(cls) -> frozenset[str]:
        """The JSON names of the typed fields (everything else is `extra`)."""
        return _known(cls)

    @classmethod
    def from_body(cls, body: Json) -> Self:
        """A client's request body (already a JSON object) as this struct; a wrong shape is a 400."""
        try:
            return cls.from_json(body)
        except msgspec.ValidationError as exc:
            raise KeyrelayError(
                "invalid_request", f"the request body does not have the expected shape: {exc}"
            ) from None

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        """An upstream JSON body as this struct; `msgspec.DecodeError`/`ValidationError` if it is not one.

        Decoded straight into the struct (no dict in between), strictly, then leniently
        (`strict=False`: numbers in strings and the like) if that failed: vendors' bodies are not the
        client's to fix. The top-level keys are scanned (values left raw) to fill `extra`."""
        strict, lax = _decoders(cls)
        out: Self
        try:
            out = strict.decode(raw)
        except msgspec.ValidationError:
            out = lax.decode(raw)
        fields = _raw_fields.decode(raw)
        known = _known(cls)
        if not known.issuperset(fields):
            out.extra = {k: _decode(v) for k, v in fields.items() if k not in known}
        return out

    @classmethod
    def from_json(cls, body: Json, *, strict: bool = True) -> Self:
        """A decoded JSON object as this struct, its unknown fields in `extra`.

        `strict=False` (upstream bodies) also takes numbers in strings and the like; it is tried only
        after the strict conversion failed, because it is several times slower."""
        try:
            out = msgspec.convert(body, cls)
        except msgspec.ValidationError:
            if strict:
                raise
            out = msgspec.convert(body, cls, strict=False)
        known = _known(cls)
        if not known.issuperset(body):
            out.extra = {k: v for k, v in body.items() if k not in known}
        return out

    def get_extra(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default) if self.extra else default

    def without(self, *names: str) -> Self:
        """A shallow copy without the named fields (typed ones unset, untyped ones out of `extra`)."""
        known = self.known()
        changes: dict[str, Any] = {n: UNSET for n in names if n in known}
        if self.extra and any(n in self.extra for n in names):
            changes["extra"] = {k: v for k, v in self.extra.items() if k not in names}
        return msgspec.structs.replace(self, **changes) if changes else self

    def drop_extra(self, *names: str) -> None:
        if self.extra:
            for name in names:
                self.extra.pop(name, None)


@functools.cache
def _known(cls: type[Extensible]) -> frozenset[str]:
    return frozenset(cls.__struct_encode_fields__)


@functools.cache
def _decoders(cls: type[E]) -> tuple[msgspec.json.Decoder[E], msgspec.json.Decoder[E]]:
    return msgspec.json.Decoder(cls), msgspec.json.Decoder(cls, strict=False)


def encode(value: object) -> bytes:
    """JSON bytes of a struct (its `extra` fields spliced in at the top level) or any other value."""
    if isinstance(value, Extensible) and value.extra:
        extra = value.extra
        value.extra = UNSET
        try:
            head = _encoder.encode(value)
        finally:
            value.extra = extra
        tail = _encoder.encode(extra)
        return head[:-1] + (b"," if len(head) > 2 else b"") + tail[1:]
    return _encoder.encode(value)


# --- request ---------------------------------------------------------------------------------------
class ImageUrl(Plain, kw_only=True):
    url: str
    detail: str | UnsetType = UNSET


class ContentPart(Plain, kw_only=True):
    """One part of a message's content; the fields of the kinds the gateway knows."""

    type: str
    text: str | UnsetType = UNSET
    image_url: ImageUrl | str | UnsetType = UNSET
    input_audio: Json | UnsetType = UNSET
    file: Json | UnsetType = UNSET
    refusal: str | UnsetType = UNSET
    cache_control: Json | UnsetType = UNSET


class FunctionCall(Plain, kw_only=True):
    name: str | UnsetType = UNSET
    arguments: str | Json | UnsetType | None = UNSET  # a JSON string; some clients send the object


class ToolCall(Plain, kw_only=True):
    """A tool call in an assistant message, a response or (with `index`) a stream delta."""

    index: int | UnsetType = UNSET
    id: str | UnsetType = UNSET
    type: str | UnsetType = UNSET
    function: FunctionCall | UnsetType = UNSET


class ThinkingBlock(Plain, kw_only=True):
    """An Anthropic thinking block carried on an OpenAI-format assistant message (LiteLLM's
    `thinking_blocks`): `thinking` with its `signature`, or `redacted_thinking` with its `data`."""

    type: str
    thinking: str | UnsetType | None = UNSET
    signature: str | UnsetType | None = UNSET
    data: str | UnsetType | None = UNSET


class Message(Plain, kw_only=True):
    role: str
    content: str | list[ContentPart] | UnsetType | None = UNSET
    name: str | UnsetType = UNSET
    tool_calls: list[ToolCall] | UnsetType | None = UNSET
    tool_call_id: str | UnsetType = UNSET
    refusal: str | UnsetType | None = UNSET
    reasoning_content: str | UnsetType | None = UNSET
    thinking_blocks: list[ThinkingBlock] | UnsetType | None = UNSET
    audio: Json | UnsetType | None = UNSET
    function_call: Json | UnsetType | None = UNSET
    prefix: bool | UnsetType = UNSET
    partial: bool | UnsetType = UNSET
    cache_control: Json | UnsetType = UNSET


class FunctionDef(Plain, kw_only=True):
    name: str
    description: str | UnsetType | None = UNSET
    parameters: Json | UnsetType | None = UNSET
    strict: bool | UnsetType | None = UNSET


class Tool(Plain, kw_only=True):
    type: str = "function"
    function: FunctionDef | UnsetType = UNSET
    cache_control: Json | UnsetType = UNSET


class NamedFunction(Plain, kw_only=True):
    name: str


class NamedToolChoice(Plain, kw_only=True):
    type: str = "function"
    function: NamedFunction | UnsetType = UNSET


class JsonSchemaFormat(Plain, kw_only=True):
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    schema: Json | UnsetType = UNSET
    strict: bool | UnsetType | None = UNSET


class ResponseFormat(Plain, kw_only=True):
    type: str
    json_schema: JsonSchemaFormat | UnsetType = UNSET


class StreamOptions(Plain, kw_only=True):
    include_usage: bool | UnsetType | None = UNSET
    include_obfuscation: bool | UnsetType | None = UNSET


class ChatRequest(Extensible, kw_only=True):
    """`POST /v1/chat/completions`: the fields some adapter or translator reads; the rest in `extra`."""

    model: str | UnsetType = UNSET
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] | UnsetType | None = UNSET
    tool_choice: str | NamedToolChoice | UnsetType | None = UNSET
    parallel_tool_calls: bool | UnsetType | None = UNSET
    response_format: ResponseFormat | UnsetType | None = UNSET
    stream: bool | UnsetType | None = UNSET
    stream_options: StreamOptions | UnsetType | None = UNSET
    max_tokens: int | UnsetType | None = UNSET
    max_completion_tokens: int | UnsetType | None = UNSET
    temperature: float | UnsetType | None = UNSET
    top_p: float | UnsetType | None = UNSET
    n: int | UnsetType | None = UNSET
    stop: str | list[str] | UnsetType | None = UNSET
    seed: int | UnsetType | None = UNSET
    presence_penalty: float | UnsetType | None = UNSET
    frequency_penalty: float | UnsetType | None = UNSET
    reasoning_effort: str | UnsetType | None = UNSET
    user: str | UnsetType = UNSET
    logprobs: bool | UnsetType | None = UNSET
    top_logprobs: int | UnsetType | None = UNSET
    logit_bias: Json | UnsetType | None = UNSET
    models: list[str] | UnsetType = UNSET  # the gateway's own fallback list: never sent upstream


# --- response ------------------------------------------------------------------------------------
class ResponseMessage(Plain, kw_only=True):
    role: str = "assistant"
    content: str | None = None
    refusal: str | UnsetType | None = UNSET
    tool_calls: list[ToolCall] | UnsetType = UNSET
    reasoning_content: str | UnsetType | None = UNSET
    reasoning: str | UnsetType | None = UNSET  # a vendor's name for reasoning_content (moved by its adapter)
    reasoning_details: list[Json] | UnsetType | None = UNSET  # MiniMax's (moved by its adapter)
    thinking_blocks: list[ThinkingBlock] | UnsetType = UNSET  # Anthropic's, to send back (LiteLLM's field)
    annotations: list[Json] | UnsetType = UNSET
    audio: Json | UnsetType | None = UNSET
    function_call: Json | UnsetType | None = UNSET


class Choice(Plain, kw_only=True):
    index: int = 0
    message: ResponseMessage = field(default_factory=ResponseMessage)
    finish_reason: str | None = None
    logprobs: Json | None = None


class CompletionBody(Extensible, Generic[ChoiceT], kw_only=True):
    """What a chat completion and a chunk of its stream both are: their choices differ, `object` says which."""

    id: str = ""
    object: str = ""
    created: int = 0
    model: str = ""
    choices: list[ChoiceT] = field(default_factory=list)
    usage: Json | UnsetType | None = UNSET
    system_fingerprint: str | UnsetType | None = UNSET
    service_tier: str | UnsetType | None = UNSET


class ChatCompletion(CompletionBody[Choice], kw_only=True):
    object: str = "chat.completion"


class Delta(Plain, kw_only=True):
    role: str | UnsetType = UNSET
    content: str | UnsetType | None = UNSET
    reasoning_content: str | UnsetType | None = UNSET
    reasoning: str | UnsetType | None = UNSET
    reasoning_details: list[Json] | UnsetType | None = UNSET
    thinking_blocks: list[ThinkingBlock] | UnsetType = UNSET  # each block whole, once it has ended
    tool_calls: list[ToolCall] | UnsetType | None = UNSET
    refusal: str | UnsetType | None = UNSET
    function_call: Json | UnsetType | None = UNSET

    def is_empty(self) -> bool:
        return self == _EMPTY_DELTA


_EMPTY_DELTA = Delta()


class ChunkChoice(Plain, kw_only=True):
    index: int = 0
    delta: Delta = field(default_factory=Delta)
    logprobs: Json | None = None
    finish_reason: str | None = None
    usage: Json | UnsetType | None = UNSET  # Moonshot reports usage here (taken out by its adapter)


class ChatChunk(CompletionBody[ChunkChoice], kw_only=True):
    object: str = "chat.completion.chunk"


class WireChunk(ChatChunk, kw_only=True, gc=True, dict=True):
    """A chunk that needed no change on its way through: `wire` holds its upstream JSON, which an
    OpenAI-format client gets as it came (no encode; its fields are read, never changed). Its
    unknown fields are not scanned into `extra`: they are in `wire`."""

    @property
    def wire(self) -> bytes:
        """The upstream's JSON of this chunk (kept beside the fields, never a JSON field itself)."""
        wire: bytes = self.__dict__["wire"]
        return wire

    @wire.setter
    def wire(self, value: bytes) -> None:
        self.__dict__["wire"] = value


# --- embeddings ------------------------------------------------------------------------------------
class EmbeddingRequest(Extensible, kw_only=True):
    model: str | UnsetType = UNSET
    input: str | list[Any] | UnsetType = UNSET  # text(s) or token arrays
    dimensions: int | UnsetType | None = UNSET
    encoding_format: str | UnsetType | None = UNSET
    user: str | UnsetType = UNSET
    models: list[str] | UnsetType = UNSET

    def texts(self, provider: str) -> list[str]:
        """The inputs as a non-empty list of strings (vendors that take no token arrays)."""
        texts = [self.input] if isinstance(self.input, str) else self.input
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise KeyrelayError(
                "invalid_request", f"{provider} embeddings take a string or a list of strings", param="input"
            )
        return [str(t) for t in texts]


class Embedding(Plain, kw_only=True):
    index: int
    embedding: list[float] | str
    object: str = "embedding"


class EmbeddingList(Extensible, kw_only=True):
    object: str = "list"
    data: list[Embedding] = field(default_factory=list)
    model: str = ""
    usage: Json | UnsetType = UNSET


# --- images -------------------------------------------------------------------------------------------
class ImageRequest(Extensible, kw_only=True):
    """OpenAI Images; media providers take `prompt` and the `extra` fields as model input."""

    model: str | UnsetType = UNSET
    prompt: str | UnsetType = UNSET
    n: int | UnsetType | None = UNSET
    size: str | UnsetType | None = UNSET
    quality: str | UnsetType | None = UNSET
    style: str | UnsetType | None = UNSET
    response_format: str | UnsetType | None = UNSET
    user: str | UnsetType = UNSET
    models: list[str] | UnsetType = UNSET

    def model_input(self) -> Json:
        """What a media provider gets as its model's input: the prompt and every untyped field."""
        out: Json = {} if self.prompt is UNSET else {"prompt": self.prompt}
        if self.extra:
            out.update(self.extra)
        return out


class Image(Plain, kw_only=True):
    url: str | UnsetType = UNSET
    b64_json: str | UnsetType = UNSET
    revised_prompt: str | UnsetType = UNSET


class ImagesResponse(Extensible, kw_only=True):
    created: int = 0
    data: list[Image] = field(default_factory=list)
    usage: Json | UnsetType = UNSET


class JobHandle(Plain, kw_only=True):
    """A media job still running at the deadline: the client can come back for it."""

    id: str
    status: str  # queued | in_progress
    provider: str
