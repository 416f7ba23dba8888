"""The reverse translators (Gemini and Cohere request bodies -> OpenAI chat requests): no endpoint
needs them, so they live with the tests that check a request survives a trip through each format."""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from gateway.translate.gemini import encode_call_id


def dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def assistant_message(text: str, tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


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


def cohere_request_to_openai(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"model": body.get("model"), "messages": []}
    for message in body.get("messages") or []:
        converted = dict(message)
        converted.pop("tool_plan", None)
        if message.get("role") == "assistant":
            converted.setdefault("content", None)
        out["messages"].append(converted)
    for src, dst in (
        ("max_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("p", "top_p"),
        ("seed", "seed"),
        ("stop_sequences", "stop"),
    ):
        if src in body:
            out[dst] = body[src]
    if body.get("tools"):
        out["tools"] = body["tools"]
    if body.get("tool_choice") in ("REQUIRED", "NONE"):
        out["tool_choice"] = body["tool_choice"].lower()
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        schema = fmt.get("json_schema")
        out["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
            if schema
            else {"type": "json_object"}
        )
    return out
