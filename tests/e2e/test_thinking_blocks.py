"""Anthropic thinking through the OpenAI format (issue 14): thinking blocks come back signed in
`thinking_blocks` (LiteLLM's field), whole and streamed, and a tool-use continuation that sends them
back reaches Anthropic (also Claude on Vertex and an Anthropic-format custom host) unchanged, which
verifies them; the same through `/v1/responses`."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import openai
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap

THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TARGETS = ["@t-anthropic/claude-sonnet-4-6", "@t-host/house-model", "@t-vertex/claude-sonnet-4-6"]


@pytest.fixture(scope="module")
def sdk(stack: EmbeddedStack, fake: FakeServer) -> openai.OpenAI:
    org: Org = bootstrap(stack)
    for slug, extra in (
        ("t-anthropic", {"models": {"enabled": ["claude-sonnet-4-6"]}}),
        (
            "t-host",
            {
                "models": {"enabled": []},
                "custom_host": {"base_url": f"{fake.root}/anthropic", "api_format": "anthropic"},
            },
        ),
    ):
        key = f"sk-{slug}-{secrets.token_hex(10)}"
        fake.add_key("anthropic", key)
        body = {"provider": "anthropic", "name": slug, "slug": slug, "credentials": {"api_key": key}, **extra}
        created = org.owner.post("/integrations", json=body)
        assert created.status_code == 201, created.text
    account = httpx.post(f"{fake.root}/__admin/service-accounts/new", timeout=10).json()
    account["token_uri"] = "https://oauth2.googleapis.com/token"
    vertex = {"location": "us-central1", "service_account_json": account}
    body = {"provider": "vertex", "name": "t-vertex", "slug": "t-vertex", "credentials": vertex}
    created = org.owner.post("/integrations", json={**body, "models": {"enabled": ["claude-sonnet-4-6"]}})
    assert created.status_code == 201, created.text
    price = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
    added = org.owner.post("/integrations/t-host/custom-models", json={"slug": "house-model", "pricing": price})
    assert added.status_code == 201, added.text
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=org.api_key(), max_retries=0)


def _sent(fake: FakeServer, marker: str) -> dict[str, Any]:
    """The last body the fake provider got for this conversation."""
    return next(r["body"] for r in reversed(fake.requests()) if marker in str(r.get("body")))


def _ask(marker: str) -> dict[str, Any]:
    return {"role": "user", "content": f"call tool get_weather for Paris {marker}"}


def _continuation(ask: dict[str, Any], assistant: dict[str, Any], call_id: str) -> list[Any]:
    return [ask, assistant, {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21C"}]


@pytest.mark.parametrize("model", TARGETS)
def test_thinking_blocks_sent_back_with_their_signatures_let_a_tool_call_continue(
    sdk: openai.OpenAI, fake: FakeServer, model: str
) -> None:
    marker = secrets.token_hex(6)
    ask = _ask(marker)
    first = sdk.chat.completions.create(model=model, messages=[ask], tools=[WEATHER], extra_body=THINKING)  # type: ignore[list-item]
    message = first.choices[0].message
    extra = message.model_extra or {}
    [block] = extra["thinking_blocks"]
    assert block["type"] == "thinking"
    assert block["signature"]
    assert block["thinking"] == extra["reasoning_content"]
    assert message.tool_calls
    assert _sent(fake, marker)["thinking"] == THINKING["thinking"]
    assistant = message.model_dump(exclude_none=True)
    second = sdk.chat.completions.create(
        model=model,
        messages=_continuation(ask, assistant, message.tool_calls[0].id),  # type: ignore[arg-type]
        tools=[WEATHER],
        extra_body=THINKING,
    )
    assert second.choices[0].message.content
    sent = _sent(fake, marker)["messages"][1]["content"]
    assert sent[0] == {"type": "thinking", "thinking": block["thinking"], "signature": block["signature"]}
    assert sent[1]["type"] == "tool_use"


@pytest.mark.parametrize("model", TARGETS)
def test_streamed_thinking_blocks_arrive_whole_and_signed_and_go_back_in_the_next_turn(
    sdk: openai.OpenAI, fake: FakeServer, model: str
) -> None:
    marker = secrets.token_hex(6)
    ask = _ask(marker)
    stream = sdk.chat.completions.create(
        model=model,
        messages=[ask],  # type: ignore[list-item]
        tools=[WEATHER],
        extra_body=THINKING,
        stream=True,
    )
    reasoning, blocks, calls = "", [], {}
    for chunk in stream:
        for choice in chunk.choices:
            extra = choice.delta.model_extra or {}
            reasoning += extra.get("reasoning_content") or ""
            blocks += extra.get("thinking_blocks") or []
            for call in choice.delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                entry["name"] = (call.function.name if call.function else None) or entry.get("name")
                entry["arguments"] += (call.function.arguments if call.function else None) or ""
    [block] = blocks
    assert block["thinking"] == reasoning
    assert block["signature"]
    [call] = calls.values()
    assistant = {
        "role": "assistant",
        "content": None,
        "thinking_blocks": blocks,
        "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
        ],
    }
    stream = sdk.chat.completions.create(
        model=model,
        messages=_continuation(ask, assistant, call["id"]),  # type: ignore[arg-type]
        tools=[WEATHER],
        extra_body=THINKING,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
    assert _sent(fake, marker)["messages"][1]["content"][0]["signature"] == block["signature"]


def test_a_forged_signature_is_refused_by_the_provider(sdk: openai.OpenAI) -> None:
    marker = secrets.token_hex(6)
    ask = _ask(marker)
    first = sdk.chat.completions.create(model=TARGETS[0], messages=[ask], tools=[WEATHER], extra_body=THINKING)  # type: ignore[list-item]
    message = first.choices[0].message
    assert message.tool_calls
    assistant = message.model_dump(exclude_none=True)
    assistant["thinking_blocks"][0]["signature"] = "forged"
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model=TARGETS[0],
            messages=_continuation(ask, assistant, message.tool_calls[0].id),  # type: ignore[arg-type]
            tools=[WEATHER],
            extra_body=THINKING,
        )
    assert refused.value.body["code"] == "upstream_bad_request"  # type: ignore[index]


def test_a_tool_continuation_with_reasoning_content_but_no_thinking_blocks_is_refused_naming_the_field(
    sdk: openai.OpenAI, fake: FakeServer
) -> None:
    marker = secrets.token_hex(6)
    ask = _ask(marker)
    first = sdk.chat.completions.create(model=TARGETS[0], messages=[ask], tools=[WEATHER], extra_body=THINKING)  # type: ignore[list-item]
    message = first.choices[0].message
    assert message.tool_calls
    assistant = message.model_dump(exclude_none=True)
    del assistant["thinking_blocks"]  # what a client that keeps only reasoning_content sends
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model=TARGETS[0],
            messages=_continuation(ask, assistant, message.tool_calls[0].id),  # type: ignore[arg-type]
            tools=[WEATHER],
            extra_body=THINKING,
        )
    assert refused.value.body["code"] == "invalid_request"  # type: ignore[index]
    assert refused.value.body["param"] == "messages[1].thinking_blocks"  # type: ignore[index]
    # with no reasoning at all the gateway cannot tell: Anthropic refuses, as the fake does
    del assistant["reasoning_content"]
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model=TARGETS[0],
            messages=_continuation(ask, assistant, message.tool_calls[0].id),  # type: ignore[arg-type]
            tools=[WEATHER],
            extra_body=THINKING,
        )
    assert refused.value.body["code"] == "upstream_bad_request"  # type: ignore[index]
    # without thinking on, the reasoning is dropped and the conversation goes on
    done = sdk.chat.completions.create(
        model=TARGETS[0],
        messages=_continuation(ask, assistant, message.tool_calls[0].id),  # type: ignore[arg-type]
        tools=[WEATHER],
    )
    assert done.choices[0].message.content
    assert [b["type"] for b in _sent(fake, marker)["messages"][1]["content"]] == ["tool_use"]


def test_responses_carry_thinking_sealed_in_the_reasoning_item_and_take_it_back(
    sdk: openai.OpenAI, fake: FakeServer
) -> None:
    """The reasoning item's `encrypted_content` holds the signed blocks; sent back as an input item
    (or through `previous_response_id`, streamed) they reach Anthropic first in the assistant turn."""
    marker = secrets.token_hex(6)
    ask = f"call tool get_weather for Paris {marker}"
    tool: Any = {"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}
    first = sdk.responses.create(model=TARGETS[0], input=ask, tools=[tool], extra_body=THINKING)
    reasoning, call = first.output[0], first.output[-1]
    assert reasoning.type == "reasoning"
    assert reasoning.encrypted_content
    assert call.type == "function_call"
    history: Any = [{"role": "user", "content": ask}, *[i.model_dump(exclude_none=True) for i in first.output]]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny"})
    second = sdk.responses.create(model=TARGETS[0], input=history, tools=[tool], extra_body=THINKING)
    assert second.output_text
    block = _sent(fake, marker)["messages"][1]["content"][0]
    assert block["type"] == "thinking"
    assert block["signature"]
    with sdk.responses.stream(model=TARGETS[0], input=ask, tools=[tool], extra_body=THINKING) as stream:
        streamed = stream.get_final_response()
    assert streamed.output[0].type == "reasoning"
    assert streamed.output[0].encrypted_content
    [call] = [i for i in streamed.output if i.type == "function_call"]
    output: Any = [{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]
    third = sdk.responses.create(
        model=TARGETS[0], previous_response_id=streamed.id, input=output, tools=[tool], extra_body=THINKING
    )
    assert third.output_text
    assert _sent(fake, marker)["messages"][1]["content"][0]["type"] == "thinking"
