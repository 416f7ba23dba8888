"""The Messages pass-through's pure parts: header allowlist, body for the target, usage of the
events, and what translation refuses (naming the field)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from gateway.providers.base import ProviderError, Target
from gateway.providers.messages import EventReader, beta_allowed, forwarded_headers, payload
from gateway.translate.anthropic_inbound import anthropic_request_to_openai, untranslatable
from gateway.wire.sse import SseEvent
from shared.errors import KeyrelayError
from shared.messages.usage import Usage

ANTHROPIC = Target(adapter="anthropic", provider="anthropic", base_url="http://127.0.0.1:1", model="claude-sonnet-4-6")
VERTEX = Target(adapter="vertex", provider="vertex", base_url="http://127.0.0.1:1", model="claude-sonnet-4-6")


def test_the_version_and_dated_beta_names_are_forwarded_and_no_other_header() -> None:
    headers = {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "prompt-caching-2024-07-31, claude-code-20250219,context-management-2025-06-27",
        "authorization": "Bearer sk-client",
        "x-api-key": "sk-client",
        "cookie": "a=b",
        "x-custom": "1",
    }
    assert forwarded_headers(headers) == {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "prompt-caching-2024-07-31,claude-code-20250219,context-management-2025-06-27",
    }


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("interleaved-thinking-2025-05-14", True),
        ("fine-grained-tool-streaming-2025-05-14", True),
        ("claude-code-20250219", True),
        ("oauth-2025-04-20", False),  # about the credential, which the gateway chooses
        ("prompt-caching", False),
        ("Prompt-Caching-2024-07-31", False),
        ("x-2024-07-31\r\nx-api-key: stolen", False),
        ("", False),
    ],
)
def test_a_beta_name_is_allowed_only_in_anthropics_dated_shape(name: str, allowed: bool) -> None:
    assert beta_allowed(name) is allowed


def test_vertex_gets_only_the_betas_it_serves_and_no_version_header() -> None:
    headers = {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "interleaved-thinking-2025-05-14,effort-2025-11-24,prompt-caching-scope-2026-01-05",
    }
    assert forwarded_headers(headers, vertex=True) == {"anthropic-beta": "interleaved-thinking-2025-05-14"}


def test_a_malformed_version_and_an_empty_beta_list_are_not_forwarded() -> None:
    assert forwarded_headers({"anthropic-version": "latest\r\nx: y", "anthropic-beta": " , oauth-2025-04-20"}) == {}


def test_the_body_changes_only_in_model_and_gateway_fields_and_on_vertex_moves_the_model_out() -> None:
    body: dict[str, Any] = {
        "model": "@slug/claude",
        "models": ["@other/x"],
        "max_tokens": 8,
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
        "context_management": {"edits": []},
    }
    sent = payload(body, ANTHROPIC, stream=True)
    assert sent == {**{k: v for k, v in body.items() if k != "models"}, "model": "claude-sonnet-4-6", "stream": True}
    on_vertex = payload(body, VERTEX, stream=False, vertex=True)
    assert "model" not in on_vertex
    assert on_vertex["anthropic_version"] == "vertex-2023-10-16"
    assert on_vertex["system"] == body["system"]


def test_a_system_turn_a_target_does_not_take_joins_a_block_system_prompt_as_a_new_block() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 8,
        "system": [{"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "system", "content": "rule"},
            {"role": "assistant", "content": "b"},
        ],
    }
    sent = payload(body, ANTHROPIC, stream=False)
    assert sent["system"] == [*body["system"], {"type": "text", "text": "rule"}]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant"]


def _event(data: dict[str, Any]) -> SseEvent:
    return SseEvent(str(data["type"]), msgspec.json.encode(data).decode())


def test_stream_usage_counts_cache_reads_and_writes_into_the_prompt() -> None:
    reader = EventReader("anthropic")
    start = {
        "type": "message_start",
        "message": {
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 200,
                "cache_read_input_tokens": 3000,
                "output_tokens": 1,
            }
        },
    }
    assert reader.feed(_event(start)) == [start]
    reader.feed(_event({"type": "ping"}))
    reader.feed(_event({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 42}}))
    reader.feed(_event({"type": "message_stop"}))
    assert reader.end() == []
    assert reader.usage == Usage(
        prompt_tokens=3210, completion_tokens=42, cached_tokens=3000, cache_write_tokens=200, total_tokens=3252
    )


def test_an_error_event_raises_and_a_stream_without_message_stop_is_interrupted() -> None:
    reader = EventReader("anthropic")
    with pytest.raises(ProviderError) as failed:
        reader.feed(_event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    assert failed.value.code == "upstream_overloaded"
    with pytest.raises(ProviderError):
        EventReader("anthropic").end()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "u"}}]}]},
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {"type": "text", "media_type": "text/plain", "data": "d"},
                                "citations": {"enabled": True},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].citations",
        ),
        ({"service_tier": "priority", "messages": []}, "service_tier"),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "y"},
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "document", "source": {"type": "file", "file_id": "file_1"}}],
                            },
                        ],
                    },
                ]
            },
            "messages[1].content[1].content[0].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "search_result"}]}
                        ],
                    }
                ]
            },
            "messages[0].content[0].content[0]",
        ),
        ({"messages": [{"role": "assistant", "content": [{"type": "server_tool_use"}]}]}, "messages[0].content[0]"),
        ({"context_management": {}, "messages": []}, "context_management"),
        (
            {
                "context_management": {
                    "edits": [{"type": "clear_thinking_20251015", "keep": "all"}, {"type": "clear_tool_uses_20250919"}]
                },
                "messages": [],
            },
            "context_management.edits[1]",
        ),
        ({"top_k": 5, "messages": []}, "top_k"),
        ({"tools": [{"name": "f"}, {"type": "bash_20250124", "name": "bash"}], "messages": []}, "tools[1]"),
        ({"system": [{"type": "text", "text": "a"}, {"type": "document"}], "messages": []}, "system[1]"),
    ],
)
def test_what_the_openai_format_cannot_carry_is_refused_naming_the_field(body: dict[str, Any], param: str) -> None:
    refusal = untranslatable({"model": "m", **body})
    assert refusal is not None
    assert (refusal.code, refusal.param) == ("invalid_request", param)
    with pytest.raises(KeyrelayError):
        anthropic_request_to_openai({"model": "m", **body})


def test_thinking_history_its_clearing_and_cache_control_are_translatable_and_left_out() -> None:
    body = {
        "model": "m",
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "xx"},
                    {"type": "text", "text": "a"},
                ],
            },
            {"role": "user", "content": "q2"},
        ],
    }
    assert untranslatable(body) is None
    assert untranslatable({**body, "context_management": {"edits": [{"type": "clear_thinking_20251015"}]}}) is None
    chat = anthropic_request_to_openai(body)
    assert chat["messages"][2] == {"role": "assistant", "content": "a"}
