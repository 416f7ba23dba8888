"""What the gateway sends to OpenAI-format upstreams validates against OpenAI's own OpenAPI spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.wire.openai import ChatCompletion, ChatRequest
from tests.conftest import FakeServer, Org

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "openai-openapi.yaml"


@pytest.fixture(scope="module")
def chat_request_validator() -> jsonschema.protocols.Validator:
    if not SPEC.exists():
        pytest.skip("the team handbook's openai-openapi.yaml is not beside the checkout")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:openai", resource)
    schema = {"$ref": "urn:openai#/components/schemas/CreateChatCompletionRequest"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "/v1/chat/completions",
        "plain",
        {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]},
    ),
    ("/v1/chat/completions", "stream", {"messages": [{"role": "user", "content": "hi"}], "stream": True}),
    (
        "/v1/chat/completions",
        "tools",
        {
            "messages": [{"role": "user", "content": "weather?"}],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "weather",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    },
                }
            ],
            "tool_choice": "auto",
        },
    ),
    (
        "/v1/chat/completions",
        "json-mode",
        {
            "messages": [{"role": "user", "content": "json"}],
            "response_format": {"type": "json_object"},
            "stop": ["\n\n"],
            "temperature": 0.2,
        },
    ),
    (
        "/v1/chat/completions",
        "image",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    ],
                }
            ]
        },
    ),
    (
        "/v1/messages",
        "anthropic-in",
        {
            "max_tokens": 50,
            "system": "be brief",
            "stop_sequences": ["END"],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
            ],
            "tools": [
                {"name": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
            ],
        },
    ),
]


@pytest.mark.parametrize(("path", "name", "body"), REQUESTS, ids=[r[1] for r in REQUESTS])
def test_requests_sent_to_openai_upstreams_match_openais_schema(
    org: Org,
    fake: FakeServer,
    chat_request_validator: jsonschema.protocols.Validator,
    path: str,
    name: str,
    body: dict[str, Any],
) -> None:
    """The body the fake OpenAI received for each kind of client request is a valid CreateChatCompletionRequest."""
    key = org.api_key()
    marker = f"schema-{name}"
    httpx.delete(f"{fake.root}/__admin/requests", timeout=10)
    response = httpx.post(
        f"{org.stack.gateway_url}{path}",
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
        json={**body, "model": "@openai-main/gpt-4o-mini"},
    )
    assert response.status_code == 200, (marker, response.text)
    sent = [
        r for r in fake.requests() if r.get("provider") == "openai" and r.get("path", "").endswith("/chat/completions")
    ]
    assert sent, "the upstream received nothing"
    errors = sorted(chat_request_validator.iter_errors(sent[-1]["body"]), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message[:200]}" for e in errors]
    ChatRequest.from_json(sent[-1]["body"])  # and it is one of the gateway's own typed requests, strictly
    if path == "/v1/chat/completions" and not body.get("stream"):
        ChatCompletion.from_json(response.json())  # the answer decodes strictly as a typed completion


def test_request_fields_the_gateway_does_not_type_reach_openai_upstreams_untouched(org: Org, fake: FakeServer) -> None:
    """Unknown top-level fields (and explicit nulls) go to an OpenAI-format upstream exactly as sent;
    the gateway's own `models` list does not."""
    extras: dict[str, Any] = {
        "metadata": {"team": "search", "nested": {"a": [1, 2.5, None]}},
        "store": False,
        "service_tier": "flex",
        "prediction": {"type": "content", "content": "hello"},
        "x_vendor_flag": {"deep": True},
        "seed": None,
    }
    httpx.delete(f"{fake.root}/__admin/requests", timeout=10)
    response = httpx.post(
        f"{org.stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {org.api_key()}"},
        timeout=30,
        json={
            "model": "@openai-main/gpt-4o-mini",
            "models": ["@openai-main/gpt-4o-mini"],
            "messages": [{"role": "user", "content": "hi"}],
            **extras,
        },
    )
    assert response.status_code == 200, response.text
    sent = [r for r in fake.requests() if r.get("provider") == "openai"][-1]["body"]
    assert {k: sent.get(k, "absent") for k in extras} == extras
    assert "models" not in sent
