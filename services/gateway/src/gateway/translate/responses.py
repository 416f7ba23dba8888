"""The OpenAI Responses API (`POST /v1/responses`) as typed objects, and its translation to chat.

Only what crosses to chat completions is translated; a Responses-format target gets the request
as sent (`providers/responses.py`). Translation:

* `parse_request(raw)`: the client's body as a `ResponsesRequest` (shape checked; `background`
  and `conversation`, which the gateway cannot honour on any target, are refused naming the field).
* `to_chat(request, items, model)`: the request (with the input `items`, context included) as a
  chat-completions body. What chat completions cannot express (built-in tools, hosted tool
  choices, stored prompts, logprobs, `file_url` files, ...) is refused with a 400 naming the
  field; reasoning items are the model's own earlier output, which chat-completions providers do
  not take back, so they are accepted and not sent, except Anthropic's thinking blocks, which the
  gateway returns sealed in a reasoning item's `encrypted_content` (`seal_thinking`) and sends back
  as the assistant turn's `thinking_blocks`.
* `from_chat(body, request, ...)`: a chat.completion as a `Response`.
* `ChatDelta`: what a chat chunk or message adds (streams: `responses_events.py`).

The chat side is confined to `to_chat` (out) and `ChatTurn.of_message` / `ChatDelta.of_chunk` (in).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any, Literal

import msgspec
from msgspec import UnsetType

from gateway.translate.common import new_id, usage_from_openai
from gateway.wire.openai import ChatChunk, ChatCompletion, FunctionCall, ThinkingBlock, ToolCall
from shared.errors import KeyrelayError, echo
from shared.messages.usage import Usage

JsonValue = object  # a free-form JSON value as sent (`Response` has a field named `object`)

# --- request: content parts -------------------------------------------------------------------


class InputText(msgspec.Struct, tag="input_text", tag_field="type", kw_only=True):
    text: str


class InputImage(msgspec.Struct, tag="input_image", tag_field="type", kw_only=True, omit_defaults=True):
    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class InputFile(msgspec.Struct, tag="input_file", tag_field="type", kw_only=True, omit_defaults=True):
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputText(msgspec.Struct, tag="output_text", tag_field="type", kw_only=True):
    text: str
    annotations: list[msgspec.Raw] = msgspec.field(default_factory=list)


class Refusal(msgspec.Struct, tag="refusal", tag_field="type", kw_only=True):
    refusal: str


ContentPart = InputText | InputImage | InputFile | OutputText | Refusal


# --- request: input items -----------------------------------------------------------------------


class MessageItem(msgspec.Struct, tag="message", tag_field="type", kw_only=True, omit_defaults=True):
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None
    status: str | None = None


class FunctionCallItem(msgspec.Struct, tag="function_call", tag_field="type", kw_only=True, omit_defaults=True):
    call_id: str
    name: str
    arguments: str
    id: str | None = None
    status: str | None = None


class FunctionCallOutputItem(
    msgspec.Struct, tag="function_call_output", tag_field="type", kw_only=True, omit_defaults=True
):
    call_id: str
    output: str | list[ContentPart]
    id: str | None = None
    status: str | None = None


class SummaryText(msgspec.Struct, tag="summary_text", tag_field="type", kw_only=True):
    text: str


class ReasoningItem(msgspec.Struct, tag="reasoning", tag_field="type", kw_only=True, omit_defaults=True):
    id: str | None = None
    summary: list[SummaryText] = msgspec.field(default_factory=list)
    encrypted_content: str | None = None
    status: str | None = None


InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem
_INPUT_TYPES = frozenset({"message", "function_call", "function_call_output", "reasoning"})


# --- request: the rest ----------------------------------------------------------------------------


class FunctionTool(msgspec.Struct, tag="function", tag_field="type", kw_only=True, omit_defaults=True):
    name: str
    parameters: dict[str, object] | None = None  # a JSON schema
    description: str | None = None
    strict: bool | None = None


class ToolChoiceFunction(msgspec.Struct, tag="function", tag_field="type", kw_only=True):
    name: str


class PlainText(msgspec.Struct, tag="text", tag_field="type"):
    pass


class JsonSchemaFormat(msgspec.Struct, tag="json_schema", tag_field="type", kw_only=True, omit_defaults=True):
    name: str
    schema: dict[str, object]
    description: str | None = None
    strict: bool | None = None


class JsonObjectFormat(msgspec.Struct, tag="json_object", tag_field="type"):
    pass


class TextConfig(msgspec.Struct, kw_only=True, omit_defaults=True):
    format: PlainText | JsonSchemaFormat | JsonObjectFormat = msgspec.field(default_factory=PlainText)
    verbosity: str | None = None


class ReasoningConfig(msgspec.Struct, kw_only=True):
    effort: str | None = None
    summary: str | None = None


class ResponsesRequest(msgspec.Struct, kw_only=True):
    """`CreateResponse` as far as the gateway reads it (`tools`/`input` are checked separately)."""

    model: str
    instructions: str | None = None
    tool_choice: object = None  # read by `tool_choice_of`
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stream: bool | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None
    previous_response_id: str | None = None
    reasoning: ReasoningConfig | None = None
    thinking: dict[str, Any] | None = None  # Anthropic's (as LiteLLM takes it), for Anthropic targets
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    background: bool | None = None
    conversation: object = None
    include: list[str] | None = None
    truncation: str | None = None


# fields the translation reads (or that are harmless to ignore: `stream_options` only toggles obfuscation)
_TRANSLATED = frozenset({*ResponsesRequest.__struct_fields__, "input", "tools", "models", "stream_options"})
_REFUSED_ALWAYS = ("background", "conversation")
_INCLUDE_OK = frozenset({"reasoning.encrypted_content"})


class ParsedRequest(msgspec.Struct, kw_only=True):
    """The typed request plus what the translation refuses, decided once."""

    request: ResponsesRequest
    input: list[InputItem]  # the client's own input items (a string input is one user message)
    raw_input: list[msgspec.Raw]  # the same items as sent, kept for the context store and pass-through
    tools: list[FunctionTool]
    untranslatable: list[str]  # fields chat completions cannot express, for a 400 on translation


def tool_choice_of(value: object) -> str | ToolChoiceFunction | None:
    """`none`/`auto`/`required` or one function; None for every other choice (hosted tools, allowed_tools)."""
    if isinstance(value, str):
        return value
    try:
        return msgspec.convert(value, ToolChoiceFunction)
    except msgspec.ValidationError:
        return None


def parse_request(raw: Mapping[str, object]) -> ParsedRequest:
    """Check a Responses request's shape; raise the contract's 400 naming the field otherwise."""
    try:
        request = msgspec.convert(raw, ResponsesRequest)
    except msgspec.ValidationError as exc:
        raise KeyrelayError("invalid_request", f"not a valid Responses request: {exc}") from None
    if request.background:
        raise KeyrelayError("invalid_request", "background responses are not supported", param="background")
    if request.conversation is not None:
        raise KeyrelayError(
            "invalid_request", "conversation objects are not supported: use previous_response_id", param="conversation"
        )
    raw_items = input_items_of(raw.get("input"))
    items = [decode_item(item) for item in raw_items]
    untranslatable = [name for name in raw if name not in _TRANSLATED and raw[name] is not None]
    for name in _REFUSED_ALWAYS:
        if name in untranslatable:
            untranslatable.remove(name)
    declared = raw.get("tools") or []
    if not isinstance(declared, list):
        raise KeyrelayError("invalid_request", "tools must be a list", param="tools")
    tools = [_tool(tool) for tool in declared if isinstance(tool, dict) and tool.get("type") == "function"]
    hosted = [tool.get("type") if isinstance(tool, dict) else tool for tool in declared]
    hosted = [kind for kind in hosted if kind != "function"]
    if hosted:
        untranslatable.append(f"tools ({echo(hosted[0])})")
    if request.tool_choice is not None and tool_choice_of(request.tool_choice) is None:
        untranslatable.append("tool_choice")
    if request.include and not set(request.include) <= _INCLUDE_OK:
        untranslatable.append("include")
    if request.truncation not in (None, "disabled"):
        untranslatable.append("truncation")
    return ParsedRequest(request=request, input=items, raw_input=raw_items, tools=tools, untranslatable=untranslatable)


def input_items_of(value: Any) -> list[msgspec.Raw]:
    """`input` (a string or a list of items) as encoded items; a string is one user message."""
    if value is None:
        return []
    if isinstance(value, str):
        return [msgspec.Raw(msgspec.json.encode({"type": "message", "role": "user", "content": value}))]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise KeyrelayError("invalid_request", "input must be a string or a list of input items", param="input")
    # an `EasyInputMessage` may leave its type out; stored and typed, every item names it
    return [msgspec.Raw(msgspec.json.encode(item if "type" in item else {"type": "message", **item})) for item in value]


_item_decoder = msgspec.json.Decoder(InputItem)


class _Kind(msgspec.Struct):
    type: str = "message"  # an `EasyInputMessage` may leave its type out


def decode_item(raw: msgspec.Raw) -> InputItem:
    """One input item, typed; an item type the gateway does not translate is refused by name."""
    kind = msgspec.json.decode(raw, type=_Kind).type
    if kind not in _INPUT_TYPES:
        raise KeyrelayError("invalid_request", f"input item type {echo(kind)} is not supported", param="input")
    try:
        item: InputItem = _item_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise KeyrelayError("invalid_request", f"input item {echo(kind)} is not valid: {exc}", param="input") from None
    return item


def _tool(value: object) -> FunctionTool:
    try:
        tool = msgspec.convert(value, FunctionTool)
    except msgspec.ValidationError as exc:
        raise KeyrelayError("invalid_request", f"tools is not valid: {exc}", param="tools") from None
    return tool


# --- request -> chat ------------------------------------------------------------------------------


def to_chat(parsed: ParsedRequest, items: list[InputItem], provider: str) -> dict[str, Any]:
    """The request as a chat-completions body (model set by the caller); 400 for what cannot cross."""
    if parsed.untranslatable:
        field = parsed.untranslatable[0]
        raise KeyrelayError(
            "invalid_request",
            f"{field} is not supported by the Responses API translation for {provider} models",
            param=field.split(" ", 1)[0],
        )
    request = parsed.request
    messages: list[Any] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    for item in items:
        _append_item(messages, item)
    out: dict[str, Any] = {"model": request.model, "messages": messages}
    if parsed.tools:
        out["tools"] = [_chat_tool(tool) for tool in parsed.tools]
    choice = tool_choice_of(request.tool_choice)
    if isinstance(choice, str):
        out["tool_choice"] = choice
    elif isinstance(choice, ToolChoiceFunction):
        out["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    for name in ("parallel_tool_calls", "temperature", "top_p", "user", "safety_identifier", "prompt_cache_key"):
        if (value := getattr(request, name)) is not None:
            out[name] = value
    if request.service_tier is not None:
        out["service_tier"] = request.service_tier
    if request.max_output_tokens is not None:
        out["max_tokens"] = request.max_output_tokens
    if request.reasoning is not None and request.reasoning.effort is not None:
        out["reasoning_effort"] = request.reasoning.effort
    if request.thinking is not None:
        out["thinking"] = request.thinking
    if request.text is not None:
        out.update(_text_format(request.text))
    if request.stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _chat_tool(tool: FunctionTool) -> Any:
    function: dict[str, object] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}}
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _text_format(text: TextConfig) -> dict[str, object]:
    out: dict[str, object] = {}
    fmt = text.format
    if isinstance(fmt, JsonSchemaFormat):
        schema: dict[str, object] = {"name": fmt.name, "schema": fmt.schema}
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        if fmt.description is not None:
            schema["description"] = fmt.description
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, JsonObjectFormat):
        out["response_format"] = {"type": "json_object"}
    if text.verbosity is not None:
        out["verbosity"] = text.verbosity
    return out


def _append_item(messages: list[Any], item: InputItem) -> None:
    last = messages[-1] if messages and messages[-1].get("role") == "assistant" else None
    if isinstance(item, MessageItem):
        if item.role == "assistant":
            if last is not None and "tool_calls" not in last:  # consecutive assistant text: one turn
                last["content"] = _joined(last.get("content"), _plain(item.content))
            else:
                messages.append({"role": "assistant", "content": _joined(None, _plain(item.content))})
        elif item.role in ("system", "developer"):
            messages.append({"role": "system", "content": _plain(item.content)})
        else:
            messages.append({"role": "user", "content": _user_content(item.content)})
    elif isinstance(item, FunctionCallItem):
        # a call joins the assistant turn before it (its text, and the calls made in parallel with it)
        call = {"id": item.call_id, "type": "function", "function": {"name": item.name, "arguments": item.arguments}}
        if last is None:
            last = {"role": "assistant", "content": None}
            messages.append(last)
        last.setdefault("tool_calls", []).append(call)
    elif isinstance(item, FunctionCallOutputItem):
        output = item.output if isinstance(item.output, str) else _plain(item.output, what="function_call_output")
        messages.append({"role": "tool", "tool_call_id": item.call_id, "content": output})
    elif (blocks := unseal_thinking(item.encrypted_content)) is not None:
        # Anthropic's thinking blocks, before the text and calls of their assistant turn
        if last is None or "tool_calls" in last:
            last = {"role": "assistant", "content": None}
            messages.append(last)
        last.setdefault("thinking_blocks", []).extend(blocks)
    # any other ReasoningItem has no chat-completions form (see the module docstring)


_SEALED = "keyrelay.thinking:"  # what `encrypted_content` starts with when it holds Anthropic thinking blocks
_thinking_list = msgspec.json.Decoder(list[ThinkingBlock])


def seal_thinking(blocks: list[ThinkingBlock]) -> str:
    """Anthropic thinking blocks as a reasoning item's opaque `encrypted_content` (signed by Anthropic)."""
    return _SEALED + base64.urlsafe_b64encode(msgspec.json.encode(blocks)).decode()


def unseal_thinking(content: str | None) -> list[dict[str, object]] | None:
    """The thinking blocks `seal_thinking` made (as chat `thinking_blocks`), or None for other content."""
    if not content or not content.startswith(_SEALED):
        return None
    try:
        blocks = _thinking_list.decode(base64.urlsafe_b64decode(content.removeprefix(_SEALED)))
    except (binascii.Error, ValueError):  # msgspec's DecodeError/ValidationError are ValueErrors
        raise KeyrelayError(
            "invalid_request", "a reasoning item's encrypted_content is not what the gateway returned", param="input"
        ) from None
    return [msgspec.to_builtins(b) for b in blocks]


def _joined(before: str | None, text: str) -> str | None:
    joined = (before or "") + text
    return joined or None


def _plain(content: str | list[ContentPart], what: str = "message") -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content:
        if isinstance(part, InputText | OutputText):
            texts.append(part.text)
        elif isinstance(part, Refusal):
            texts.append(part.refusal)
        else:
            kind = "input_image" if isinstance(part, InputImage) else "input_file"
            raise KeyrelayError(
                "invalid_request", f"{kind} is not supported inside a {what} of this role or item", param="input"
            )
    return "".join(texts)


def _user_content(content: str | list[ContentPart]) -> Any:
    if isinstance(content, str):
        return content
    parts: list[object] = []
    for part in content:
        if isinstance(part, InputText | OutputText):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, Refusal):
            parts.append({"type": "text", "text": part.refusal})
        elif isinstance(part, InputImage):
            parts.append(_image_part(part))
        else:
            parts.append(_file_part(part))
    if all(isinstance(p, dict) and p.get("type") == "text" for p in parts):
        return "".join(str(p["text"]) for p in parts if isinstance(p, dict))
    return parts


def _image_part(part: InputImage) -> object:
    if not part.image_url:
        raise KeyrelayError(
            "invalid_request", "input_image needs an image_url (file_id refers to OpenAI's file store)", param="input"
        )
    image: dict[str, str] = {"url": part.image_url}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _file_part(part: InputFile) -> object:
    if part.file_url is not None:
        raise KeyrelayError(
            "invalid_request", "input_file.file_url cannot be translated: send file_data", param="input"
        )
    file: dict[str, str] = {}
    if part.file_data is not None:
        file["file_data"] = part.file_data
    if part.file_id is not None:
        file["file_id"] = part.file_id
    if part.filename is not None:
        file["filename"] = part.filename
    if not file:
        raise KeyrelayError("invalid_request", "input_file needs file_data or file_id", param="input")
    return {"type": "file", "file": file}


# --- the response object --------------------------------------------------------------------------


class OutputTextPart(msgspec.Struct, tag="output_text", tag_field="type", kw_only=True):
    text: str
    annotations: list[msgspec.Raw] = msgspec.field(default_factory=list)
    logprobs: list[msgspec.Raw] = msgspec.field(default_factory=list)


class OutputMessage(msgspec.Struct, tag="message", tag_field="type", kw_only=True):
    id: str
    status: str
    role: str = "assistant"
    content: list[OutputTextPart] = msgspec.field(default_factory=list)


class OutputFunctionCall(msgspec.Struct, tag="function_call", tag_field="type", kw_only=True):
    id: str
    call_id: str
    name: str
    arguments: str
    status: str


class OutputReasoning(msgspec.Struct, tag="reasoning", tag_field="type", kw_only=True):
    id: str
    summary: list[SummaryText]
    status: str | None = None
    encrypted_content: str | UnsetType = msgspec.UNSET  # Anthropic's thinking blocks (`seal_thinking`)


OutputItem = OutputMessage | OutputFunctionCall | OutputReasoning


class InputTokensDetails(msgspec.Struct, kw_only=True):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(msgspec.Struct, kw_only=True):
    reasoning_tokens: int = 0


class ResponseUsage(msgspec.Struct, kw_only=True):
    input_tokens: int = 0
    input_tokens_details: InputTokensDetails = msgspec.field(default_factory=InputTokensDetails)
    output_tokens: int = 0
    output_tokens_details: OutputTokensDetails = msgspec.field(default_factory=OutputTokensDetails)
    total_tokens: int = 0

    @classmethod
    def of(cls, usage: Usage) -> ResponseUsage:
        return cls(
            input_tokens=usage.prompt_tokens,
            input_tokens_details=InputTokensDetails(
                cached_tokens=usage.cached_tokens, cache_write_tokens=usage.cache_write_tokens
            ),
            output_tokens=usage.completion_tokens,
            output_tokens_details=OutputTokensDetails(reasoning_tokens=usage.reasoning_tokens),
            total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
        )

    def normalised(self) -> Usage:
        return Usage(
            prompt_tokens=self.input_tokens,
            completion_tokens=self.output_tokens,
            cached_tokens=self.input_tokens_details.cached_tokens,
            cache_write_tokens=self.input_tokens_details.cache_write_tokens,
            reasoning_tokens=self.output_tokens_details.reasoning_tokens,
            total_tokens=self.total_tokens,
        ).finalize()


class ResponseError(msgspec.Struct, kw_only=True):
    code: str
    message: str


class IncompleteDetails(msgspec.Struct, kw_only=True):
    reason: str


class Response(msgspec.Struct, kw_only=True):
    """The `Response` object (every field the schema requires, the request's settings echoed)."""

    id: str
    object: str = "response"
    created_at: int
    status: str
    completed_at: int | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputItem] = msgspec.field(default_factory=list)
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    reasoning: ReasoningConfig = msgspec.field(default_factory=ReasoningConfig)
    store: bool = True
    temperature: float | None = None
    text: TextConfig = msgspec.field(default_factory=TextConfig)
    tool_choice: JsonValue = "auto"
    tools: list[FunctionTool] = msgspec.field(default_factory=list)
    top_p: float | None = None
    truncation: str = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)

    @classmethod
    def start(cls, parsed: ParsedRequest, model: str) -> Response:
        request = parsed.request
        return cls(
            id=new_id("resp_"),
            created_at=int(time.time()),
            status="in_progress",
            instructions=request.instructions,
            max_output_tokens=request.max_output_tokens,
            model=model,
            parallel_tool_calls=request.parallel_tool_calls is not False,
            previous_response_id=request.previous_response_id,
            reasoning=request.reasoning or ReasoningConfig(),
            store=request.store is not False,
            temperature=request.temperature,
            text=request.text or TextConfig(),
            tool_choice=request.tool_choice if request.tool_choice is not None else "auto",
            tools=parsed.tools,
            top_p=request.top_p,
            user=request.user,
            metadata=request.metadata or {},
        )

    def end(self, finish_reason: str | None, usage: Usage) -> None:
        """Status from the chat finish reason: `length` and `content_filter` end `incomplete`."""
        self.usage = ResponseUsage.of(usage)
        if finish_reason == "length":
            self.status, self.incomplete_details = "incomplete", IncompleteDetails(reason="max_output_tokens")
        elif finish_reason == "content_filter":
            self.status, self.incomplete_details = "incomplete", IncompleteDetails(reason="content_filter")
        else:
            self.status, self.completed_at = "completed", int(time.time())

    def fail(self, exc: KeyrelayError) -> None:
        self.status = "failed"
        self.error = ResponseError(code=failure_code(exc), message=exc.message)


def failure_code(exc: KeyrelayError) -> str:
    """A gateway error as the Responses API's own `ResponseErrorCode` (of a failed response or an `error` event)."""
    if exc.code in ("upstream_rate_limited", "rate_limited"):
        return "rate_limit_exceeded"
    return "server_error"


# --- chat -> response -----------------------------------------------------------------------------


class ChatCall(msgspec.Struct):
    index: int
    id: str | None
    name: str | None
    arguments: str


class ChatDelta(msgspec.Struct):
    """What one chat chunk (choice 0) or one chat message adds: the chat side, read once."""

    text: str = ""
    reasoning: str = ""
    calls: list[ChatCall] = msgspec.field(default_factory=list)
    finish_reason: str | None = None
    thinking: list[ThinkingBlock] = msgspec.field(default_factory=list)  # Anthropic's, signed

    @classmethod
    def of_chunk(cls, chunk: ChatChunk) -> ChatDelta:
        out = cls()
        for choice in chunk.choices:
            if choice.index == 0:
                delta = choice.delta
                out = cls._of(delta.content, delta.reasoning_content, delta.tool_calls, choice.finish_reason)
                out.thinking = delta.thinking_blocks or []
        return out

    @classmethod
    def of_message(cls, body: ChatCompletion) -> ChatDelta:
        if not body.choices:
            return cls()
        choice = body.choices[0]
        message = choice.message
        out = cls._of(message.content, message.reasoning_content, message.tool_calls, choice.finish_reason)
        out.thinking = message.thinking_blocks or []
        return out

    @classmethod
    def _of(
        cls,
        content: str | UnsetType | None,
        reasoning: str | UnsetType | None,
        tool_calls: list[ToolCall] | UnsetType | None,
        finish_reason: str | None,
    ) -> ChatDelta:
        calls = []
        for position, call in enumerate(tool_calls or []):
            function = call.function or FunctionCall()
            arguments = function.arguments
            calls.append(
                ChatCall(
                    index=call.index if isinstance(call.index, int) else position,
                    id=call.id or None,
                    name=function.name or None,
                    arguments=arguments
                    if isinstance(arguments, str)
                    else msgspec.json.encode(arguments).decode()
                    if arguments
                    else "",
                )
            )
        return cls(
            text=content if isinstance(content, str) else "",
            reasoning=reasoning or "",
            calls=calls,
            finish_reason=finish_reason,
        )


def from_chat(body: ChatCompletion, parsed: ParsedRequest, model: str, usage: Usage | None = None) -> Response:
    """A chat.completion as a finished `Response`."""
    turn = ChatDelta.of_message(body)
    response = Response.start(parsed, model)
    if turn.reasoning or turn.thinking:
        reasoning = OutputReasoning(id=new_id("rs_"), summary=[SummaryText(text=turn.reasoning)], status="completed")
        if turn.thinking:
            reasoning.encrypted_content = seal_thinking(turn.thinking)
        response.output.append(reasoning)
    if turn.text:
        part = OutputTextPart(text=turn.text)
        response.output.append(OutputMessage(id=new_id("msg_"), status="completed", content=[part]))
    for call in turn.calls:
        response.output.append(
            OutputFunctionCall(
                id=new_id("fc_"),
                call_id=call.id or new_id("call_"),
                name=call.name or "",
                arguments=call.arguments,
                status="completed",
            )
        )
    response.end(turn.finish_reason, usage or usage_from_openai(body.usage) or Usage())
    return response
