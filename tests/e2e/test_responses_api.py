"""`POST /v1/responses` with the official `openai` SDK (issue 18): passed through to OpenAI, and
translated to chat completions for Anthropic and Groq, plain, streamed, function calling,
`previous_response_id` and structured output; usage and cost in the activity record."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import openai
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record

TARGETS = {
    "openai": "gpt-4o-mini",  # pass-through to `/responses`
    "anthropic": "claude-sonnet-4-6",  # translated to Messages
    "groq": "llama-3.3-70b-versatile",  # translated to OpenAI-format chat completions
    "xai": "grok-4.3",  # pass-through to `/responses`
}
UPSTREAM_PATH = {
    "openai": "/openai/v1/responses",
    "anthropic": "/anthropic/v1/messages",
    "groq": "/chat/completions",
    "xai": "/xai/v1/responses",
}
PASSED = ("openai", "xai")
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
STREAM_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.fixture(scope="module")
def world(stack: EmbeddedStack, fake: FakeServer) -> tuple[Org, str]:
    org = bootstrap(stack)
    for provider, model in TARGETS.items():
        key = f"sk-{provider}-{secrets.token_hex(12)}"
        fake.add_key(provider, key)
        created = org.owner.post(
            "/integrations",
            json={
                "provider": provider,
                "name": provider,
                "slug": f"{provider}-r",
                "credentials": {"api_key": key},
                "models": {"enabled": [model]},
            },
        )
        assert created.status_code == 201, created.text
    return org, org.api_key()


def _client(org: Org, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{org.stack.gateway_url}/v1", api_key=key, max_retries=0)


def _model(provider: str) -> str:
    return f"@{provider}-r/{TARGETS[provider]}"


def _last_upstream(fake: FakeServer, provider: str) -> dict[str, Any]:
    seen = [
        r for r in fake.requests() if r["provider"] == provider and str(r["path"]).endswith(UPSTREAM_PATH[provider])
    ]
    assert seen, f"{provider} saw no {UPSTREAM_PATH[provider]} request"
    body = seen[-1]["body"]
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("provider", sorted(TARGETS))
def test_a_response_is_created_through_every_kind_of_target_and_recorded_with_usage_and_cost(
    world: tuple[Org, str], fake: FakeServer, provider: str
) -> None:
    org, key = world
    raw = _client(org, key).responses.with_raw_response.create(
        model=_model(provider), input="hello responses", instructions="Answer briefly.", metadata={"ticket": "7"}
    )
    response = raw.parse()
    assert "hello responses" in response.output_text
    assert response.status == "completed"
    assert response.metadata == {"ticket": "7"}
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens > 0
    upstream = _last_upstream(fake, provider)
    assert upstream["model"] == TARGETS[provider]
    if provider in PASSED:  # pass-through: the request as sent, only model (and key) changed
        assert upstream["input"] == "hello responses"
        assert upstream["instructions"] == "Answer briefly."
        assert upstream["metadata"] == {"ticket": "7"}
    record = wait_for_record(org.stack, raw.headers["x-request-id"])
    assert record["endpoint"] == "responses"
    assert record["integration"] == f"{provider}-r"
    assert record["usage"]["total_tokens"] == response.usage.total_tokens
    assert record["cost_usd"] > 0


@pytest.mark.parametrize("provider", sorted(TARGETS))
def test_a_streamed_response_sends_the_documented_events_in_sequence(world: tuple[Org, str], provider: str) -> None:
    org, key = world
    with _client(org, key).responses.stream(model=_model(provider), input="hello stream") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert [k for k in STREAM_EVENTS if k in kinds] == STREAM_EVENTS
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert "hello stream" in final.output_text
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == final.output_text
    assert final.usage is not None
    assert final.usage.total_tokens > 0


@pytest.mark.parametrize("provider", sorted(TARGETS))
def test_a_function_call_round_trip_works_with_the_items_sent_back(world: tuple[Org, str], provider: str) -> None:
    org, key = world
    client = _client(org, key)
    first = client.responses.create(model=_model(provider), input="call tool for Paris", tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert "Paris" in json.loads(calls[0].arguments)["city"]
    history: list[Any] = [{"role": "user", "content": "call tool for Paris"}, *first.output]
    history.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny and 21C"})
    second = client.responses.create(model=_model(provider), input=history, tools=[WEATHER])
    assert "sunny and 21C" in second.output_text


@pytest.mark.parametrize("provider", sorted(TARGETS))
def test_previous_response_id_continues_a_conversation_and_a_function_call(
    world: tuple[Org, str], fake: FakeServer, provider: str
) -> None:
    org, key = world
    client = _client(org, key)
    first = client.responses.create(model=_model(provider), input="my name is Ada", tools=[WEATHER])
    second = client.responses.create(
        model=_model(provider), previous_response_id=first.id, input="call tool for Rome", tools=[WEATHER]
    )
    assert second.previous_response_id == first.id
    upstream = json.dumps(_last_upstream(fake, provider))
    assert "my name is Ada" in upstream  # the gateway sent the stored context along
    assert "previous_response_id" not in _last_upstream(fake, provider)
    call = next(item for item in second.output if item.type == "function_call")
    with client.responses.stream(
        model=_model(provider),
        previous_response_id=second.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}],
        tools=[WEATHER],
    ) as stream:
        third = stream.get_final_response()
    assert "rainy" in third.output_text
    fourth = client.responses.create(model=_model(provider), previous_response_id=third.id, input="and now?")
    assert "and now?" in fourth.output_text
    kept = httpx.get(
        f"{org.stack.gateway_url}/v1/responses/{fourth.id}", headers={"authorization": f"Bearer {key}"}, timeout=10
    )
    assert kept.status_code == 200
    assert kept.json()["id"] == fourth.id


@pytest.mark.parametrize("provider", sorted(TARGETS))
def test_structured_output_with_a_json_schema_reaches_the_upstream(
    world: tuple[Org, str], fake: FakeServer, provider: str
) -> None:
    org, key = world
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response = _client(org, key).responses.create(
        model=_model(provider),
        input="Lisbon",
        text={"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}},
    )
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "json_schema"
    upstream = _last_upstream(fake, provider)
    if provider in PASSED:
        assert upstream["text"]["format"]["schema"] == schema
        assert json.loads(response.output_text) == {"city": "echo: Lisbon"}
    elif provider == "groq":
        assert upstream["response_format"]["json_schema"]["schema"] == schema
    else:
        assert "Lisbon" in response.output_text


def test_a_response_that_is_not_stored_cannot_be_continued(world: tuple[Org, str]) -> None:
    org, key = world
    client = _client(org, key)
    first = client.responses.create(model=_model("anthropic"), input="forget me", store=False)
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=_model("anthropic"), previous_response_id=first.id, input="again")
    assert refused.value.body["param"] == "previous_response_id"  # type: ignore[index]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"background": True}, "background"),
        ({"conversation": "conv_123"}, "conversation"),
        ({"previous_response_id": "resp_unknown"}, "previous_response_id"),
        ({"include": ["message.output_text.logprobs"]}, "include"),
    ],
)
def test_what_cannot_be_honoured_is_refused_naming_the_field(
    world: tuple[Org, str], extra: dict[str, Any], param: str
) -> None:
    org, key = world
    answer = httpx.post(
        f"{org.stack.gateway_url}/v1/responses",
        headers={"authorization": f"Bearer {key}"},
        json={"model": _model("anthropic"), "input": "hi", **extra},
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param
    assert answer.json()["error"]["code"] == "invalid_request"


def _custom_model(org: Org, provider: str, name: str) -> str:
    created = org.owner.post(f"/integrations/{provider}-r/custom-models", json={"slug": name})
    assert created.status_code in (201, 409), created.text
    return f"@{provider}-r/{name}"


def _events(org: Org, key: str, body: dict[str, Any]) -> tuple[httpx.Response, list[dict[str, Any]]]:
    with httpx.stream(
        "POST",
        f"{org.stack.gateway_url}/v1/responses",
        headers={"authorization": f"Bearer {key}"},
        json={**body, "stream": True},
        timeout=30,
    ) as response:
        text = response.read().decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    return response, events


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_failure_after_the_first_event_ends_the_stream_with_response_failed(
    world: tuple[Org, str], provider: str
) -> None:
    org, key = world
    model = _custom_model(org, provider, f"{provider}-fault-midstream-error")
    response, events = _events(org, key, {"model": model, "input": "hello there friend"})
    assert response.status_code == 200
    kinds = [event["type"] for event in events]
    assert kinds[0] == "response.created"
    assert kinds[-2:] == ["response.failed", "error"]
    assert "response.completed" not in kinds
    assert events[-2]["response"]["status"] == "failed"
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    record = wait_for_record(org.stack, response.headers["x-request-id"])
    assert record["stream_outcome"] == "upstream_error"


def test_a_failing_responses_target_fails_over_to_a_translated_one(world: tuple[Org, str], fake: FakeServer) -> None:
    org, key = world
    failing = _custom_model(org, "openai", "gpt-fault-503")
    body = {"model": failing, "models": [_model("anthropic")], "input": "fail over please"}
    response, events = _events(org, key, body)
    assert response.status_code == 200
    assert response.headers["x-keyrelay-integration"] == "anthropic-r"
    assert events[-1]["type"] == "response.completed"
    assert "fail over please" in events[-1]["response"]["output"][0]["content"][0]["text"]
    record = wait_for_record(org.stack, response.headers["x-request-id"])
    assert [a["integration"] for a in record["attempts"]][-1] == "anthropic-r"
    assert record["attempts"][0]["integration"] == "openai-r"


def test_built_in_tools_pass_through_to_openai_and_are_refused_where_they_would_be_lost(
    world: tuple[Org, str], fake: FakeServer
) -> None:
    org, key = world
    client = _client(org, key)
    tools: list[Any] = [{"type": "web_search"}]
    answer = client.responses.create(model=_model("openai"), input="news today", tools=tools)
    assert "news today" in answer.output_text
    assert _last_upstream(fake, "openai")["tools"] == tools
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=_model("groq"), input="news today", tools=tools)
    assert refused.value.body["param"] == "tools"  # type: ignore[index]
