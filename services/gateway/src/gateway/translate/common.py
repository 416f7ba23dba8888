"""Pieces every format translation shares: OpenAI message helpers, the chunk builder, usage JSON."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import msgspec

from shared.errors import KeyrelayError
from shared.messages.usage import Usage

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
DEFAULT_MAX_TOKENS = 4096


P = ParamSpec("P")
T = TypeVar("T")


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


def dumps(value: Any) -> str:
    return _encode(value).decode()


def loads(text: str | bytes) -> Any:
    return _decode(text)


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def tool_arguments(raw: Any) -> dict[str, Any]:
    """OpenAI `function.arguments` (a JSON string) as the object other formats want."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = loads(raw)
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
        raise KeyrelayError("invalid_request", "image data URLs must be base64 encoded", param="messages")
    return head.removesuffix(";base64") or "application/octet-stream", data


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


def text_of(content: Any) -> str:
    """The text of an OpenAI message `content` (a string, a list of parts, or null)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise KeyrelayError("invalid_request", "message content must be a string or a list of parts", param="messages")


def content_parts(content: Any) -> list[dict[str, Any]]:
    """OpenAI `content` as a list of parts (a string becomes one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [p for p in content if isinstance(p, dict)]
    raise KeyrelayError("invalid_request", "message content must be a string or a list of parts", param="messages")


def image_url_of(part: dict[str, Any]) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise KeyrelayError("invalid_request", "image_url parts need a url", param="messages")
    return url


def stop_list(stop: Any) -> list[str] | None:
    if stop is None:
        return None
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return list(stop)
    raise KeyrelayError("invalid_request", "stop must be a string or a list of strings", param="stop")


def max_tokens_of(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def single_choice(body: dict[str, Any], provider: str) -> None:
    n = body.get("n")
    if n not in (None, 1):
        raise KeyrelayError("invalid_request", f"{provider} models return one choice: n must be 1", param="n")


def usage_to_openai(usage: Usage) -> dict[str, Any]:
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


def merge_usage_json(usage: Usage, raw: Any) -> dict[str, Any]:
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


def usage_from_openai(raw: Any) -> Usage | None:
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


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def completion_body(
    model: str, message: dict[str, Any], finish_reason: str, usage: Usage, response_id: str | None = None
) -> dict[str, Any]:
    """An OpenAI `chat.completion` object with one choice."""
    return {
        "id": response_id or new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage_to_openai(usage),
    }


def assistant_message(text: str, tool_calls: list[dict[str, Any]], reasoning: str = "") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return message


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


class ChunkBuilder:
    """Emits normalised OpenAI chunks (section 20.4): role chunk first, at most one finish chunk."""

    __slots__ = ("_role_sent", "created", "finish_reason", "id", "model")

    def __init__(self, model: str, response_id: str | None = None) -> None:
        self.id = response_id or new_id("chatcmpl-")
        self.created = int(time.time())
        self.model = model
        self.finish_reason: str | None = None
        self._role_sent = False

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    def role(self) -> list[dict[str, Any]]:
        if self._role_sent:
            return []
        self._role_sent = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def text(self, text: str) -> list[dict[str, Any]]:
        return [*self.role(), self._chunk({"content": text})] if text else self.role()

    def reasoning(self, text: str) -> list[dict[str, Any]]:
        return [*self.role(), self._chunk({"reasoning_content": text})] if text else self.role()

    def tool_start(self, index: int, call_id: str, name: str, arguments: str = "") -> list[dict[str, Any]]:
        call = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        return [*self.role(), self._chunk({"tool_calls": [call]})]

    def tool_args(self, index: int, fragment: str) -> list[dict[str, Any]]:
        if not fragment:
            return []
        return [*self.role(), self._chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})]

    def finish(self, reason: str) -> list[dict[str, Any]]:
        if self.finish_reason is not None:
            return []
        self.finish_reason = reason
        return [*self.role(), self._chunk({}, reason)]
