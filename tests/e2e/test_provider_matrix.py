"""Every provider and every custom-host format, through the running gateway, with the SDK a user
would use (issue 14): JSON, stream, and a streamed tool-call round trip (tool call out, tool result
in, answer), each checked for the answer, the usage and the cost in its activity record.

One org holds one integration per target (made once for the module); each case is a few requests.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record

MODELS_JSON = Path(__file__).resolve().parents[2] / "services/catalog/src/catalog/data/models.json"
HOUSE_PRICE = {"input_per_mtok": 3.0, "output_per_mtok": 7.0}


@dataclass(frozen=True)
class Case:
    """One target: an integration of `provider` (on a custom host when `api_format` is set)."""

    provider: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    api_format: str | None = None  # a custom host speaking this format
    host_path: str = ""  # the custom host's path on the fake
    tools: bool = True  # the provider takes `tools`

    @property
    def slug(self) -> str:
        return f"m-{self.api_format}-host" if self.api_format else f"m-{self.provider}"


CASES = {
    case.slug: case
    for case in (
        Case("openai", "gpt-4o-mini"),
        Case("anthropic", "claude-sonnet-4-6"),
        Case("google", "gemini-2.5-flash"),
        Case("vertex", "gemini-2.5-flash", {"location": "us-central1"}),
        Case("azure", "gpt-4o-mini", {"resource_name": "acme-east", "deployments": {"gpt-4o-mini": "mini-prod"}}),
        Case("groq", "llama-3.3-70b-versatile"),
        Case("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        Case("fireworks", "accounts/fireworks/models/gpt-oss-120b"),
        Case("deepinfra", "deepseek-ai/DeepSeek-V3"),
        Case("baseten", "deepseek-ai/DeepSeek-V3.1"),
        Case("nebius", "deepseek-ai/DeepSeek-V3"),
        Case("perplexity", "sonar", tools=False),
        Case("moonshot", "kimi-k2.6"),
        Case("minimax", "MiniMax-M2.7"),
        Case("xai", "grok-4.3"),
        Case("openai", "house-model", api_format="openai", host_path="/openai/v1"),
        Case("anthropic", "house-model", api_format="anthropic", host_path="/anthropic"),
        Case("openai", "house-model", api_format="cohere", host_path="/cohere"),
    )
}
# Vertex also serves Claude (rawPredict / streamRawPredict) under the same integration
VERTEX_CLAUDE = "claude-sonnet-4-6"
KEY_PROVIDER = {"cohere": "cohere"}


def catalog_price(provider: str, model: str) -> dict[str, float]:
    for entry in json.loads(MODELS_JSON.read_text())[provider]:
        if entry["id"] == model:
            return {k: float(entry.get(k, 0.0)) for k in ("input", "cached_input", "output", "per_request")}
    raise AssertionError(f"{provider}/{model} is not in the catalog")


def expected_cost(case: Case, model: str, usage: dict[str, Any]) -> float:
    """What the record must charge: the catalog's list price (or the custom model's), by its usage."""
    if case.api_format:
        price = {"input": HOUSE_PRICE["input_per_mtok"], "output": HOUSE_PRICE["output_per_mtok"], "per_request": 0.0}
        price["cached_input"] = price["input"]
    else:
        price = catalog_price(case.provider, model)
    cached = usage.get("cached_tokens", 0)
    return (
        (usage["prompt_tokens"] - cached) * price["input"]
        + cached * (price["cached_input"] or price["input"])
        + usage["completion_tokens"] * price["output"]
    ) / 1e6 + price["per_request"]


def _credentials(case: Case, fake: FakeServer) -> dict[str, Any]:
    credentials: dict[str, Any] = dict(case.settings)
    if case.provider == "vertex":
        account = httpx.post(f"{fake.root}/__admin/service-accounts/new", timeout=10).json()
        credentials["service_account_json"] = {**account, "token_uri": "https://oauth2.googleapis.com/token"}
        return credentials
    key = f"sk-{case.slug}-{secrets.token_hex(12)}"
    fake.add_key(KEY_PROVIDER.get(case.api_format or "", case.api_format or case.provider), key)
    credentials["api_key"] = key
    return credentials


@pytest.fixture(scope="module")
def matrix(stack: EmbeddedStack, fake: FakeServer) -> tuple[Org, str]:
    org = bootstrap(stack)
    for case in CASES.values():
        body: dict[str, Any] = {
            "provider": case.provider,
            "name": case.slug,
            "slug": case.slug,
            "credentials": _credentials(case, fake),
            "models": {"enabled": [] if case.api_format else [case.model]},
        }
        if case.provider == "vertex":
            body["models"]["enabled"].append(VERTEX_CLAUDE)
        if case.api_format:
            body["custom_host"] = {"base_url": f"{fake.root}{case.host_path}", "api_format": case.api_format}
        created = org.owner.post("/integrations", json=body)
        assert created.status_code == 201, (case.slug, created.text)
        if case.api_format:
            added = org.owner.post(
                f"/integrations/{case.slug}/custom-models", json={"slug": case.model, "pricing": HOUSE_PRICE}
            )
            assert added.status_code == 201, (case.slug, added.text)
    return org, org.api_key()


def _client(org: Org, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{org.stack.gateway_url}/v1", api_key=key, max_retries=0)


def _check_record(org: Org, case: Case, model: str, request_id: str, usage: Any, *, stream: bool) -> dict[str, Any]:
    """The activity record agrees with the answer's usage and charges the price of the model."""
    doc = wait_for_record(org.stack, request_id)
    assert doc["status"] == 200, doc
    assert doc["integration"] == case.slug
    assert doc["stream"] is stream
    assert doc["usage"]["prompt_tokens"] == usage.prompt_tokens
    assert doc["usage"]["completion_tokens"] == usage.completion_tokens
    assert doc["usage"]["total_tokens"] == usage.total_tokens > 0
    assert doc["cost_usd"] == pytest.approx(expected_cost(case, model, doc["usage"]), rel=1e-6, abs=1e-12)
    assert doc["cost_usd"] > 0
    return doc


def _targets() -> list[tuple[str, str]]:
    rows = [(slug, case.model) for slug, case in CASES.items()]
    return [*rows, ("m-vertex", VERTEX_CLAUDE)]


TARGETS = _targets()
IDS = [f"{slug}:{model}" for slug, model in TARGETS]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize(("slug", "model"), TARGETS, ids=IDS)
def test_the_openai_sdk_gets_a_json_answer_with_usage_and_cost_from_every_target(
    matrix: tuple[Org, str], slug: str, model: str
) -> None:
    org, key = matrix
    case = CASES[slug]
    marker = f"json {secrets.token_hex(3)}"
    raw = _client(org, key).chat.completions.with_raw_response.create(
        model=f"@{slug}/{model}", messages=[{"role": "user", "content": marker}]
    )
    answer = raw.parse()
    assert marker in (answer.choices[0].message.content or "")
    assert answer.usage is not None
    _check_record(org, case, model, raw.headers["x-request-id"], answer.usage, stream=False)


def _stream(client: openai.OpenAI, model: str, messages: list[dict[str, Any]], **extra: Any) -> tuple[str, Any]:
    """(request id, the chunks) of one streamed completion with usage."""
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=messages, stream=True, stream_options={"include_usage": True}, **extra
    )
    return raw.headers["x-request-id"], list(raw.parse())


@pytest.mark.parametrize(("slug", "model"), TARGETS, ids=IDS)
def test_the_openai_sdk_gets_a_stream_with_usage_and_cost_from_every_target(
    matrix: tuple[Org, str], slug: str, model: str
) -> None:
    org, key = matrix
    case = CASES[slug]
    marker = f"stream {secrets.token_hex(3)}"
    request_id, chunks = _stream(_client(org, key), f"@{slug}/{model}", [{"role": "user", "content": marker}])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert marker in text
    assert chunks[-1].usage is not None
    doc = _check_record(org, case, model, request_id, chunks[-1].usage, stream=True)
    assert doc["stream_outcome"] == "complete"


def _tool_calls(chunks: list[Any]) -> list[dict[str, str]]:
    """The streamed tool calls, their fragments joined."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                if delta.function is not None:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
    return [calls[i] for i in sorted(calls)]


@pytest.mark.parametrize(("slug", "model"), TARGETS, ids=IDS)
def test_a_streamed_tool_call_round_trip_works_with_every_target(
    matrix: tuple[Org, str], slug: str, model: str
) -> None:
    """The model calls the tool (streamed), the tool's result goes back, the model answers with it.
    A provider without tools (Perplexity) gets the same conversation folded into text it accepts."""
    org, key = matrix
    case = CASES[slug]
    client = _client(org, key)
    ask = {"role": "user", "content": "call tool get_weather for Paris"}
    request_id, chunks = _stream(client, f"@{slug}/{model}", [ask], tools=[WEATHER])
    calls = _tool_calls(chunks)
    _check_record(org, case, model, request_id, chunks[-1].usage, stream=True)
    if case.tools:
        assert [c["name"] for c in calls] == ["get_weather"]
        assert json.loads(calls[0]["arguments"]) == {"city": ask["content"]}
        assert chunks[-2].choices[0].finish_reason == "tool_calls" or any(
            ch.choices and ch.choices[0].finish_reason == "tool_calls" for ch in chunks
        )
    else:
        assert calls == []
        calls = [{"id": "call_earlier1", "name": "get_weather", "arguments": '{"city": "Paris"}'}]
    result = f"sunny {secrets.token_hex(3)}"
    history = [
        ask,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls
            ],
        },
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": result},
    ]
    request_id, chunks = _stream(client, f"@{slug}/{model}", history, tools=[WEATHER])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert result in text
    assert _tool_calls(chunks) == []
    _check_record(org, case, model, request_id, chunks[-1].usage, stream=True)


# --- /v1/messages with the anthropic SDK: one provider of each wire family ----------------------------
MESSAGES_FAMILIES = ["m-together", "m-anthropic", "m-google", "m-cohere-host"]


@pytest.mark.parametrize("slug", MESSAGES_FAMILIES)
def test_the_anthropic_sdk_gets_answers_from_each_wire_family_with_usage_and_cost(
    matrix: tuple[Org, str], slug: str
) -> None:
    org, key = matrix
    case = CASES[slug]
    client = anthropic.Anthropic(base_url=org.stack.gateway_url, api_key=key, max_retries=0)
    model = f"@{slug}/{case.model}"
    marker = f"messages {secrets.token_hex(3)}"
    raw = client.messages.with_raw_response.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": marker}]
    )
    message = raw.parse()
    assert marker in "".join(b.text for b in message.content if b.type == "text")
    doc = wait_for_record(org.stack, raw.headers["x-request-id"])
    assert doc["usage"]["completion_tokens"] == message.usage.output_tokens > 0
    assert doc["cost_usd"] == pytest.approx(expected_cost(case, case.model, doc["usage"]), rel=1e-6)
    marker = f"events {secrets.token_hex(3)}"
    with client.messages.stream(model=model, max_tokens=64, messages=[{"role": "user", "content": marker}]) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["x-request-id"]
    assert marker in streamed
    doc = wait_for_record(org.stack, request_id)
    assert doc["usage"]["completion_tokens"] == final.usage.output_tokens > 0
    assert doc["cost_usd"] == pytest.approx(expected_cost(case, case.model, doc["usage"]), rel=1e-6)
