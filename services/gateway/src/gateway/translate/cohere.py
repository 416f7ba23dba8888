"""OpenAI Chat Completions -> Cohere v2 chat and back (providers.md 19, 20.1-20.3, 20.7).

Messages and tools already use the OpenAI shapes; the differences are parameter names
(`p`, `k`, `stop_sequences`), `tool_choice` (`REQUIRED`/`NONE` only), JSON mode, finish reasons,
usage (`billed_units`, falling back to `tokens`) and the stream's kebab-case events.
"""

from __future__ import annotations

from msgspec import UNSET

from gateway.translate.cohere_wire import (
    CohereEvent,
    CohereMessage,
    CohereRequest,
    CohereResponse,
    CohereResponseFormat,
    CohereTool,
    CohereUsage,
    DeltaMessage,
    EventDelta,
    Thinking,
)
from gateway.translate.common import (
    StreamTranslatorBase,
    assistant_message,
    client_request,
    completion_body,
    content_parts,
    decode_vendor,
    function_of,
    max_tokens_of,
    sampling_settings,
    single_choice,
    stop_list,
    text_of,
    tool_call,
)
from gateway.wire.errors import interrupted, map_stream_error
from gateway.wire.openai import ChatChunk, ChatCompletion, ChatRequest, FunctionDef, Message, ToolCall
from gateway.wire.sse import SseEvent
from shared.errors import KeyrelayError, echo
from shared.messages.usage import Usage

FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}
_THINKING_BUDGET = {"low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 32768}


# --- request -----------------------------------------------------------------------------------
@client_request
def openai_to_cohere_request(body: ChatRequest) -> CohereRequest:
    single_choice(body, "Cohere")
    out = CohereRequest(model=body.model, messages=[_message(m) for m in body.messages])
    if (max_tokens := max_tokens_of(body)) is not None:
        out.max_tokens = max_tokens
    for name, value in sampling_settings(body, top_p="p"):
        setattr(out, name, value)
    if stops := stop_list(body.stop):
        out.stop_sequences = stops
    _tools(body, out)
    fmt = body.response_format
    if fmt and fmt.type in ("json_object", "json_schema"):
        schema = fmt.json_schema.schema if fmt.json_schema else None
        out.response_format = CohereResponseFormat(type="json_object", json_schema=schema or UNSET)
    effort = body.reasoning_effort
    if isinstance(effort, str) and effort in _THINKING_BUDGET:
        out.thinking = Thinking(type="enabled", token_budget=_THINKING_BUDGET[effort])
    if body.stream:
        out.stream = True
    return out


def _message(message: Message) -> CohereMessage:
    role = message.role
    if role in ("system", "developer"):
        return CohereMessage(role="system", content=text_of(message.content))
    if role == "user":
        if isinstance(message.content, str):
            return CohereMessage(role="user", content=message.content)
        parts = content_parts(message.content)
        for part in parts:  # Cohere takes text and images: anything else is refused, never dropped
            if part.type not in ("text", "image_url"):
                raise KeyrelayError(
                    "invalid_request",
                    f"content part {echo(part.type)} is not supported for Cohere models",
                    param="messages",
                )
        return CohereMessage(role="user", content=parts)
    if role == "assistant":
        out = CohereMessage(role="assistant")
        if text := text_of(message.content):
            out.content = text
        if message.tool_calls:
            out.tool_calls = [_call(c) for c in message.tool_calls]
        return out
    if role == "tool":
        return CohereMessage(role="tool", tool_call_id=message.tool_call_id, content=text_of(message.content))
    raise KeyrelayError("invalid_request", f"unsupported message role {echo(role)}", param="messages")


def _call(call: ToolCall) -> ToolCall:
    function = function_of(call)
    arguments = function.arguments if isinstance(function.arguments, str) and function.arguments else "{}"
    return tool_call(str(call.id or ""), str(function.name or ""), arguments)


def _tools(body: ChatRequest, out: CohereRequest) -> None:
    functions = [t.function for t in body.tools or [] if t.function]
    choice = body.tool_choice
    if choice and not isinstance(choice, str):  # no "call this one" in Cohere: require a call, offer only it
        name = choice.function.name if choice.function else None
        functions = [f for f in functions if f.name == name]
        choice = "required"
    if not functions:
        return
    out.tools = [
        CohereTool(function=FunctionDef(name=f.name, description=f.description, parameters=f.parameters))
        for f in functions
    ]
    if any(f.strict for f in functions):
        out.strict_tools = True
    if choice == "required":
        out.tool_choice = "REQUIRED"
    elif choice == "none":
        out.tool_choice = "NONE"


# --- response ----------------------------------------------------------------------------------
def cohere_usage(raw: CohereUsage | None) -> Usage:
    raw = raw or CohereUsage()
    billed, tokens = raw.billed_units, raw.tokens
    prompt = int((billed and billed.input_tokens) or (tokens and tokens.input_tokens) or 0)
    completion = int((billed and billed.output_tokens) or (tokens and tokens.output_tokens) or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=raw.cached_tokens or 0,
        total_tokens=prompt + completion,
    )


def _finish(reason: str | None, provider: str) -> str:
    if reason in ("ERROR", "TIMEOUT"):
        raise interrupted(provider, f"generation failed upstream ({reason})")
    return FINISH_REASONS.get(str(reason), "stop")


def cohere_to_openai_response(
    body: CohereResponse, model: str, provider: str = "cohere"
) -> tuple[ChatCompletion, Usage]:
    texts: list[str] = []
    thoughts: list[str] = []
    message = body.message
    for item in message.content if message else []:
        if item.type == "text":
            texts.append(item.text or "")
        elif item.type == "thinking":
            thoughts.append(item.thinking or "")
    calls = [_call(c) for c in message.tool_calls] if message else []
    usage = cohere_usage(body.usage)
    finish = _finish(body.finish_reason, provider)
    reply = assistant_message("".join(texts), calls, "".join(thoughts))
    return completion_body(model, reply, finish, usage, body.id), usage


# --- stream ------------------------------------------------------------------------------------
class CohereStreamTranslator(StreamTranslatorBase):
    """Cohere v2 stream events -> OpenAI chunks (section 20.7); `message-end` is terminal."""

    def __init__(self, provider: str, model: str) -> None:
        super().__init__(provider, model)
        self._thinking = False

    def feed(self, event: SseEvent) -> list[ChatChunk]:
        if not event.data or event.data.strip() == "[DONE]":
            return []
        data = decode_vendor(event.data, CohereEvent, self._provider, "stream event")
        kind = data.type or event.event
        delta = data.delta or EventDelta()
        message = delta.message or DeltaMessage()
        if kind == "message-start":
            if data.id:
                self._out.id = data.id
            return self._out.role()
        if kind == "content-start":
            self._thinking = message.item().type == "thinking"
            return []
        if kind == "content-delta":
            content = message.item()
            if self._thinking:
                return self._out.reasoning(content.thinking or "")
            return self._out.text(content.text or "")
        if kind in ("tool-call-start", "tool-call-delta"):
            return self._tool(kind, data.index, message.call())
        if kind == "tool-plan-delta":
            return self._out.reasoning(message.tool_plan or "")
        if kind == "message-end":
            return self._end(delta)
        if kind == "error" or (kind is None and data.error is not None):
            raise map_stream_error(self._provider, {"type": kind, "error": data.error})
        return []

    def _tool(self, kind: str, index: int, call: ToolCall) -> list[ChatChunk]:
        function = function_of(call)
        arguments = function.arguments if isinstance(function.arguments, str) else ""
        if kind == "tool-call-start":
            return self._out.tool_start(index, str(call.id or ""), str(function.name or ""), arguments)
        return self._out.tool_args(index, arguments)

    def _end(self, delta: EventDelta) -> list[ChatChunk]:
        self.finished = True
        if delta.usage:
            self.usage = cohere_usage(delta.usage)
        if delta.error:
            raise interrupted(self._provider, "generation failed upstream")
        return self._out.finish(_finish(delta.finish_reason, self._provider))

    def end(self) -> list[ChatChunk]:
        return self._ended(self.finished, "before message-end")


# --- the format, as adapters are configured by it ---------------------------------------------------
class CohereFormat:
    def request(self, body: ChatRequest, model: str, *, stream: bool) -> CohereRequest:
        out = openai_to_cohere_request(body)
        out.model = model
        out.stream = True if stream else UNSET
        return out

    def response(self, raw: bytes, model: str, provider: str) -> tuple[ChatCompletion, Usage]:
        return cohere_to_openai_response(decode_vendor(raw, CohereResponse, provider), model, provider)

    def stream(self, provider: str, model: str) -> CohereStreamTranslator:
        return CohereStreamTranslator(provider, model)
