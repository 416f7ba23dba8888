"""`/v1/messages` to Anthropic-format targets is a faithful pass-through; across formats it is
translated, and what cannot be translated is refused with a 400 naming the field.

The Anthropic SDK talks to the running gateway; the fake Anthropic (and Claude on the fake Vertex)
records what arrived, verifies thinking signatures and reports prompt caching as Anthropic does.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import anthropic
import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record
from tests.e2e.test_bare_model_names import add_integration, anthropic_sdk

ANTHROPIC = "@mp-anthropic/claude-sonnet-4-6"
VERTEX = "@mp-vertex/claude-sonnet-4-6"
OPENAI = "@mp-openai/gpt-4o-mini"
# catalog prices of claude-sonnet-4-6 (USD per million tokens): input, cached input, cache write, output
PRICES = {"input": 3.0, "cached_input": 0.3, "cache_write": 3.75, "output": 15.0}
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")).decode()


@pytest.fixture(scope="module")
def mp_org(stack: EmbeddedStack, fake: FakeServer) -> Org:
    org = bootstrap(stack)
    add_integration(org, fake, "anthropic", "mp-anthropic", ["claude-sonnet-4-6"])
    add_integration(org, fake, "vertex", "mp-vertex", ["claude-sonnet-4-6"])
    add_integration(org, fake, "openai", "mp-openai", ["gpt-4o-mini"])
    created = org.owner.post("/integrations/mp-anthropic/custom-models", json={"slug": "claude-fault-503"})
    assert created.status_code in (201, 409), created.text
    return org


def client(org: Org) -> anthropic.Anthropic:
    return anthropic_sdk(org.stack, org.api_key())


def upstream(fake: FakeServer, marker: str) -> list[dict[str, Any]]:
    """What the fake providers received for requests carrying `marker`, oldest first."""
    return [r for r in fake.requests() if marker in json.dumps(r.get("body"))]


def cost(usage: dict[str, int]) -> float:
    fresh = usage["prompt_tokens"] - usage["cached_tokens"] - usage["cache_write_tokens"]
    return (
        fresh * PRICES["input"]
        + usage["cached_tokens"] * PRICES["cached_input"]
        + usage["cache_write_tokens"] * PRICES["cache_write"]
        + usage["completion_tokens"] * PRICES["output"]
    ) / 1e6


def test_cache_control_arrives_intact_and_cache_reads_and_writes_are_priced_in_the_activity_record(
    mp_org: Org, fake: FakeServer
) -> None:
    marker = secrets.token_hex(6)
    system: Any = [
        {"type": "text", "text": f"a long stable prompt {marker} " * 20, "cache_control": {"type": "ephemeral"}}
    ]
    messages: Any = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral", "ttl": "5m"}}],
        }
    ]
    sdk = client(mp_org)
    first = sdk.messages.with_raw_response.create(model=ANTHROPIC, max_tokens=64, system=system, messages=messages)
    second = sdk.messages.with_raw_response.create(model=ANTHROPIC, max_tokens=64, system=system, messages=messages)
    bodies = [r["body"] for r in upstream(fake, marker)]
    assert [b["system"] for b in bodies] == [system, system]
    assert [b["messages"] for b in bodies] == [messages, messages]
    written, read = first.parse().usage, second.parse().usage
    assert written.cache_creation_input_tokens
    assert not written.cache_read_input_tokens
    assert read.cache_read_input_tokens == written.cache_creation_input_tokens
    for raw, usage in ((first, written), (second, read)):
        doc = wait_for_record(mp_org.stack, raw.headers["x-request-id"])
        recorded = doc["usage"]
        assert recorded["cached_tokens"] == (usage.cache_read_input_tokens or 0)
        assert recorded["cache_write_tokens"] == (usage.cache_creation_input_tokens or 0)
        assert (
            recorded["prompt_tokens"] == usage.input_tokens + recorded["cached_tokens"] + recorded["cache_write_tokens"]
        )
        assert doc["cost_usd"] == pytest.approx(cost(recorded))


def test_thinking_blocks_with_their_signatures_go_back_unchanged_in_the_next_turn(
    mp_org: Org, fake: FakeServer
) -> None:
    marker = secrets.token_hex(6)
    sdk = client(mp_org)
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    ask: Any = {"role": "user", "content": f"think first {marker}"}
    first = sdk.messages.create(model=ANTHROPIC, max_tokens=2048, thinking=thinking, messages=[ask])
    [thought] = [b for b in first.content if b.type == "thinking"]
    assert thought.signature
    history: Any = [ask, {"role": "assistant", "content": [b.model_dump() for b in first.content]}]
    history.append({"role": "user", "content": f"and again {marker}"})
    second = sdk.messages.create(model=ANTHROPIC, max_tokens=2048, thinking=thinking, messages=history)
    assert second.content
    sent = upstream(fake, f"and again {marker}")[-1]["body"]
    assert sent["thinking"] == thinking
    assert sent["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": thought.thinking,
        "signature": thought.signature,
    }
    history[1]["content"][0]["signature"] = "forged"
    with pytest.raises(anthropic.BadRequestError) as refused:  # the provider's verdict, relayed
        sdk.messages.create(model=ANTHROPIC, max_tokens=2048, thinking=thinking, messages=history)
    assert refused.value.body["error"]["code"] == "upstream_bad_request"  # type: ignore[index]


def test_documents_and_images_inside_tool_results_arrive_intact(mp_org: Org, fake: FakeServer) -> None:
    marker = secrets.token_hex(6)
    document = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        "title": f"report {marker}",
        "citations": {"enabled": True},
    }
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    tool: Any = {"name": "screenshot", "description": "takes one", "input_schema": {"type": "object"}}
    messages: Any = [
        {"role": "user", "content": [{"type": "text", "text": f"read this {marker}"}, document]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "shot"}, image]}
            ],
        },
    ]
    for model in (ANTHROPIC, VERTEX):
        answer = client(mp_org).messages.create(model=model, max_tokens=64, tools=[tool], messages=messages)
        assert answer.content
        sent = upstream(fake, marker)[-1]
        assert sent["body"]["messages"] == messages
    assert str(sent["path"]).endswith("/claude-sonnet-4-6:rawPredict")
    assert "model" not in sent["body"]
    assert sent["body"]["anthropic_version"] == "vertex-2023-10-16"


def test_allowed_beta_headers_and_context_management_arrive_upstream_and_nothing_else(
    mp_org: Org, fake: FakeServer
) -> None:
    marker = secrets.token_hex(6)
    management = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    headers = {
        "anthropic-beta": (
            "context-management-2025-06-27, oauth-2025-04-20,not a beta,effort-2025-11-24,"
            "interleaved-thinking-2025-05-14"
        ),
        "x-internal-token": "do-not-forward",
        "cookie": "session=secret",
        "anthropic-version": "2023-06-01",
    }
    expected = {  # Vertex refuses betas it does not serve (`effort-2025-11-24`): only those it serves go
        ANTHROPIC: "context-management-2025-06-27,effort-2025-11-24,interleaved-thinking-2025-05-14",
        VERTEX: "context-management-2025-06-27,interleaved-thinking-2025-05-14",
    }
    for model, betas in expected.items():
        client(mp_org).messages.create(
            model=model,
            max_tokens=64,
            messages=[{"role": "user", "content": f"manage context {marker}"}],
            extra_body={"context_management": management},
            extra_headers=headers,
        )
        sent = upstream(fake, marker)[-1]
        assert sent["body"]["context_management"] == management
        assert sent["header_values"]["anthropic-beta"] == betas
        assert not {"x-internal-token", "cookie"} & set(sent["header_names"])
    anthropic_sent, vertex_sent = upstream(fake, marker)
    assert anthropic_sent["header_values"]["anthropic-version"] == "2023-06-01"
    assert "anthropic-version" not in vertex_sent["header_values"]


def _stream(org: Org, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[str, dict[str, Any]]]]:
    with httpx.stream(
        "POST",
        f"{org.stack.gateway_url}/v1/messages",
        headers={"x-api-key": org.api_key(), "anthropic-version": "2023-06-01"},
        json={**body, "stream": True},
        timeout=30,
    ) as response:
        text = response.read().decode()
    events: list[tuple[str, dict[str, Any]]] = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return response, events


@pytest.mark.parametrize("model", [ANTHROPIC, VERTEX])
def test_a_stream_relays_the_providers_events_as_sent_and_records_their_cache_usage(mp_org: Org, model: str) -> None:
    marker = secrets.token_hex(6)
    body = {
        "model": model,
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": [{"type": "text", "text": f"stable {marker} " * 10, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "stream please"}],
    }
    response, events = _stream(mp_org, body)
    assert response.status_code == 200
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert "ping" in names  # Anthropic's own events, which a translation would not produce
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in events)
    deltas = [data["delta"]["type"] for name, data in events if name == "content_block_delta"]
    assert "signature_delta" in deltas
    start = events[0][1]["message"]
    assert start["usage"]["cache_creation_input_tokens"] > 0
    assert start["id"].startswith("msg_")  # the provider's own message...
    assert start["model"] == model  # ...naming the model the client asked for
    doc = wait_for_record(mp_org.stack, response.headers["x-request-id"])
    assert doc["usage"]["cache_write_tokens"] == start["usage"]["cache_creation_input_tokens"]
    assert doc["cost_usd"] == pytest.approx(cost(doc["usage"]))
    assert doc["stream_outcome"] == "complete"


def test_a_failing_anthropic_target_fails_over_to_an_openai_one_which_gets_a_translation(
    mp_org: Org, fake: FakeServer
) -> None:
    marker = secrets.token_hex(6)
    system: Any = [{"type": "text", "text": f"be brief {marker}", "cache_control": {"type": "ephemeral"}}]
    raw = client(mp_org).messages.with_raw_response.create(
        model="@mp-anthropic/claude-fault-503",
        max_tokens=64,
        system=system,
        messages=[{"role": "user", "content": "fail over please"}],
        extra_body={"models": [OPENAI]},
    )
    assert raw.headers["x-keyrelay-integration"] == "mp-openai"
    assert "fail over please" in "".join(b.text for b in raw.parse().content if b.type == "text")
    sent = upstream(fake, marker)
    assert str(sent[0]["path"]).startswith("/anthropic/")
    assert "models" not in sent[0]["body"]
    assert sent[-1]["body"]["messages"][0] == {"role": "system", "content": f"be brief {marker}"}
    doc = wait_for_record(mp_org.stack, raw.headers["x-request-id"])
    assert [a["integration"] for a in doc["attempts"]] == ["mp-anthropic", "mp-openai"]


@pytest.mark.parametrize(
    ("extra", "content", "param"),
    [
        (
            {},
            [
                {"type": "text", "text": "read"},
                {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
            ],
            "messages[0].content[1].source",
        ),
        (
            {},
            [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {"type": "text", "text": "shot"},
                        {
                            "type": "document",
                            "source": {"type": "text", "media_type": "text/plain", "data": "log"},
                            "citations": {"enabled": True},
                        },
                    ],
                }
            ],
            "messages[2].content[0].content[1].citations",
        ),
        (
            {"context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]}},
            "hello",
            "context_management.edits[0]",
        ),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}]}, "hello", "tools[0]"),
    ],
    ids=["document-by-url", "citations-in-tool-result", "context-management", "server-tool"],
)
def test_what_an_openai_target_cannot_take_is_refused_naming_the_field_never_dropped(
    mp_org: Org, fake: FakeServer, extra: dict[str, Any], content: Any, param: str
) -> None:
    marker = secrets.token_hex(6)
    messages: Any = [{"role": "user", "content": content}]
    if param.startswith("messages[2]"):
        messages = [
            {"role": "user", "content": "take a screenshot"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]},
            *messages,
        ]
    with pytest.raises(anthropic.BadRequestError) as refused:
        client(mp_org).messages.create(
            model=OPENAI, max_tokens=64, messages=messages, metadata={"user_id": marker}, extra_body=extra
        )
    error = refused.value.body["error"]  # type: ignore[index]
    assert (error["code"], error["param"]) == ("invalid_request", param)
    assert not upstream(fake, marker)


def test_an_openai_target_gets_documents_as_file_parts_and_a_failed_tool_result_marked_as_an_error(
    mp_org: Org, fake: FakeServer
) -> None:
    """Across formats a PDF becomes OpenAI's `file` part, a tool result's image and PDF follow its
    tool message in a user turn, `is_error` starts the tool text, `service_tier` is forwarded."""
    marker = secrets.token_hex(6)
    pdf = {
        "type": "document",
        "title": "q3.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
    }
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    messages: Any = [
        {"role": "user", "content": [{"type": "text", "text": f"read {marker}"}, pdf]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "x"}, image, pdf],
                },
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "disk full", "is_error": True},
            ],
        },
    ]
    answer = client(mp_org).messages.create(
        model=OPENAI, max_tokens=64, messages=messages, extra_body={"service_tier": "standard_only"}
    )
    assert answer.content
    sent = upstream(fake, marker)[-1]["body"]
    file = {"type": "file", "file": {"filename": "q3.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}}
    assert sent["messages"][0] == {"role": "user", "content": [{"type": "text", "text": f"read {marker}"}, file]}
    assert sent["messages"][2:] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "x"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "[tool error] disk full"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}, file],
        },
    ]
    assert sent["service_tier"] == "default"


def test_token_counting_on_an_anthropic_target_counts_the_body_that_would_pass_through(
    mp_org: Org, fake: FakeServer
) -> None:
    marker = secrets.token_hex(6)
    document = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}
    messages: Any = [{"role": "user", "content": [{"type": "text", "text": f"count {marker}"}, document]}]
    counted = client(mp_org).messages.with_raw_response.count_tokens(model=ANTHROPIC, messages=messages)
    assert counted.headers["x-keyrelay-token-count"] == "exact"
    assert counted.parse().input_tokens > 0
    sent = upstream(fake, marker)[-1]
    assert str(sent["path"]).endswith("/v1/messages/count_tokens")
    assert sent["body"]["messages"] == messages


def test_a_translated_stream_still_answers_in_anthropic_events(mp_org: Org) -> None:
    response, events = _stream(
        mp_org, {"model": OPENAI, "max_tokens": 64, "messages": [{"role": "user", "content": "stream across"}]}
    )
    assert response.status_code == 200
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert "stream across" in text
    assert events[-2][1]["usage"]["output_tokens"] > 0
