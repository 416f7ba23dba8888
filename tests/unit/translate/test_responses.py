"""The Responses API translation: requests to chat completions, chat answers and chunks back to a
`Response` and its stream events, each checked against the official `openai` SDK's own types."""

from __future__ import annotations

from typing import Any

import msgspec
import pydantic
import pytest
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent

from gateway.providers.base import ProviderError
from gateway.providers.responses import EventReader, usage_of
from gateway.translate.responses import ChatDelta, Response, ResponseUsage, from_chat, parse_request, to_chat
from gateway.translate.responses_events import ResponseEventEmitter
from gateway.wire.openai import ChatChunk, ChatCompletion
from gateway.wire.sse import SseEvent
from shared.errors import KeyrelayError
from shared.messages.usage import Usage

EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}


def chat(raw: dict[str, Any], provider: str = "anthropic") -> dict[str, Any]:
    parsed = parse_request({"model": "m", **raw})
    return to_chat(parsed, parsed.input, provider)


def plain(value: msgspec.Struct) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def test_a_string_input_with_instructions_becomes_a_system_and_a_user_message() -> None:
    body = chat({"input": "hi", "instructions": "be brief", "max_output_tokens": 64, "temperature": 0.2})
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert body["max_tokens"] == 64
    assert body["temperature"] == 0.2


def test_function_calls_join_the_assistant_turn_and_their_outputs_become_tool_messages() -> None:
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city":"A"}'},
        {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": '{"city":"B"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "rain"}]},
    ]
    body = chat({"input": items, "tools": [TOOL], "tool_choice": {"type": "function", "name": "get_weather"}})
    assistant = body["messages"][1]
    assert assistant["content"] == "Checking."
    assert [c["id"] for c in assistant["tool_calls"]] == ["c1", "c2"]
    assert body["messages"][2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "rain"},
    ]
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_images_and_files_become_chat_content_parts() -> None:
    content = [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
    ]
    parts = chat({"input": [{"role": "user", "content": content}]})["messages"][0]["content"]
    assert parts == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
    ]


@pytest.mark.parametrize(
    "part",
    [{"type": "input_image", "file_id": "file-1"}, {"type": "input_file", "file_url": "https://x.example/a.pdf"}],
)
def test_content_chat_completions_cannot_carry_is_refused(part: dict[str, Any]) -> None:
    with pytest.raises(KeyrelayError) as refused:
        chat({"input": [{"role": "user", "content": [part]}]})
    assert refused.value.param == "input"


def test_json_schema_and_json_object_formats_become_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}
    body = chat({"input": "x", "text": {"format": fmt}})
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True},
    }
    assert chat({"input": "x", "text": {"format": {"type": "json_object"}}})["response_format"] == {
        "type": "json_object"
    }


def test_reasoning_items_are_accepted_and_reasoning_effort_is_kept() -> None:
    items = [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hmm"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
    ]
    body = chat({"input": items, "reasoning": {"effort": "high"}})
    assert body["messages"] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert body["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"include": ["message.output_text.logprobs"]}, "include"),
        ({"truncation": "auto"}, "truncation"),
        ({"top_logprobs": 3}, "top_logprobs"),
    ],
)
def test_what_chat_completions_cannot_express_is_refused_only_when_translating(
    extra: dict[str, Any], param: str
) -> None:
    parsed = parse_request({"model": "m", "input": "x", **extra})  # fine for a Responses target
    with pytest.raises(KeyrelayError) as refused:
        to_chat(parsed, parsed.input, "anthropic")
    assert refused.value.param == param
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("extra", "param"), [({"background": True}, "background"), ({"conversation": "c"}, "conversation")]
)
def test_background_and_conversation_are_refused_for_every_target(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(KeyrelayError) as refused:
        parse_request({"model": "m", "input": "x", **extra})
    assert refused.value.param == param


def test_an_input_item_type_the_gateway_does_not_know_is_refused_by_name() -> None:
    with pytest.raises(KeyrelayError) as refused:
        parse_request({"model": "m", "input": [{"type": "web_search_call", "id": "ws_1"}]})
    assert "web_search_call" in refused.value.message
    assert refused.value.param == "input"


def test_a_chat_completion_becomes_a_response_the_sdk_accepts() -> None:
    parsed = parse_request({"model": "@a/m", "input": "x", "tools": [TOOL], "metadata": {"k": "v"}})
    completion = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Let me check.",
                    "reasoning_content": "thinking",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                    ],
                },
            }
        ]
    }
    usage = Usage(prompt_tokens=10, completion_tokens=5, cached_tokens=4, reasoning_tokens=2).finalize()
    response = SdkResponse.model_validate(plain(from_chat(ChatCompletion.from_json(completion), parsed, "@a/m", usage)))
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    assert response.output_text == "Let me check."
    assert response.status == "completed"
    assert response.metadata == {"k": "v"}
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == 4
    assert response.usage.output_tokens_details.reasoning_tokens == 2
    assert response.usage.total_tokens == 15


def test_a_length_finish_makes_an_incomplete_response() -> None:
    parsed = parse_request({"model": "m", "input": "x"})
    completion = {"choices": [{"finish_reason": "length", "message": {"role": "assistant", "content": "cut"}}]}
    response = from_chat(ChatCompletion.from_json(completion), parsed, "m", Usage())
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_a_chat_stream_becomes_numbered_events_the_sdk_accepts() -> None:
    parsed = parse_request({"model": "m", "input": "x", "tools": [TOOL]})
    emitter = ResponseEventEmitter(Response.start(parsed, "m"))
    call = {"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": ""}}
    other = {"index": 1, "id": "call_b", "function": {"name": "get_weather", "arguments": '{"ci'}}
    chunks = [
        _chunk({"role": "assistant", "reasoning_content": "hm"}),
        _chunk({"content": "Hel"}),
        _chunk({"content": "lo"}),
        _chunk({"tool_calls": [call]}),
        _chunk({"tool_calls": [other]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),  # interleaved
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": 'ty":"B"}'}}]}),
        _chunk({}, "tool_calls"),
    ]
    events = [e for chunk in chunks for e in emitter.feed(ChatDelta.of_chunk(ChatChunk.from_json(chunk)))]
    events += emitter.finish(Usage(prompt_tokens=3, completion_tokens=4).finalize())
    parsed_events = [EVENTS.validate_python(plain(event)) for event in events]
    assert [e.sequence_number for e in parsed_events] == list(range(len(events)))
    kinds = [e.type for e in parsed_events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == 4
    assert "response.reasoning_summary_text.delta" in kinds
    final = parsed_events[-1].response
    assert final.output_text == "Hello"
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.call_id, c.arguments) for c in calls] == [("call_a", "{}"), ("call_b", '{"city":"B"}')]
    done = [e for e in parsed_events if e.type == "response.function_call_arguments.done"]
    assert [e.arguments for e in done] == ["{}", '{"city":"B"}']
    assert final.usage is not None
    assert final.usage.total_tokens == 7


def test_a_failure_mid_stream_ends_with_response_failed_and_an_error_event() -> None:
    parsed = parse_request({"model": "m", "input": "x"})
    emitter = ResponseEventEmitter(Response.start(parsed, "m"))
    events = emitter.feed(ChatDelta.of_chunk(ChatChunk.from_json(_chunk({"content": "par"}))))
    events += emitter.error(KeyrelayError("upstream_error", "anthropic: stream interrupted"))
    parsed_events = [EVENTS.validate_python(plain(event)) for event in events]
    assert [e.type for e in parsed_events[-2:]] == ["response.failed", "error"]
    failed = parsed_events[-2].response
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "server_error"
    assert [e.sequence_number for e in parsed_events] == list(range(len(events)))


def test_usage_crosses_both_ways_with_cached_and_reasoning_tokens() -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=20, cached_tokens=60, cache_write_tokens=5, reasoning_tokens=7)
    assert ResponseUsage.of(usage.finalize()).normalised() == usage.finalize()
    raw = {
        "input_tokens": 9,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 13,
    }
    assert usage_of(raw) == Usage(
        prompt_tokens=9, completion_tokens=4, cached_tokens=3, reasoning_tokens=1, total_tokens=13
    )
    assert usage_of("nonsense") == Usage()


def test_a_passed_through_stream_ends_on_its_terminal_event_and_raises_on_errors() -> None:
    reader = EventReader("openai")
    created = SseEvent("response.created", '{"type":"response.created","sequence_number":0,"response":{}}')
    assert reader.feed(created)[0]["type"] == "response.created"
    usage = '{"input_tokens":2,"output_tokens":3,"total_tokens":5}'
    done = '{"type":"response.completed","sequence_number":1,"response":{"usage":' + usage + "}}"
    reader.feed(SseEvent("response.completed", done))
    assert reader.finished
    assert reader.usage is not None
    assert reader.usage.total_tokens == 5
    with pytest.raises(ProviderError) as failed:
        EventReader("openai").feed(
            SseEvent("error", '{"type":"error","code":"rate_limit_exceeded","message":"slow down","sequence_number":2}')
        )
    assert failed.value.code == "upstream_rate_limited"
    with pytest.raises(ProviderError):
        EventReader("openai").end()
