"""Pieces every format translation shares: OpenAI message helpers, the chunk builder, usage JSON."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, Protocol, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from gateway.wire.errors import interrupted
from gateway.wire.openai import (
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    Choice,
    ChunkChoice,
    ContentPart,
    Delta,
    FunctionCall,
    Json,
    ResponseMessage,
    ThinkingBlock,
    ToolCall,
)
from shared.errors import KeyrelayError
from shared.messages.usage import Usage

Content = str | list[ContentPart] | None | UnsetType

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
DEFAULT_MAX_TOKENS = 4096
# An OpenAI tool message has no error flag: a failed tool's result (Anthropic's `is_error`) says so
# at the start of its text, and a format with a flag of its own (Gemini's `error` key) reads it back.
TOOL_ERROR_PREFIX = "[tool error] "


P = ParamSpec("P")
T = TypeVar("T")
V = TypeVar("V")
I = TypeVar("I")  # noqa: E741 - an item of a turn (a block, a part)


def client_request(translate: Callable[P, T]) -> Callable[P, T]:
    """Marks a translator of a client's request body: it reads the body as its format's schema says,
    and a body of another shape (`tools: true`, `messages: [null]`) is the client's 400, never a 500."""

    @functools.wraps(translate)
    def checked(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return translate(*args, **kwargs)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise KeyrelayError(
                "invalid_request", f"the request body does not have the expected shape ({type(exc).__name__})"
            ) from None

    return checked


def decode_vendor(raw: bytes | str, kind: type[V], provider: str, what: str = "response body") -> V:
    """A vendor's JSON as its struct (lenient about scalar types); anything else is malformed."""
    try:
        return msgspec.json.decode(raw, type=kind, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise interrupted(provider, f"malformed {what}") from None


def dumps(value: Any) -> str:
    return _encode(value).decode()


def loads(text: str | bytes) -> Any:
    return _decode(text)


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def tool_arguments(raw: object) -> Json:
    """OpenAI `function.arguments` (a JSON string) as the object other formats want."""
    if isinstance(raw, dict):
        return raw
    if not raw or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = loads(raw) if isinstance(raw, str | bytes) else None
    except (msgspec.DecodeError, TypeError):
        raise KeyrelayError("invalid_request", "tool call arguments must be a JSON object", param="messages") from None
    if not isinstance(value, dict):
        raise KeyrelayError("invalid_request", "tool call arguments must be a JSON object", param="messages")
    return value


def parse_data_url(url: str) -> tuple[str, str] | None:
    """`data:<media type>;base64,<data>` -> (media type, base64 data); None for other URLs."""
    if not url.startswith("data:"):
        return None
    head, comma, data = url[5:].partition(",")
    if not comma or not head.endswith(";base64"):
        raise KeyrelayError("invalid_request", "data URLs of images and files must be base64 encoded", param="messages")
    return head.removesuffix(";base64") or "application/octet-stream", data


def file_data_of(part: ContentPart, provider: str) -> tuple[str, str, str | None]:
    """A `file` part's (media type, base64 data, filename). Its data is needed: a `file_id` names a
    file in OpenAI's own store, which no other provider can read."""
    file = part.file if isinstance(part.file, dict) else {}
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise KeyrelayError(
            "invalid_request",
            f"file parts sent to {provider} models need file_data (a file_id refers to OpenAI's file store)",
            param="messages",
        )
    inline = parse_data_url(data)
    media, payload = inline if inline is not None else ("application/pdf", data)  # bare base64: a PDF
    name = file.get("filename")
    return media, payload, name if isinstance(name, str) and name else None


def data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


def guess_image_type(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    for ext, media in (
        (".png", "image/png"),
        (".gif", "image/gif"),
        (".webp", "image/webp"),
        (".heic", "image/heic"),
        (".pdf", "application/pdf"),
    ):
        if path.endswith(ext):
            return media
    return "image/jpeg"


def text_of(content: Content) -> str:
    """The text of an OpenAI message `content` (a string, a list of parts, or null)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.text for p in content if p.type == "text" and isinstance(p.text, str))
    return ""


def content_parts(content: Content) -> list[ContentPart]:
    """OpenAI `content` as a list of parts (a string becomes one text part)."""
    if isinstance(content, str):
        return [ContentPart(type="text", text=content)] if content else []
    if isinstance(content, list):
        return content
    return []


def part_text(part: ContentPart) -> str:
    return part.text if isinstance(part.text, str) else ""


def image_url_of(part: ContentPart) -> str:
    image = part.image_url
    url = image if isinstance(image, str) else image.url if image else ""
    if not url:
        raise KeyrelayError("invalid_request", "image_url parts need a url", param="messages")
    return url


def stop_list(stop: str | list[str] | UnsetType | None) -> list[str] | None:
    if isinstance(stop, str):
        return [stop]
    return list(stop) if stop else None


def max_tokens_of(body: ChatRequest) -> int | None:
    value = body.max_completion_tokens if body.max_completion_tokens is not UNSET else body.max_tokens
    return value if isinstance(value, int) else None


def number(value: float | UnsetType | None) -> float | None:
    return value if isinstance(value, int | float) else None


def sampling_settings(body: ChatRequest, *, top_p: str = "top_p") -> list[tuple[str, float]]:
    """The sampling settings the client set (temperature, top_p, seed, penalties) as (vendor field,
    value), for the vendors whose fields have the OpenAI names (Cohere calls `top_p` `p`)."""
    settings = (
        ("temperature", number(body.temperature)),
        (top_p, number(body.top_p)),
        ("seed", body.seed if isinstance(body.seed, int) else None),
        ("frequency_penalty", number(body.frequency_penalty)),
        ("presence_penalty", number(body.presence_penalty)),
    )
    return [(name, value) for name, value in settings if value is not None]


def function_of(call: ToolCall) -> FunctionCall:
    return call.function or FunctionCall()


def single_choice(body: ChatRequest, provider: str) -> None:
    if body.n not in (None, UNSET, 1):
        raise KeyrelayError("invalid_request", f"{provider} models return one choice: n must be 1", param="n")


def usage_to_openai(usage: Usage) -> Json:
    """A `Usage` as OpenAI `usage` JSON, cached/cache-write/reasoning details included."""
    prompt_details: dict[str, int] = {"cached_tokens": usage.cached_tokens}
    if usage.cache_write_tokens:
        prompt_details["cache_write_tokens"] = usage.cache_write_tokens
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def merge_usage_json(usage: Usage, raw: object) -> Json:
    """Upstream usage JSON with its counts replaced by the normalised ones (vendor extras kept)."""
    normal = usage_to_openai(usage)
    if not isinstance(raw, dict):
        return normal
    out = {
        **raw,
        "prompt_tokens": normal["prompt_tokens"],
        "completion_tokens": normal["completion_tokens"],
        "total_tokens": normal["total_tokens"],
    }
    for key in ("prompt_tokens_details", "completion_tokens_details"):
        details = raw.get(key)
        out[key] = {**(details if isinstance(details, dict) else {}), **normal[key]}
    return out


def usage_from_openai(raw: object) -> Usage | None:
    """OpenAI `usage` JSON (and the common vendor variants of it) as a `Usage`."""
    if not isinstance(raw, dict):
        return None
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    return Usage(
        prompt_tokens=_int(raw.get("prompt_tokens")),
        completion_tokens=_int(raw.get("completion_tokens")),
        cached_tokens=_int(prompt_details.get("cached_tokens") or raw.get("cached_tokens")),
        cache_write_tokens=_int(prompt_details.get("cache_write_tokens")),
        reasoning_tokens=_int(completion_details.get("reasoning_tokens") or raw.get("reasoning_tokens")),
        total_tokens=_int(raw.get("total_tokens")),
    ).finalize()


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def completion_body(
    model: str, message: ResponseMessage, finish_reason: str, usage: Usage, response_id: str | None = None
) -> ChatCompletion:
    """An OpenAI `chat.completion` with one choice."""
    return ChatCompletion(
        id=response_id or new_id("chatcmpl-"),
        created=int(time.time()),
        model=model,
        choices=[Choice(index=0, message=message, finish_reason=finish_reason)],
        usage=usage_to_openai(usage),
    )


def assistant_message(text: str, tool_calls: list[ToolCall], reasoning: str = "") -> ResponseMessage:
    message = ResponseMessage(content=text or None)
    if tool_calls:
        message.tool_calls = tool_calls
    if reasoning:
        message.reasoning_content = reasoning
    return message


def tool_call(call_id: str, name: str, arguments: str) -> ToolCall:
    return ToolCall(id=call_id, type="function", function=FunctionCall(name=name, arguments=arguments))


class _HasRole(Protocol):
    @property
    def role(self) -> object: ...


TurnT = TypeVar("TurnT", bound=_HasRole)


class TurnMerger(Generic[TurnT, I]):
    """Appends a vendor turn of a role, merged into the last turn when that has the same role (formats
    that want alternating roles: Anthropic, Gemini); a turn without items is not sent."""

    def __init__(self, make: Callable[[str, list[I]], TurnT], items_of: Callable[[TurnT], list[I]]) -> None:
        self._make = make
        self._items_of = items_of

    def __call__(self, turns: list[TurnT], role: str, items: list[I]) -> None:
        if not items:
            return
        if turns and turns[-1].role == role:
            self._items_of(turns[-1]).extend(items)
        else:
            turns.append(self._make(role, items))


class StreamTranslatorBase:
    """What every vendor's stream translator holds: its chunk builder, the usage so far, the end flag."""

    def __init__(self, provider: str, model: str) -> None:
        self._provider = provider
        self._out = ChunkBuilder(model)
        self.usage: Usage | None = None
        self.finished = False  # the terminal event was seen

    def _ended(self, done: bool, missing: str) -> list[ChatChunk]:
        """End of body: nothing more to send if `done`, else the stream was cut (`missing` never came)."""
        if not done:
            raise interrupted(self._provider, f"stream ended {missing}")
        return []


class ChunkBuilder:
    """Emits normalised OpenAI chunks (section 20.4): role chunk first, at most one finish chunk."""

    __slots__ = ("_role_sent", "created", "finish_reason", "id", "model")

    def __init__(self, model: str, response_id: str | None = None) -> None:
        self.id = response_id or new_id("chatcmpl-")
        self.created = int(time.time())
        self.model = model
        self.finish_reason: str | None = None
        self._role_sent = False

    def _chunk(self, delta: Delta, finish_reason: str | None = None) -> ChatChunk:
        return ChatChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)],
        )

    def role(self) -> list[ChatChunk]:
        if self._role_sent:
            return []
        self._role_sent = True
        return [self._chunk(Delta(role="assistant", content=""))]

    def text(self, text: str) -> list[ChatChunk]:
        return [*self.role(), self._chunk(Delta(content=text))] if text else self.role()

    def reasoning(self, text: str) -> list[ChatChunk]:
        return [*self.role(), self._chunk(Delta(reasoning_content=text))] if text else self.role()

    def thinking_block(self, block: ThinkingBlock) -> list[ChatChunk]:
        return [*self.role(), self._chunk(Delta(thinking_blocks=[block]))]

    def tool_start(self, index: int, call_id: str, name: str, arguments: str = "") -> list[ChatChunk]:
        call = ToolCall(index=index, id=call_id, type="function", function=FunctionCall(name=name, arguments=arguments))
        return [*self.role(), self._chunk(Delta(tool_calls=[call]))]

    def tool_args(self, index: int, fragment: str) -> list[ChatChunk]:
        if not fragment:
            return []
        call = ToolCall(index=index, function=FunctionCall(arguments=fragment))
        return [*self.role(), self._chunk(Delta(tool_calls=[call]))]

    def finish(self, reason: str) -> list[ChatChunk]:
        if self.finish_reason is not None:
            return []
        self.finish_reason = reason
        return [*self.role(), self._chunk(Delta(), reason)]
