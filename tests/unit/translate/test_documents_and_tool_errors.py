"""Across formats nothing is dropped silently: a failed tool's result, documents (PDF and text) and
`service_tier` are translated where the target can carry them, and refused naming the field where
it cannot."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from gateway.translate.anthropic import openai_to_anthropic_request
from gateway.translate.anthropic_inbound import anthropic_request_to_openai
from gateway.translate.cohere import openai_to_cohere_request
from gateway.translate.common import TOOL_ERROR_PREFIX
from gateway.translate.gemini import openai_to_gemini_request
from gateway.wire.openai import ChatRequest, encode
from shared.errors import KeyrelayError

PDF = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
CALL = {"id": "toolu_1", "type": "function", "function": {"name": "read", "arguments": "{}"}}


def as_json(value: object) -> Any:
    return msgspec.json.decode(encode(value))


def chat(*messages: dict[str, Any], **extra: Any) -> ChatRequest:
    return ChatRequest.from_body({"model": "m", "messages": list(messages), **extra})


def pdf_part(**file: Any) -> dict[str, Any]:
    return {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{PDF}", **file},
    }


def test_a_failed_tool_result_keeps_its_error_flag_as_the_start_of_the_tool_messages_text() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "read it"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "no such file", "is_error": True},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "fine", "is_error": False},
                ],
            },
        ],
    }
    tool_messages = anthropic_request_to_openai(body)["messages"][2:]
    assert tool_messages == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": TOOL_ERROR_PREFIX + "no such file"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "fine"},
    ]


def test_a_failed_tool_result_reaches_gemini_under_its_error_key() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "read it"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "gone", "is_error": True}],
            },
        ],
    }
    out = as_json(openai_to_gemini_request(ChatRequest.from_body(anthropic_request_to_openai(body))))
    assert out["contents"][2]["parts"] == [{"functionResponse": {"name": "read", "response": {"error": "gone"}}}]


def test_anthropic_documents_become_openai_file_and_text_parts_and_tool_result_media_follow_the_tool_message() -> None:
    pdf = {
        "type": "document",
        "title": "q3.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
    }
    text_doc = {
        "type": "document",
        "context": "notes",
        "source": {"type": "text", "media_type": "text/plain", "data": "abc"},
    }
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "summarise"}, pdf, text_doc]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "took it"}, image, pdf],
                    },
                    {"type": "text", "text": "and?"},
                ],
            },
        ],
    }
    messages = anthropic_request_to_openai(body)["messages"]
    file = {"type": "file", "file": {"filename": "q3.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}}
    assert messages[0] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "summarise"},
            file,
            {"type": "text", "text": "notes"},
            {"type": "text", "text": "abc"},
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "took it"}
    assert messages[3] == {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            file,
            {"type": "text", "text": "and?"},
        ],
    }
    ChatRequest.from_body(anthropic_request_to_openai(body))  # a valid request of the gateway's own format


@pytest.mark.parametrize(("tier", "sent"), [("auto", "auto"), ("standard_only", "default"), (None, "absent")])
def test_anthropic_service_tier_is_forwarded_as_its_openai_counterpart(tier: str | None, sent: str) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], "service_tier": tier}
    assert anthropic_request_to_openai(body).get("service_tier", "absent") == sent


def test_an_openai_pdf_file_part_becomes_an_anthropic_document_block() -> None:
    out = as_json(
        openai_to_anthropic_request(chat({"role": "user", "content": [{"type": "text", "text": "sum"}, pdf_part()]}))
    )
    assert out["messages"][0]["content"][1] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        "title": "report.pdf",
    }


@pytest.mark.parametrize(
    "part",
    [
        {"type": "file", "file": {"file_id": "file-abc"}},
        {"type": "file", "file": {"file_data": f"data:text/csv;base64,{PDF}"}},
        {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}},
    ],
    ids=["file-id", "not-a-pdf", "audio"],
)
def test_parts_anthropic_cannot_read_are_refused(part: dict[str, Any]) -> None:
    with pytest.raises(KeyrelayError) as refused:
        openai_to_anthropic_request(chat({"role": "user", "content": [part]}))
    assert (refused.value.code, refused.value.param) == ("invalid_request", "messages")


@pytest.mark.parametrize(("tier", "sent"), [("auto", "auto"), ("default", "standard_only"), ("priority", "auto")])
def test_openai_service_tier_reaches_anthropic_as_its_counterpart(tier: str, sent: str) -> None:
    out = as_json(openai_to_anthropic_request(chat({"role": "user", "content": "hi"}, service_tier=tier)))
    assert out["service_tier"] == sent


@pytest.mark.parametrize("tier", ["flex", "scale"])
def test_a_service_tier_anthropic_has_no_counterpart_for_is_refused_naming_the_field(tier: str) -> None:
    with pytest.raises(KeyrelayError) as refused:
        openai_to_anthropic_request(chat({"role": "user", "content": "hi"}, service_tier=tier))
    assert refused.value.param == "service_tier"


def test_an_openai_pdf_file_part_reaches_gemini_as_inline_data() -> None:
    out = as_json(openai_to_gemini_request(chat({"role": "user", "content": [pdf_part()]})))
    assert out["contents"][0]["parts"] == [{"inlineData": {"mimeType": "application/pdf", "data": PDF}}]


def test_cohere_refuses_a_file_part_instead_of_dropping_it() -> None:
    with pytest.raises(KeyrelayError) as refused:
        openai_to_cohere_request(chat({"role": "user", "content": [{"type": "text", "text": "x"}, pdf_part()]}))
    assert refused.value.param == "messages"
