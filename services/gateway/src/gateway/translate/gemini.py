"""OpenAI Chat Completions <-> Gemini generateContent (providers.md 4, 20.1-20.3, 20.6).

Gemini function calls have no ids (or ids of their own) and come with a `thoughtSignature` that
must be replayed on the same part. The gateway stays stateless: the id the client sees carries the
signature (`<id>__sig_<base64url signature>`), and the function name for a `functionResponse` is
looked up from the assistant turn that made the call, which the client sends back anyway.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from gateway.providers.errors import interrupted, map_stream_error
from gateway.providers.sse import SseEvent
from gateway.translate.common import (
    ChunkBuilder,
    assistant_message,
    client_request,
    completion_body,
    content_parts,
    data_url,
    dumps,
    guess_image_type,
    image_url_of,
    loads,
    max_tokens_of,
    new_id,
    parse_data_url,
    stop_list,
    text_of,
    tool_arguments,
    tool_call,
)
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


# --- tool-call ids -----------------------------------------------------------------------------
def encode_call_id(call_id: str | None, signature: str | None) -> str:
    """The id the client sees: Gemini's id (or a fresh one), plus the signature if there is one."""
    base = call_id or new_id("call_")
    if not signature:
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
def openai_to_gemini_request(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request as a generateContent body (the model goes in the URL)."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, from the assistant turns
    for message in body.get("messages") or []:
        role = message.get("role")
        if role in ("system", "developer"):
            if text := text_of(message.get("content")):
                system.append(text)
        elif role == "user":
            _append(contents, "user", [_user_part(p) for p in content_parts(message.get("content"))])
        elif role == "assistant":
            _append(contents, "model", _model_parts(message, names))
        elif role == "tool":
            _append(contents, "user", [_function_response(message, names)])
        else:
            raise KeyrelayError("invalid_request", f"unsupported message role {echo(role)}", param="messages")
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if config := _generation_config(body):
        out["generationConfig"] = config
    _tools(body, out)
    return out


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _user_part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"text": str(part.get("text", ""))}
    if kind == "image_url":
        url = image_url_of(part)
        inline = parse_data_url(url)
        if inline is not None:
            return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
        return {"fileData": {"mimeType": guess_image_type(url), "fileUri": url}}
    raise KeyrelayError(
        "invalid_request", f"content part {echo(kind)} is not supported for Gemini models", param="messages"
    )


def _model_parts(message: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if text := text_of(message.get("content")):
        parts.append({"text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        name = str(function.get("name"))
        call_id = str(call.get("id", ""))
        names[call_id] = name
        _, signature = decode_call_id(call_id)
        part: dict[str, Any] = {"functionCall": {"name": name, "args": tool_arguments(function.get("arguments"))}}
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    call_id = str(message.get("tool_call_id", ""))
    name = names.get(call_id)
    if name is None:
        raise KeyrelayError(
            "invalid_request", "a tool message must answer a tool call of an earlier assistant turn", param="messages"
        )
    text = text_of(message.get("content"))
    try:
        value = loads(text) if text else {}
    except msgspec.DecodeError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    return {"functionResponse": {"name": name, "response": response}}


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for src, dst in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if isinstance(body.get(src), int | float):
            config[dst] = body[src]
    if (max_tokens := max_tokens_of(body)) is not None:
        config["maxOutputTokens"] = max_tokens
    if stops := stop_list(body.get("stop")):
        config["stopSequences"] = stops[:_MAX_STOPS]
    if isinstance(body.get("n"), int) and body["n"] > 1:
        config["candidateCount"] = body["n"]
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if fmt.get("type") == "json_schema" and schema:
            config["responseJsonSchema"] = schema
    effort = body.get("reasoning_effort")
    if effort in _THINKING_BUDGET:
        config["thinkingConfig"] = {"thinkingBudget": _THINKING_BUDGET[effort]}
    return config


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    declarations = []
    for tool in tools:
        function = tool.get("function") or {}
        declaration: dict[str, Any] = {"name": function.get("name")}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    choice = body.get("tool_choice")
    config: dict[str, Any] | None = None
    if choice in ("auto", "none", "required"):
        config = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]}
    elif isinstance(choice, dict):
        config = {"mode": "ANY", "allowedFunctionNames": [(choice.get("function") or {}).get("name")]}
    if config is not None and declarations:
        out["toolConfig"] = {"functionCallingConfig": config}


# --- response ----------------------------------------------------------------------------------
def gemini_usage(raw: Any) -> Usage:
    raw = raw if isinstance(raw, dict) else {}
    prompt = int(raw.get("promptTokenCount") or 0) + int(raw.get("toolUsePromptTokenCount") or 0)
    thoughts = int(raw.get("thoughtsTokenCount") or 0)
    completion = int(raw.get("candidatesTokenCount") or 0) + thoughts
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=int(raw.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
        total_tokens=int(raw.get("totalTokenCount") or 0) or prompt + completion,
    )


def finish_reason(reason: str | None, called: bool, provider: str) -> str:
    if reason in ERROR_REASONS:
        raise interrupted(provider, f"the model failed to call a tool ({reason})")
    if reason == "MAX_TOKENS":
        return "length"
    if reason in FILTER_REASONS:
        return "content_filter"
    return "tool_calls" if called else "stop"


def gemini_to_openai_response(
    body: dict[str, Any], model: str, provider: str = "google"
) -> tuple[dict[str, Any], Usage]:
    """A GenerateContentResponse as an OpenAI chat.completion (one choice per candidate), plus usage."""
    usage = gemini_usage(body.get("usageMetadata"))
    candidates = body.get("candidates") or []
    choices: list[dict[str, Any]] = []
    for position, candidate in enumerate(candidates):
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[dict[str, Any]] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if "functionCall" in part:
                call = part["functionCall"] or {}
                call_id = encode_call_id(call.get("id"), part.get("thoughtSignature"))
                calls.append(tool_call(call_id, str(call.get("name")), dumps(call.get("args") or {})))
            elif isinstance(part.get("text"), str):
                (thoughts if part.get("thought") else texts).append(part["text"])
        finish = finish_reason(candidate.get("finishReason"), bool(calls), provider)
        choices.append(
            {
                "index": int(candidate.get("index", position)),
                "logprobs": None,
                "finish_reason": finish,
                "message": assistant_message("".join(texts), calls, "".join(thoughts)),
            }
        )
    if not choices:  # the prompt itself was blocked (promptFeedback.blockReason)
        choices.append(
            {"index": 0, "logprobs": None, "finish_reason": "content_filter", "message": assistant_message("", [])}
        )
    response_id = body.get("responseId")
    out = completion_body(
        model, choices[0]["message"], choices[0]["finish_reason"], usage, str(response_id) if response_id else None
    )
    out["choices"] = choices
    return out, usage


# --- stream ------------------------------------------------------------------------------------
class GeminiStreamTranslator:
    """Gemini `data:` events -> OpenAI chunks (section 20.6); the body's end closes the stream."""

    def __init__(self, provider: str, model: str) -> None:
        self._provider = provider
        self._out = ChunkBuilder(model)
        self._calls = 0
        self.usage: Usage | None = None
        self.finished = False  # Gemini has no terminal event: read to the end of the body

    def feed(self, event: SseEvent) -> list[dict[str, Any]]:
        if not event.data:
            return []
        try:
            data = loads(event.data)
        except msgspec.DecodeError:
            raise interrupted(self._provider, "malformed stream event") from None
        if not isinstance(data, dict):
            return []
        if "error" in data:
            raise map_stream_error(self._provider, data)
        if data.get("responseId"):
            self._out.id = str(data["responseId"])
        if data.get("usageMetadata"):
            self.usage = gemini_usage(data["usageMetadata"])
        candidates = data.get("candidates") or []
        if not candidates:
            if (data.get("promptFeedback") or {}).get("blockReason"):
                return self._out.finish("content_filter")
            return self._out.role()
        return self._candidate(candidates[0])

    def _candidate(self, candidate: dict[str, Any]) -> list[dict[str, Any]]:
        out = self._out.role()
        for part in (candidate.get("content") or {}).get("parts") or []:
            if "functionCall" in part:
                call = part["functionCall"] or {}
                call_id = encode_call_id(call.get("id"), part.get("thoughtSignature"))
                out += self._out.tool_start(self._calls, call_id, str(call.get("name")), dumps(call.get("args") or {}))
                self._calls += 1
            elif isinstance(part.get("text"), str):
                out += self._out.reasoning(part["text"]) if part.get("thought") else self._out.text(part["text"])
        if candidate.get("finishReason"):
            out += self._out.finish(finish_reason(candidate["finishReason"], self._calls > 0, self._provider))
        return out

    def end(self) -> list[dict[str, Any]]:
        if self._out.finish_reason is None:
            raise interrupted(self._provider, "stream ended without a finish reason")
        return []


# --- the reverse direction (tests, and clients that speak Gemini) -------------------------------
def gemini_request_to_openai(body: dict[str, Any], model: str) -> dict[str, Any]:
    """A generateContent body as an OpenAI chat request; call ids are minted per call."""
    messages: list[dict[str, Any]] = []
    system = body.get("systemInstruction")
    if isinstance(system, dict):
        messages.append({"role": "system", "content": "".join(p.get("text", "") for p in system.get("parts") or [])})
    pending: dict[str, list[str]] = {}  # function name -> ids awaiting a response
    for content in body.get("contents") or []:
        parts = content.get("parts") or []
        if content.get("role") == "model":
            messages.append(_openai_assistant(parts, pending))
        else:
            messages.extend(_openai_user(parts, pending))
    out: dict[str, Any] = {"model": model, "messages": messages}
    config = body.get("generationConfig") or {}
    for src, dst in (
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("seed", "seed"),
        ("maxOutputTokens", "max_tokens"),
        ("stopSequences", "stop"),
    ):
        if src in config:
            out[dst] = config[src]
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema")
        out["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
            if schema
            else {"type": "json_object"}
        )
    declarations = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    if declarations:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": d.get("name"),
                    "description": d.get("description", ""),
                    "parameters": d.get("parametersJsonSchema") or d.get("parameters") or {},
                },
            }
            for d in declarations
        ]
    mode = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if mode.get("allowedFunctionNames"):
        out["tool_choice"] = {"type": "function", "function": {"name": mode["allowedFunctionNames"][0]}}
    elif mode.get("mode") in ("AUTO", "NONE", "ANY"):
        out["tool_choice"] = {"AUTO": "auto", "NONE": "none", "ANY": "required"}[mode["mode"]]
    return out


def _openai_assistant(parts: list[dict[str, Any]], pending: dict[str, list[str]]) -> dict[str, Any]:
    texts = [str(p["text"]) for p in parts if isinstance(p.get("text"), str) and not p.get("thought")]
    calls = []
    for part in parts:
        if "functionCall" in part:
            call = part["functionCall"]
            call_id = encode_call_id(call.get("id"), part.get("thoughtSignature"))
            pending.setdefault(str(call.get("name")), []).append(call_id)
            calls.append(tool_call(call_id, str(call.get("name")), dumps(call.get("args") or {})))
    return assistant_message("".join(texts), calls)


def _openai_user(parts: list[dict[str, Any]], pending: dict[str, list[str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for part in parts:
        if "functionResponse" in part:
            response = part["functionResponse"]
            ids = pending.get(str(response.get("name"))) or [new_id("call_")]
            value = response.get("response")
            text = (
                value["result"]
                if isinstance(value, dict) and set(value) == {"result"} and isinstance(value["result"], str)
                else dumps(value)
            )
            out.append({"role": "tool", "tool_call_id": ids.pop(0), "content": text})
        elif isinstance(part.get("text"), str):
            items.append({"type": "text", "text": part["text"]})
        elif "inlineData" in part:
            inline = part["inlineData"]
            items.append({"type": "image_url", "image_url": {"url": data_url(inline["mimeType"], inline["data"])}})
        elif "fileData" in part:
            items.append({"type": "image_url", "image_url": {"url": part["fileData"]["fileUri"]}})
    if items:
        only_text = all(i["type"] == "text" for i in items)
        out.append({"role": "user", "content": "".join(i["text"] for i in items) if only_text else items})
    return out
