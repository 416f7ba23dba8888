"""OpenAI Chat Completions -> Anthropic Messages and back (providers.md 3, 20.1-20.5).

Outbound direction, used by the Anthropic and Vertex-Claude adapters through `AnthropicFormat`:
`openai_to_anthropic_request`, `anthropic_to_openai_response`, `anthropic_usage` and
`AnthropicStreamTranslator` (Anthropic SSE events -> OpenAI chunks).
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec import UNSET

from gateway.translate.anthropic_wire import (
    AnthropicUsage,
    Block,
    EventDelta,
    MessagesRequest,
    MessagesResponse,
    Metadata,
    OutputConfig,
    OutputFormat,
    Source,
    StreamEvent,
    ToolChoice,
    ToolSpec,
    Turn,
)
from gateway.translate.common import (
    DEFAULT_MAX_TOKENS,
    StreamTranslatorBase,
    TurnMerger,
    assistant_message,
    client_request,
    completion_body,
    content_parts,
    decode_vendor,
    dumps,
    file_data_of,
    function_of,
    image_url_of,
    max_tokens_of,
    number,
    parse_data_url,
    part_text,
    single_choice,
    stop_list,
    text_of,
    tool_arguments,
    tool_call,
)
from gateway.translate.system_turns import place_system_turns
from gateway.wire.errors import map_stream_error
from gateway.wire.openai import (
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    ContentPart,
    Json,
    Message,
    ThinkingBlock,
    Tool,
    ToolCall,
)
from gateway.wire.sse import SseEvent
from shared.errors import KeyrelayError, echo
from shared.messages.usage import Usage

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
JSON_INSTRUCTION = "Respond with one valid JSON object and nothing else."
# OpenAI's `service_tier` as Anthropic's: `auto` (priority capacity when the organisation has it,
# else standard) also serves `priority`/`fast`; `default` is `standard_only`. Flex and scale
# processing have no Anthropic counterpart: refused.
SERVICE_TIERS = {"auto": "auto", "default": "standard_only", "priority": "auto", "fast": "auto"}
_EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})
_EMPTY_SCHEMA = {"type": "object", "properties": {}}
_THINKING_TYPES = frozenset({"enabled", "adaptive", "disabled"})
_append = TurnMerger[Turn, Block](lambda role, blocks: Turn(role=role, content=blocks), lambda turn: turn.content)


# --- request -----------------------------------------------------------------------------------
@client_request
def openai_to_anthropic_request(body: ChatRequest, *, system_turns: bool = False) -> MessagesRequest:
    """An OpenAI chat request as an Anthropic Messages request (model kept; Vertex drops it).

    System messages join the top-level `system`; with `system_turns` (a model that takes them),
    those after the conversation started stay in place where Anthropic allows (`system_turns.py`).
    """
    single_choice(body, "Anthropic")
    thinking = _thinking(body)
    continued = _continued_tool_turn(body.messages) if thinking.get("type") in ("enabled", "adaptive") else None
    system: list[str] = []
    messages: list[Turn] = []
    for i, message in enumerate(body.messages):
        role = message.role
        if role in ("system", "developer"):
            if (text := text_of(message.content)) and system_turns and messages:
                _append(messages, "system", [Block(type="text", text=text)])
            elif text:
                system.append(text)
        elif role == "user":
            _append(messages, "user", [_user_block(p) for p in content_parts(message.content)])
        elif role == "assistant":
            _append(messages, "assistant", _assistant_blocks(message, i, required=i == continued))
        elif role == "tool":
            _append(messages, "user", [_tool_result(message)])
        else:
            raise KeyrelayError("invalid_request", f"unsupported message role {echo(role)}", param="messages")
    if system_turns:
        messages = place_system_turns(messages, system)
    if messages and messages[0].role != "user":
        messages.insert(0, Turn(role="user", content=[Block(type="text", text=".")]))
    out = MessagesRequest(model=body.model, max_tokens=max_tokens_of(body) or DEFAULT_MAX_TOKENS, messages=messages)
    _sampling(body, out)
    if thinking:
        out.thinking = thinking
    _tools(body, out)
    _response_format(body, out, system)
    if system:
        out.system = "\n\n".join(system)
    if isinstance(body.user, str):
        out.metadata = Metadata(user_id=body.user)
    _service_tier(body, out)
    if body.stream:
        out.stream = True
    return out


def _service_tier(body: ChatRequest, out: MessagesRequest) -> None:
    tier = body.get_extra("service_tier")
    if tier is None:
        return
    if not isinstance(tier, str) or tier not in SERVICE_TIERS:
        raise KeyrelayError(
            "invalid_request", f"service_tier {echo(tier)} has no counterpart on Anthropic models", param="service_tier"
        )
    out.service_tier = SERVICE_TIERS[tier]


def _user_block(part: ContentPart) -> Block:
    if part.type == "text":
        return Block(type="text", text=part_text(part))
    if part.type == "file":
        media, data, name = file_data_of(part, "Anthropic")
        if media != "application/pdf":
            raise KeyrelayError(
                "invalid_request", f"Anthropic models take PDF files, not {echo(media)}", param="messages"
            )
        block = Block(type="document", source=Source(type="base64", media_type=media, data=data))
        if name:
            block.title = name
        return block
    if part.type == "image_url":
        url = image_url_of(part)
        inline = parse_data_url(url)
        if inline is not None:
            return Block(type="image", source=Source(type="base64", media_type=inline[0], data=inline[1]))
        return Block(type="image", source=Source(type="url", url=url))
    raise KeyrelayError(
        "invalid_request", f"content part {echo(part.type)} is not supported for Anthropic models", param="messages"
    )


def _thinking(body: ChatRequest) -> Json:
    """The client's `thinking` (LiteLLM's extra field, Anthropic's shape), sent as it is."""
    thinking = body.get_extra("thinking")
    if thinking is None:
        return {}
    if not isinstance(thinking, dict) or thinking.get("type") not in _THINKING_TYPES:
        raise KeyrelayError(
            "invalid_request",
            "thinking must be an object whose type is enabled, adaptive or disabled",
            param="thinking",
        )
    return thinking


def _continued_tool_turn(messages: list[Message]) -> int | None:
    """The index of the last assistant message when the conversation continues its tool calls (tool
    results follow it): with thinking on, Anthropic needs its thinking blocks back, signed."""
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "assistant"), None)
    if last is None or not messages[last].tool_calls:
        return None
    return last if any(m.role == "tool" for m in messages[last + 1 :]) else None


def _thinking_blocks(message: Message, index: int, *, required: bool) -> list[Block]:
    """The message's `thinking_blocks` as Anthropic blocks, unchanged. A thinking block without its
    signature (or bare `reasoning_content`) cannot go back: dropped, unless Anthropic requires it."""
    param = f"messages[{index}].thinking_blocks"
    blocks: list[Block] = []
    for block in message.thinking_blocks or []:
        if block.type == "thinking" and block.signature:
            blocks.append(Block(type="thinking", thinking=block.thinking or "", signature=block.signature))
        elif block.type == "redacted_thinking" and block.data:
            blocks.append(Block(type="redacted_thinking", data=block.data))
        elif block.type not in ("thinking", "redacted_thinking"):
            raise KeyrelayError(
                "invalid_request", f"thinking block type {echo(block.type)} is not supported", param=param
            )
    if required and not blocks and (message.reasoning_content or message.thinking_blocks):
        raise KeyrelayError(
            "invalid_request",
            f"messages[{index}] continues its tool calls with thinking on: Anthropic needs its thinking blocks "
            "back with their signatures; send the assistant message's thinking_blocks as the gateway returned them",
            param=param,
        )
    return blocks


def _assistant_blocks(message: Message, index: int, *, required: bool) -> list[Block]:
    blocks = _thinking_blocks(message, index, required=required)
    if text := text_of(message.content):
        blocks.append(Block(type="text", text=text))
    for call in message.tool_calls or []:
        function = function_of(call)
        blocks.append(Block(type="tool_use", id=call.id, name=function.name, input=tool_arguments(function.arguments)))
    return blocks


def _tool_result(message: Message) -> Block:
    return Block(type="tool_result", tool_use_id=message.tool_call_id, content=text_of(message.content))


def _sampling(body: ChatRequest, out: MessagesRequest) -> None:
    temperature, top_p = number(body.temperature), number(body.top_p)
    if temperature is not None:
        out.temperature = min(max(float(temperature), 0.0), 1.0)
    elif top_p is not None:  # newer models refuse both: temperature wins
        out.top_p = top_p
    if stops := stop_list(body.stop):
        out.stop_sequences = stops
    if body.reasoning_effort in _EFFORTS:
        out.output_config = OutputConfig(effort=str(body.reasoning_effort))


def _tools(body: ChatRequest, out: MessagesRequest) -> None:
    tools = body.tools
    if not tools:
        return
    out.tools = [_tool(t) for t in tools]
    choice = body.tool_choice
    mapped: ToolChoice | None = None
    if choice in ("auto", "none"):
        mapped = ToolChoice(type=str(choice))
    elif choice == "required":
        mapped = ToolChoice(type="any")
    elif choice and not isinstance(choice, str):
        mapped = ToolChoice(type="tool", name=choice.function.name if choice.function else UNSET)
    if body.parallel_tool_calls is False:
        mapped = mapped or ToolChoice(type="auto")
        if mapped.type != "none":
            mapped.disable_parallel_tool_use = True
    if mapped is not None:
        out.tool_choice = mapped


def _tool(tool: Tool) -> ToolSpec:
    if not tool.function:
        raise KeyrelayError("invalid_request", "Anthropic models take function tools only", param="tools")
    function = tool.function
    spec = ToolSpec(name=function.name, input_schema=function.parameters or _EMPTY_SCHEMA)
    if function.description:
        spec.description = function.description
    return spec


def _response_format(body: ChatRequest, out: MessagesRequest, system: list[str]) -> None:
    fmt = body.response_format
    if not fmt:
        return
    if fmt.type == "json_schema":
        schema = (fmt.json_schema.schema if fmt.json_schema else None) or {"type": "object"}
        config = out.output_config or OutputConfig()
        config.format = OutputFormat(type="json_schema", schema=schema)
        out.output_config = config
    elif fmt.type == "json_object":
        system.append(JSON_INSTRUCTION)


# --- response ----------------------------------------------------------------------------------
def anthropic_usage(raw: AnthropicUsage | None, previous: Usage | None = None) -> Usage:
    """Anthropic usage (input excludes cache reads/writes) as OpenAI-style totals."""
    raw = raw or AnthropicUsage()
    base = previous or Usage()
    cached = raw.cache_read_input_tokens if raw.cache_read_input_tokens is not None else base.cached_tokens
    written = (
        raw.cache_creation_input_tokens if raw.cache_creation_input_tokens is not None else base.cache_write_tokens
    )
    prompt = raw.input_tokens + cached + written if raw.input_tokens is not None else base.prompt_tokens
    completion = raw.output_tokens if raw.output_tokens is not None else base.completion_tokens
    details = raw.output_tokens_details
    thinking = details.thinking_tokens if details is not None else None
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=thinking if thinking is not None else base.reasoning_tokens,
        total_tokens=prompt + completion,
    )


def anthropic_to_openai_response(body: MessagesResponse, model: str) -> tuple[ChatCompletion, Usage]:
    """An Anthropic message as an OpenAI chat.completion, plus its usage."""
    texts: list[str] = []
    reasoning: list[str] = []
    thoughts: list[ThinkingBlock] = []
    calls: list[ToolCall] = []
    for block in body.content:
        if block.type == "text":
            texts.append(block.text or "")
        elif block.type in ("thinking", "redacted_thinking"):
            reasoning.append(block.thinking or "")
            thoughts.append(_thinking_block(block))
        elif block.type == "tool_use":
            calls.append(tool_call(str(block.id or ""), str(block.name or ""), dumps(block.input or {})))
    usage = anthropic_usage(body.usage)
    finish = STOP_REASONS.get(str(body.stop_reason), "stop")
    message = assistant_message("".join(texts), calls, "".join(reasoning))
    if thoughts:
        message.thinking_blocks = thoughts
    return completion_body(model, message, finish, usage, body.id), usage


def _thinking_block(block: Block) -> ThinkingBlock:
    """An Anthropic thinking or redacted_thinking block as the client keeps it (`thinking_blocks`)."""
    if block.type == "redacted_thinking":
        return ThinkingBlock(type="redacted_thinking", data=block.data or "")
    return ThinkingBlock(type="thinking", thinking=block.thinking or "", signature=block.signature or "")


# --- stream ------------------------------------------------------------------------------------
class AnthropicStreamTranslator(StreamTranslatorBase):
    """Anthropic SSE events -> OpenAI chunks (section 20.5)."""

    def __init__(self, provider: str, model: str) -> None:
        super().__init__(provider, model)
        self._tools: dict[int, int] = {}  # block index -> OpenAI tool index
        self._tool_args_sent: dict[int, bool] = {}
        self._thinking: dict[int, Block] = {}  # block index -> the thinking block so far
        self._finish = "stop"

    def feed(self, event: SseEvent) -> list[ChatChunk]:
        if not event.data or event.data == "[DONE]":
            return []
        data = decode_vendor(event.data, StreamEvent, self._provider, "stream event")
        handler = _HANDLERS.get(data.type)
        return handler(self, data) if handler else []

    def end(self) -> list[ChatChunk]:
        return self._ended(self.finished, "before message_stop")

    def _message_start(self, data: StreamEvent) -> list[ChatChunk]:
        message = data.message or MessagesResponse()
        if message.id:
            self._out.id = message.id
        self.usage = anthropic_usage(message.usage, self.usage)
        return self._out.role()

    def _block_start(self, data: StreamEvent) -> list[ChatChunk]:
        block = data.content_block or Block(type="")
        if block.type == "tool_use":
            k = self._tools[data.index] = len(self._tools)
            self._tool_args_sent[data.index] = False
            return self._out.tool_start(k, str(block.id or ""), str(block.name or ""))
        if block.type in ("thinking", "redacted_thinking"):
            self._thinking[data.index] = block
            return self._out.reasoning(block.thinking or "")
        if block.type == "text" and block.text:
            return self._out.text(block.text)
        return []

    def _block_delta(self, data: StreamEvent) -> list[ChatChunk]:
        delta = data.delta or EventDelta()
        if delta.type == "text_delta":
            return self._out.text(delta.text)
        if delta.type == "input_json_delta":
            if data.index not in self._tools or not delta.partial_json:
                return []
            self._tool_args_sent[data.index] = True
            return self._out.tool_args(self._tools[data.index], delta.partial_json)
        thought = self._thinking.get(data.index)
        if delta.type == "thinking_delta":
            if thought is not None:
                thought.thinking = (thought.thinking or "") + delta.thinking
            return self._out.reasoning(delta.thinking)
        if delta.type == "signature_delta" and thought is not None:
            thought.signature = (thought.signature or "") + delta.signature
        return []

    def _block_stop(self, data: StreamEvent) -> list[ChatChunk]:
        index = data.index
        if (thought := self._thinking.pop(index, None)) is not None:
            return self._out.thinking_block(_thinking_block(thought))  # whole, once signed
        if index in self._tools and not self._tool_args_sent[index]:
            self._tool_args_sent[index] = True
            return self._out.tool_args(self._tools[index], "{}")  # clients json.loads the arguments
        return []

    def _message_delta(self, data: StreamEvent) -> list[ChatChunk]:
        reason = data.delta.stop_reason if data.delta else None
        if reason:
            self._finish = STOP_REASONS.get(reason, "stop")
        self.usage = anthropic_usage(data.usage, self.usage)
        return []

    def _message_stop(self, data: StreamEvent) -> list[ChatChunk]:
        del data
        self.finished = True
        return self._out.finish(self._finish)

    def _error(self, data: StreamEvent) -> list[ChatChunk]:
        raise map_stream_error(self._provider, {"type": "error", "error": data.error})


_HANDLERS: dict[str, Callable[[AnthropicStreamTranslator, StreamEvent], list[ChatChunk]]] = {
    "message_start": AnthropicStreamTranslator._message_start,  # noqa: SLF001
    "content_block_start": AnthropicStreamTranslator._block_start,  # noqa: SLF001
    "content_block_delta": AnthropicStreamTranslator._block_delta,  # noqa: SLF001
    "content_block_stop": AnthropicStreamTranslator._block_stop,  # noqa: SLF001
    "message_delta": AnthropicStreamTranslator._message_delta,  # noqa: SLF001
    "message_stop": AnthropicStreamTranslator._message_stop,  # noqa: SLF001
    "error": AnthropicStreamTranslator._error,  # noqa: SLF001
}


# --- the format, as adapters are configured by it ---------------------------------------------------
class AnthropicFormat:
    """Anthropic Messages; Vertex sends the model in the URL and `anthropic_version` in the body;
    `system_turns` for the models that take system turns inside `messages` (`system_turns.py`)."""

    def __init__(self, version_in_body: str | None = None, *, system_turns: bool = False) -> None:
        self._version = version_in_body
        self._system_turns = system_turns

    def request(self, body: ChatRequest, model: str, *, stream: bool) -> MessagesRequest:
        out = openai_to_anthropic_request(body, system_turns=self._system_turns)
        out.model = UNSET if self._version else model
        out.stream = True if stream else UNSET
        if self._version:
            out.anthropic_version = self._version
        return out

    def response(self, raw: bytes, model: str, provider: str) -> tuple[ChatCompletion, Usage]:
        return anthropic_to_openai_response(decode_vendor(raw, MessagesResponse, provider), model)

    def stream(self, provider: str, model: str) -> AnthropicStreamTranslator:
        return AnthropicStreamTranslator(provider, model)


__all__ = [
    "STOP_REASONS",
    "AnthropicFormat",
    "AnthropicStreamTranslator",
    "anthropic_to_openai_response",
    "anthropic_usage",
    "openai_to_anthropic_request",
]
