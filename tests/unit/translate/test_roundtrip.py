"""Request and response translation both ways, for tools and images, between every pair of formats."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from gateway.translate import anthropic, cohere, gemini
from gateway.translate.anthropic_inbound import anthropic_request_to_openai
from gateway.translate.anthropic_inbound import openai_response_to_anthropic as typed_openai_response_to_anthropic
from gateway.translate.anthropic_wire import MessagesResponse
from gateway.translate.gemini import decode_call_id
from gateway.translate.gemini_wire import GenerateResponse
from gateway.wire.openai import ChatCompletion, ChatRequest, encode
from shared.errors import KeyrelayError
from tests.unit.translate.reverse import cohere_request_to_openai, gemini_request_to_openai


def as_json(value: Any) -> Any:
    return msgspec.json.decode(encode(value))


def openai_to_anthropic_request(body: dict[str, Any]) -> dict[str, Any]:
    return as_json(anthropic.openai_to_anthropic_request(ChatRequest.from_body(body)))


def openai_to_gemini_request(body: dict[str, Any]) -> dict[str, Any]:
    return as_json(gemini.openai_to_gemini_request(ChatRequest.from_body(body)))


def openai_to_cohere_request(body: dict[str, Any]) -> dict[str, Any]:
    return as_json(cohere.openai_to_cohere_request(ChatRequest.from_body(body)))


def completion(body: ChatCompletion) -> dict[str, Any]:
    """The translated response as JSON, after checking it is a valid `chat.completion` (strictly)."""
    out = as_json(body)
    ChatCompletion.from_json(out)
    return out


def anthropic_to_openai_response(body: dict[str, Any], model: str) -> tuple[dict[str, Any], Any]:
    out, usage = anthropic.anthropic_to_openai_response(msgspec.convert(body, MessagesResponse), model)
    return completion(out), usage


def gemini_to_openai_response(body: dict[str, Any], model: str) -> tuple[dict[str, Any], Any]:
    out, usage = gemini.gemini_to_openai_response(msgspec.convert(body, GenerateResponse), model)
    return completion(out), usage


def openai_response_to_anthropic(body: dict[str, Any], model: str) -> dict[str, Any]:
    return typed_openai_response_to_anthropic(ChatCompletion.from_json(body), model)


PNG = "data:image/png;base64,iVBORw0KGgo="
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Search a thing",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
]
OPENAI_REQUEST: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Answer tersely."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these pictures?"},
                {"type": "image_url", "image_url": {"url": PNG}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {"id": "call_a1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"cat"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_a1", "content": '{"found":true}'},
        {"role": "user", "content": "Thanks"},
    ],
    "tools": TOOLS,
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "max_tokens": 256,
    "temperature": 0.5,
    "stop": ["END"],
}


def ids_by_position(body: dict[str, Any]) -> dict[str, Any]:
    """Gemini mints tool-call ids: rename them call_0, call_1... in order of appearance."""
    body = copy.deepcopy(body)
    names: dict[str, str] = {}
    for message in body["messages"]:
        for call in message.get("tool_calls") or []:
            call["id"] = names.setdefault(call["id"], f"call_{len(names)}")
        if message.get("role") == "tool":
            message["tool_call_id"] = names.get(message["tool_call_id"], message["tool_call_id"])
    return body


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    keys = ("messages", "tools", "tool_choice", "max_tokens", "temperature", "stop")
    return {k: body.get(k) for k in keys}


def test_openai_to_anthropic_and_back_keeps_tools_images_and_turns():
    """System prompt, data-URL and https images, tool call + result, tool_choice survive the trip."""
    anthropic = openai_to_anthropic_request(OPENAI_REQUEST)
    assert anthropic["system"] == "Answer tersely."
    assert anthropic["messages"][0]["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": "iVBORw0KGgo=",
    }
    assert anthropic["messages"][0]["content"][2]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}
    assert anthropic["messages"][1]["content"][1] == {
        "type": "tool_use",
        "id": "call_a1",
        "name": "lookup",
        "input": {"q": "cat"},
    }
    assert anthropic["tool_choice"] == {"type": "tool", "name": "lookup"}
    back = anthropic_request_to_openai(anthropic)
    assert comparable(back) == comparable(OPENAI_REQUEST)


def test_openai_to_gemini_and_back_keeps_tools_images_and_turns():
    """Same trip through generateContent (ids are minted there, so compared by position)."""
    gemini = openai_to_gemini_request(OPENAI_REQUEST)
    assert gemini["systemInstruction"] == {"parts": [{"text": "Answer tersely."}]}
    assert gemini["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert gemini["contents"][0]["parts"][2] == {
        "fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}
    }
    assert gemini["contents"][2]["parts"][0] == {"functionResponse": {"name": "lookup", "response": {"found": True}}}
    assert gemini["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}}
    back = gemini_request_to_openai(gemini, "m")
    assert comparable(ids_by_position(back)) == comparable(ids_by_position(OPENAI_REQUEST))


def test_openai_to_cohere_and_back_keeps_tools_images_and_turns():
    """Cohere keeps OpenAI messages; parameters and tool_choice are renamed (a named tool -> REQUIRED)."""
    cohere = openai_to_cohere_request({**OPENAI_REQUEST, "tool_choice": "required", "top_p": 0.9})
    assert cohere["tool_choice"] == "REQUIRED"
    assert cohere["p"] == 0.9
    assert cohere["stop_sequences"] == ["END"]
    back = cohere_request_to_openai(cohere)
    assert comparable(back) == comparable({**OPENAI_REQUEST, "tool_choice": "required"})


ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "m",
    "max_tokens": 256,
    "system": "Answer tersely.",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "cat"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}]},
    ],
    "tools": [{"name": "lookup", "description": "Search a thing", "input_schema": TOOLS[0]["function"]["parameters"]}],
    "tool_choice": {"type": "any"},
    "stop_sequences": ["END"],
    "temperature": 0.2,
}


def anthropic_core(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body.get(k) for k in ("system", "messages", "tools", "tool_choice", "stop_sequences", "max_tokens")}


def rename_tool_ids(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    seen: dict[str, str] = {}
    for message in body["messages"]:
        for block in message["content"]:
            if block.get("type") == "tool_use":
                block["id"] = seen.setdefault(block["id"], f"t{len(seen)}")
            if block.get("type") == "tool_result":
                block["tool_use_id"] = seen.get(block["tool_use_id"], block["tool_use_id"])
    return body


@pytest.mark.parametrize(
    "via",
    [
        pytest.param(lambda o: o, id="openai"),
        pytest.param(lambda o: gemini_request_to_openai(openai_to_gemini_request(o), "m"), id="gemini"),
        pytest.param(lambda o: cohere_request_to_openai(openai_to_cohere_request(o)), id="cohere"),
    ],
)
def test_an_anthropic_request_survives_a_trip_through_each_other_format(via):
    """Anthropic -> OpenAI -> (Gemini | Cohere) -> OpenAI -> Anthropic keeps tools, images and results."""
    openai_body = anthropic_request_to_openai(ANTHROPIC_REQUEST)
    back = openai_to_anthropic_request(via(openai_body))
    assert anthropic_core(rename_tool_ids(back)) == anthropic_core(rename_tool_ids(ANTHROPIC_REQUEST))


def test_an_anthropic_response_survives_openai_and_back():
    """Text + tool_use blocks, stop reason and usage (cache reads included) round-trip."""
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"q": "dog"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 52,
            "output_tokens": 31,
            "cache_creation_input_tokens": 10,
            "cache_read_input_tokens": 1800,
        },
    }
    openai_body, usage = anthropic_to_openai_response(message, "claude")
    assert openai_body["choices"][0]["finish_reason"] == "tool_calls"
    assert (usage.prompt_tokens, usage.cached_tokens, usage.cache_write_tokens) == (1862, 1800, 10)
    assert openai_body["usage"]["prompt_tokens_details"] == {"cached_tokens": 1800, "cache_write_tokens": 10}
    back = openai_response_to_anthropic(openai_body, "claude")
    assert back["content"] == message["content"]
    assert back["stop_reason"] == "tool_use"
    assert back["usage"] == message["usage"]


def test_gemini_thought_signatures_ride_in_the_tool_call_id_and_come_back():
    """The id the client sees carries the signature; the next request puts it back on the part."""
    response = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "lookup", "args": {"q": "dog"}}, "thoughtSignature": "EqUC+/sig=="}
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 40,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 54,
        },
    }
    body, usage = gemini_to_openai_response(response, "gemini-3.5-flash")
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert (usage.completion_tokens, usage.reasoning_tokens, usage.cached_tokens) == (45, 40, 4)
    assert decode_call_id(call["id"])[1] == "EqUC+/sig=="
    assert set(call["id"]) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    replay = openai_to_gemini_request(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
            ]
        }
    )
    assert replay["contents"][1]["parts"][0]["thoughtSignature"] == "EqUC+/sig=="
    assert replay["contents"][2]["parts"][0]["functionResponse"] == {"name": "lookup", "response": {"result": "sunny"}}


def test_a_blocked_gemini_prompt_finishes_with_content_filter():
    """promptFeedback.blockReason and no candidates: an empty answer with finish_reason content_filter."""
    body, _ = gemini_to_openai_response({"promptFeedback": {"blockReason": "SAFETY"}}, "g")
    assert body["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize(
    ("translate", "field", "expected"),
    [
        (
            openai_to_anthropic_request,
            "output_config",
            {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        ),
        (
            openai_to_gemini_request,
            "generationConfig",
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}},
        ),
        (openai_to_cohere_request, "response_format", {"type": "json_object", "json_schema": {"type": "object"}}),
    ],
)
def test_json_schema_response_format_maps_to_each_native_switch(translate, field, expected):
    """response_format json_schema becomes output_config / responseJsonSchema / json_object+schema."""
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
    }
    assert translate(body)[field] == expected


def test_anthropic_requests_get_alternating_roles_a_default_max_tokens_and_one_sampling_knob():
    """Consecutive tool results merge into one user turn; max_tokens defaults; top_p drops with temperature."""
    body = openai_to_anthropic_request(
        {
            "messages": [
                {"role": "assistant", "content": "hello"},
                {"role": "tool", "tool_call_id": "a", "content": "1"},
                {"role": "tool", "tool_call_id": "b", "content": "2"},
            ],
            "temperature": 1.7,
            "top_p": 0.5,
        }
    )
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert len(body["messages"][2]["content"]) == 2
    assert body["max_tokens"] == 4096
    assert body["temperature"] == 1.0
    assert "top_p" not in body


def test_several_choices_are_refused_for_single_choice_formats():
    """n > 1 cannot be served by Anthropic or Cohere: a clear 400 instead of a silent single answer."""
    with pytest.raises(KeyrelayError) as caught:
        openai_to_anthropic_request({"messages": [], "n": 2})
    assert caught.value.code == "invalid_request"


def test_tool_arguments_that_are_not_json_objects_are_refused():
    """An assistant tool call whose arguments are not a JSON object is a client error."""
    with pytest.raises(KeyrelayError):
        openai_to_anthropic_request(
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "x", "type": "function", "function": {"name": "f", "arguments": "[1, 2"}}
                        ],
                    }
                ]
            }
        )
