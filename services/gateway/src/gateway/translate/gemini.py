"""OpenAI Chat Completions <-> Gemini generateContent (providers.md 4, 20.1-20.3, 20.6).

Gemini function calls have no ids (or ids of their own) and come with a `thoughtSignature` that
must be replayed on the same part. The gateway stays stateless: the id the client sees carries the
signature (`<id>__sig_<base64url signature>`), and the function name for a `functionResponse` is
looked up from the assistant turn that made the call, which the client sends back anyway.
"""

from __future__ import annotations

import base64
import binascii

import msgspec

from gateway.translate.common import (
    TOOL_ERROR_PREFIX,
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
    guess_image_type,
    image_url_of,
    loads,
    max_tokens_of,
    new_id,
    parse_data_url,
    part_text,
    sampling_settings,
    stop_list,
    text_of,
    tool_arguments,
    tool_call,
)
from gateway.translate.gemini_wire import (
    Blob,
    Candidate,
    Content,
    FileData,
    FunctionCall,
    FunctionCallingConfig,
    FunctionDeclaration,
    FunctionResponse,
    GenerateRequest,
    GenerateResponse,
    GenerationConfig,
    Part,
    ThinkingConfig,
    ToolConfig,
    ToolSet,
    UsageMetadata,
)
from gateway.wire.errors import interrupted, map_stream_error
from gateway.wire.openai import ChatChunk, ChatCompletion, ChatRequest, Choice, ContentPart, Message, ToolCall
from gateway.wire.sse import SseEvent
from shared.errors import KeyrelayError, echo
from shared.messages.usage import Usage

SIGNATURE_MARK = "__sig_"
FILTER_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "NO_IMAGE",
        "IMAGE_OTHER",
    }
)
ERROR_REASONS = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})
_THINKING_BUDGET = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 32768}
_MAX_STOPS = 5
_append = TurnMerger[Content, Part](lambda role, parts: Content(role=role, parts=parts), lambda turn: turn.parts)


# --- tool-call ids -----------------------------------------------------------------------------
def encode_call_id(call_id: object, signature: object) -> str:
    """The id the client sees: Gemini's id (or a fresh one), plus the signature if there is one."""
    base = call_id if isinstance(call_id, str) and call_id else new_id("call_")
    if not isinstance(signature, str) or not signature:
        return base
    return base + SIGNATURE_MARK + base64.urlsafe_b64encode(signature.encode()).decode().rstrip("=")


def decode_call_id(call_id: str) -> tuple[str, str | None]:
    """(the original id, the thought signature exactly as Gemini sent it, or None)."""
    base, mark, tail = call_id.partition(SIGNATURE_MARK)
    if not mark:
        return call_id, None
    try:
        return base, base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4)).decode()
    except (binascii.Error, ValueError):
        return base, None


# --- request -----------------------------------------------------------------------------------
@client_request
def openai_to_gemini_request(body: ChatRequest) -> GenerateRequest:
    """An OpenAI chat request as a generateContent body (the model goes in the URL)."""
    system: list[str] = []
    contents: list[Content] = []
    names: dict[str, str] = {}  # tool call id -> function name, from the assistant turns
    for message in body.messages:
        role = message.role
        if role in ("system", "developer"):
            if text := text_of(message.content):
                system.append(text)
        elif role == "user":
            _append(contents, "user", [_user_part(p) for p in content_parts(message.content)])
        elif role == "assistant":
            _append(contents, "model", _model_parts(message, names))
        elif role == "tool":
            _append(contents, "user", [_function_response(message, names)])
        else:
            raise KeyrelayError("invalid_request", f"unsupported message role {echo(role)}", param="messages")
    out = GenerateRequest(contents=contents)
    if system:
        out.system_instruction = Content(parts=[Part(text="\n\n".join(system))])
    if config := _generation_config(body):
        out.generation_config = config
    _tools(body, out)
    return out


def _user_part(part: ContentPart) -> Part:
    if part.type == "text":
        return Part(text=part_text(part))
    if part.type == "image_url":
        url = image_url_of(part)
        inline = parse_data_url(url)
        if inline is not None:
            return Part(inline_data=Blob(mime_type=inline[0], data=inline[1]))
        return Part(file_data=FileData(mime_type=guess_image_type(url), file_uri=url))
    if part.type == "file":  # a PDF (or another document type Gemini reads) inline
        media, data, _ = file_data_of(part, "Gemini")
        return Part(inline_data=Blob(mime_type=media, data=data))
    raise KeyrelayError(
        "invalid_request", f"content part {echo(part.type)} is not supported for Gemini models", param="messages"
    )


def _model_parts(message: Message, names: dict[str, str]) -> list[Part]:
    parts: list[Part] = []
    if text := text_of(message.content):
        parts.append(Part(text=text))
    for call in message.tool_calls or []:
        function = function_of(call)
        name = str(function.name)
        call_id = str(call.id or "")
        names[call_id] = name
        _, signature = decode_call_id(call_id)
        part = Part(function_call=FunctionCall(name=name, args=tool_arguments(function.arguments)))
        if signature:
            part.thought_signature = signature
        parts.append(part)
    return parts


def _function_response(message: Message, names: dict[str, str]) -> Part:
    name = names.get(str(message.tool_call_id or ""))
    if name is None:
        raise KeyrelayError(
            "invalid_request", "a tool message must answer a tool call of an earlier assistant turn", param="messages"
        )
    text = text_of(message.content)
    if text.startswith(TOOL_ERROR_PREFIX):  # a failed tool: Gemini's `error` key says so
        return Part(function_response=FunctionResponse(name=name, response={"error": text[len(TOOL_ERROR_PREFIX) :]}))
    try:
        value = loads(text) if text else {}
    except msgspec.DecodeError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    return Part(function_response=FunctionResponse(name=name, response=response))


def _generation_config(body: ChatRequest) -> GenerationConfig | None:
    config = GenerationConfig()
    settings: list[tuple[str, float]] = sampling_settings(body)
    if (max_tokens := max_tokens_of(body)) is not None:
        settings.append(("max_output_tokens", max_tokens))
    for name, value in settings:
        setattr(config, name, value)
    changed = bool(settings)
    if stops := stop_list(body.stop):
        config.stop_sequences = stops[:_MAX_STOPS]
        changed = True
    if isinstance(body.n, int) and body.n > 1:
        config.candidate_count = body.n
        changed = True
    fmt = body.response_format
    if fmt and fmt.type in ("json_object", "json_schema"):
        config.response_mime_type = "application/json"
        schema = fmt.json_schema.schema if fmt.json_schema else None
        if fmt.type == "json_schema" and schema:
            config.response_json_schema = schema
        changed = True
    effort = body.reasoning_effort
    if isinstance(effort, str) and effort in _THINKING_BUDGET:
        config.thinking_config = ThinkingConfig(thinking_budget=_THINKING_BUDGET[effort])
        changed = True
    return config if changed else None


def _tools(body: ChatRequest, out: GenerateRequest) -> None:
    declarations = []
    for tool in body.tools or []:
        if not tool.function:
            continue
        function = tool.function
        declaration = FunctionDeclaration(name=function.name)
        if function.description:
            declaration.description = function.description
        if function.parameters:
            declaration.parameters_json_schema = function.parameters
        declarations.append(declaration)
    if not declarations:
        return
    out.tools = [ToolSet(function_declarations=declarations)]
    choice = body.tool_choice
    config: FunctionCallingConfig | None = None
    if choice in ("auto", "none", "required"):
        config = FunctionCallingConfig(mode={"auto": "AUTO", "none": "NONE", "required": "ANY"}[str(choice)])
    elif choice and not isinstance(choice, str) and choice.function:
        config = FunctionCallingConfig(mode="ANY", allowed_function_names=[choice.function.name])
    if config is not None:
        out.tool_config = ToolConfig(function_calling_config=config)


# --- response ----------------------------------------------------------------------------------
def gemini_usage(raw: UsageMetadata | None) -> Usage:
    raw = raw or UsageMetadata()
    prompt = raw.prompt_token_count + raw.tool_use_prompt_token_count
    thoughts = raw.thoughts_token_count
    completion = raw.candidates_token_count + thoughts
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=raw.cached_content_token_count,
        reasoning_tokens=thoughts,
        total_tokens=raw.total_token_count or prompt + completion,
    )


def finish_reason(reason: str | None, called: bool, provider: str) -> str:
    if reason in ERROR_REASONS:
        raise interrupted(provider, f"the model failed to call a tool ({reason})")
    if reason == "MAX_TOKENS":
        return "length"
    if reason in FILTER_REASONS:
        return "content_filter"
    return "tool_calls" if called else "stop"


def _call_of(part: Part) -> tuple[str, str, str] | None:
    """(the client's call id, name, JSON arguments) of a functionCall part."""
    if not part.function_call:
        return None
    call = part.function_call
    return encode_call_id(call.id, part.thought_signature), call.name, dumps(call.args or {})


def gemini_to_openai_response(
    body: GenerateResponse, model: str, provider: str = "google"
) -> tuple[ChatCompletion, Usage]:
    """A GenerateContentResponse as an OpenAI chat.completion (one choice per candidate), plus usage."""
    usage = gemini_usage(body.usage_metadata)
    choices: list[Choice] = []
    for position, candidate in enumerate(body.candidates):
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCall] = []
        for part in candidate.content.parts if candidate.content else []:
            if (call := _call_of(part)) is not None:
                calls.append(tool_call(*call))
            elif isinstance(part.text, str):
                (thoughts if part.thought else texts).append(part.text)
        finish = finish_reason(candidate.finish_reason, bool(calls), provider)
        message = assistant_message("".join(texts), calls, "".join(thoughts))
        index = candidate.index if candidate.index is not None else position
        choices.append(Choice(index=index, message=message, finish_reason=finish))
    if not choices:  # the prompt itself was blocked (promptFeedback.blockReason)
        choices.append(Choice(index=0, message=assistant_message("", []), finish_reason="content_filter"))
    out = completion_body(model, choices[0].message, str(choices[0].finish_reason), usage, body.response_id or None)
    out.choices = choices
    return out, usage


# --- stream ------------------------------------------------------------------------------------
class GeminiStreamTranslator(StreamTranslatorBase):
    """Gemini `data:` events -> OpenAI chunks (section 20.6); no terminal event: read to the body's end."""

    def __init__(self, provider: str, model: str) -> None:
        super().__init__(provider, model)
        self._calls = 0

    def feed(self, event: SseEvent) -> list[ChatChunk]:
        if not event.data:
            return []
        data = decode_vendor(event.data, GenerateResponse, self._provider, "stream event")
        if data.error is not None:
            raise map_stream_error(self._provider, {"error": data.error})
        if data.response_id:
            self._out.id = data.response_id
        if data.usage_metadata:
            self.usage = gemini_usage(data.usage_metadata)
        if not data.candidates:
            if data.prompt_feedback and data.prompt_feedback.block_reason:
                return self._out.finish("content_filter")
            return self._out.role()
        return self._candidate(data.candidates[0])

    def _candidate(self, candidate: Candidate) -> list[ChatChunk]:
        out = self._out.role()
        for part in candidate.content.parts if candidate.content else []:
            if (call := _call_of(part)) is not None:
                out += self._out.tool_start(self._calls, *call)
                self._calls += 1
            elif isinstance(part.text, str):
                out += self._out.reasoning(part.text) if part.thought else self._out.text(part.text)
        if candidate.finish_reason:
            out += self._out.finish(finish_reason(candidate.finish_reason, self._calls > 0, self._provider))
        return out

    def end(self) -> list[ChatChunk]:
        return self._ended(self._out.finish_reason is not None, "without a finish reason")


# --- the format, as adapters are configured by it ---------------------------------------------------
class GeminiFormat:
    """generateContent (Google AI Studio and Vertex's Gemini publisher): the model goes in the URL."""

    def request(self, body: ChatRequest, model: str, *, stream: bool) -> GenerateRequest:
        del model, stream
        return openai_to_gemini_request(body)

    def response(self, raw: bytes, model: str, provider: str) -> tuple[ChatCompletion, Usage]:
        return gemini_to_openai_response(decode_vendor(raw, GenerateResponse, provider), model, provider)

    def stream(self, provider: str, model: str) -> GeminiStreamTranslator:
        return GeminiStreamTranslator(provider, model)
