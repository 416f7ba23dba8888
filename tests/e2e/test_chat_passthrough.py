"""`/v1/chat/completions` to an OpenAI-format target forwards the client's body as sent: every field
at any depth (unknown keys inside messages, content parts, tool calls, tools, `response_format`,
`stream_options`) arrives intact; only the model, the stream switches, the gateway's own fields
and the vendor's documented quirks change. The fake providers record what arrived."""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any

import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap
from tests.e2e.test_bare_model_names import add_integration

PNG = "data:image/png;base64,iVBORw0KGgo="
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(scope="module")
def cp_org(stack: EmbeddedStack, fake: FakeServer) -> Org:
    org = bootstrap(stack)
    add_integration(org, fake, "openai", "cp-openai", ["gpt-4o-mini"])
    add_integration(org, fake, "groq", "cp-groq", ["llama-3.3-70b-versatile"])
    add_integration(org, fake, "perplexity", "cp-pplx", ["sonar"])
    key = f"sk-azure-{secrets.token_hex(12)}"
    fake.add_key("azure", key)
    created = org.owner.post(
        "/integrations",
        json={
            "provider": "azure",
            "name": "cp-azure",
            "slug": "cp-azure",
            "credentials": {"api_key": key, "resource_name": "cp-east", "deployments": {"gpt-4o-mini": "mini-prod"}},
            "models": {"enabled": ["gpt-4o-mini"]},
        },
    )
    assert created.status_code == 201, created.text
    return org


def tool_turns(marker: str) -> dict[str, Any]:
    """A client body with fields the gateway has no struct for, nested everywhere."""
    return {
        "messages": [
            {"role": "system", "content": "be brief", "x_trace": {"span": "s1", "tags": ["a", 1, None]}},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"weather? {marker}", "x_vendor": {"weight": 0.5}},
                    {"type": "image_url", "image_url": {"url": PNG, "detail": "low", "x_crop": [0, 0, 8, 8]}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                        "extra_content": {"google": {"thought_signature": "c2ln"}},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny", "x_latency_ms": 12},
            {"role": "user", "content": "and tomorrow?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "the weather in a city",
                    "parameters": {**SCHEMA, "additionalProperties": False},
                    "strict": True,
                    "x_examples": [{"city": "Oslo"}],
                },
                "x_tool_meta": {"owner": "search"},
            }
        ],
        "tool_choice": "auto",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True, "x_hint": "short"},
        },
        "prompt_cache_key": f"pk-{marker}",
        "metadata": {"marker": marker},
        "max_tokens": 50,
    }


def send(org: Org, fake: FakeServer, model: str, body: dict[str, Any], marker: str) -> dict[str, Any]:
    """POST the body to the gateway; what the upstream received for it."""
    sent = copy.deepcopy(body)
    response = httpx.post(
        f"{org.stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {org.api_key()}"},
        json={**body, "model": model},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert body == sent
    received = [r for r in fake.requests() if marker in json.dumps(r.get("body"))]
    assert len(received) == 1, received
    upstream: dict[str, Any] = received[0]["body"]  # type: ignore[assignment]
    return upstream


def test_an_openai_target_receives_every_nested_field_the_client_sent(cp_org: Org, fake: FakeServer) -> None:
    """Unknown keys in messages, content parts, tool calls, tools and `response_format` reach OpenAI
    untouched; the model is the target's and `max_tokens` goes as OpenAI's `max_completion_tokens`."""
    marker = secrets.token_hex(6)
    body = tool_turns(marker)
    received = send(
        cp_org, fake, "@cp-openai/gpt-4o-mini", {**body, "models": ["@cp-groq/llama-3.3-70b-versatile"]}, marker
    )
    expected = {k: v for k, v in body.items() if k != "max_tokens"}
    assert received == {**expected, "model": "gpt-4o-mini", "max_completion_tokens": 50}


def test_a_streamed_request_keeps_the_clients_stream_options_and_asks_for_usage(cp_org: Org, fake: FakeServer) -> None:
    marker = secrets.token_hex(6)
    body = {**tool_turns(marker), "stream": True, "stream_options": {"include_usage": False, "x_opt": {"k": 1}}}
    response_body = {**body, "model": "@cp-openai/gpt-4o-mini"}
    with httpx.stream(
        "POST",
        f"{cp_org.stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {cp_org.api_key()}"},
        json=response_body,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data:")]
    assert events[-1] == "data: [DONE]"
    assert all('"usage"' not in e for e in events)  # the client said include_usage: false
    received = next(r["body"] for r in fake.requests() if marker in json.dumps(r.get("body")))
    expected = {k: v for k, v in body.items() if k != "max_tokens"}
    assert received == {
        **expected,
        "model": "gpt-4o-mini",
        "max_completion_tokens": 50,
        "stream_options": {"include_usage": True, "x_opt": {"k": 1}},
    }


def test_groq_gets_the_nested_fields_with_only_its_quirks_applied(cp_org: Org, fake: FakeServer) -> None:
    """Groq refuses `name` on messages and `logprobs`, and calls the default tier `on_demand`:
    those change, every other nested field arrives as sent."""
    marker = secrets.token_hex(6)
    body = tool_turns(marker)
    body["messages"][1]["name"] = "ann"
    received = send(
        cp_org,
        fake,
        "@cp-groq/llama-3.3-70b-versatile",
        {**body, "logprobs": True, "service_tier": "default"},
        marker,
    )
    expected = copy.deepcopy(body)
    del expected["messages"][1]["name"]
    assert received == {**expected, "model": "llama-3.3-70b-versatile", "service_tier": "on_demand"}


def test_perplexity_gets_merged_turns_and_no_tools_with_every_other_nested_field_intact(
    cp_org: Org, fake: FakeServer
) -> None:
    marker = secrets.token_hex(6)
    first = {"type": "text", "text": f"news? {marker}", "x_vendor": {"weight": 0.5}}
    body = {
        "messages": [
            {"role": "system", "content": "be brief", "x_trace": {"span": "s1"}},
            {"role": "user", "content": [first]},
            {"role": "user", "content": "today"},
            {"role": "assistant", "content": "which topic?", "x_note": [1, 2]},
            {"role": "user", "content": "science"},
        ],
        "tools": tool_turns(marker)["tools"],
        "web_search_options": {"search_context_size": "low", "user_location": {"country": "NO"}},
    }
    received = send(cp_org, fake, "@cp-pplx/sonar", body, marker)
    assert received == {
        "model": "sonar",
        "messages": [
            body["messages"][0],
            {"role": "user", "content": [first, {"type": "text", "text": "today"}]},
            *body["messages"][3:],
        ],
        "web_search_options": body["web_search_options"],
    }


def test_azure_gets_its_deployment_as_the_model_and_everything_else_as_sent(cp_org: Org, fake: FakeServer) -> None:
    marker = secrets.token_hex(6)
    body = tool_turns(marker)
    received = send(cp_org, fake, "@cp-azure/gpt-4o-mini", body, marker)
    assert received == {**body, "model": "mini-prod"}


@pytest.mark.parametrize("messages", ["hi", [{"role": "user", "content": 42}], [{"content": "no role"}]])
def test_a_malformed_body_is_the_gateways_own_400_and_never_reaches_an_openai_target(
    cp_org: Org, fake: FakeServer, messages: object
) -> None:
    marker = secrets.token_hex(6)
    response = httpx.post(
        f"{cp_org.stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {cp_org.api_key()}"},
        json={"model": "@cp-openai/gpt-4o-mini", "messages": messages, "user": marker},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert not [r for r in fake.requests() if marker in json.dumps(r.get("body"))]
