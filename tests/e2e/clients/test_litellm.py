"""The LiteLLM SDK on the gateway as an OpenAI-compatible server (`openai/` prefix and `api_base`):
`litellm.completion` for plain, streamed and tool-calling turns, `litellm.responses` for plain and
streamed ones."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.e2e.clients.conftest import CLIENT_TIMEOUT_S, ECHO, OPENAI_MODEL, OPENAI_SLUG, Caller, ClientsOrg

# LiteLLM's own pydantic models warn: `ReadOnly` TypedDict items (on its first stream) and its usage
# object re-serialised in chat-completions shape (on a Responses stream)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"),
    pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather_in",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


@pytest.fixture(scope="module")
def litellm() -> Iterator[ModuleType]:
    """LiteLLM with its bundled model-cost map: on import it would otherwise fetch one from the internet."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        module = importlib.import_module("litellm")
        module.suppress_debug_info = True
        yield module


def through_gateway(caller: Caller, model: str = f"@{OPENAI_SLUG}/{OPENAI_MODEL}") -> dict[str, Any]:
    return {
        "model": f"openai/{model}",
        "api_base": caller.v1,
        "api_key": caller.key,
        "timeout": CLIENT_TIMEOUT_S,
        "num_retries": 0,
    }


def test_litellm_completion_gets_a_plain_answer_through_the_gateway(
    clients_org: ClientsOrg, litellm: ModuleType
) -> None:
    caller = clients_org.caller()
    answer = litellm.completion(messages=[{"role": "user", "content": "hello litellm"}], **through_gateway(caller))
    assert answer.choices[0].message.content == f"{ECHO}hello litellm"
    assert answer.usage.total_tokens > 0
    caller.assert_served_by(OPENAI_SLUG, 1)


def test_litellm_completion_streams_an_answer_through_the_gateway(clients_org: ClientsOrg, litellm: ModuleType) -> None:
    caller = clients_org.caller()
    chunks = list(
        litellm.completion(
            messages=[{"role": "user", "content": "hello stream"}], stream=True, **through_gateway(caller)
        )
    )
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1
    assert "".join(pieces) == f"{ECHO}hello stream"
    caller.assert_served_by(OPENAI_SLUG, 1, streamed=1)


def test_litellm_completion_calls_a_tool_and_answers_with_its_result(
    clients_org: ClientsOrg, litellm: ModuleType
) -> None:
    caller = clients_org.caller()
    messages: list[dict[str, Any]] = [{"role": "user", "content": "please call tool weather_in"}]
    asked = litellm.completion(messages=messages, tools=TOOLS, **through_gateway(caller))
    calls = asked.choices[0].message.tool_calls
    assert asked.choices[0].finish_reason == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("weather_in", {"city": "please call tool weather_in"})
    ]
    messages += [
        asked.choices[0].message.model_dump(),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny in Lisbon"},
    ]
    answer = litellm.completion(messages=messages, tools=TOOLS, **through_gateway(caller))
    assert answer.choices[0].message.content == f"{ECHO}sunny in Lisbon"
    caller.assert_served_by(OPENAI_SLUG, 2)


# `litellm.responses(stream=True)` fakes the stream (one non-streamed call) for a model its cost map
# does not know, such as `@slug/model`: these use the gateway's `provider/model` form instead
KNOWN_NAME = f"openai/{OPENAI_MODEL}"


def test_litellm_responses_gets_a_plain_answer_through_the_gateway(
    clients_org: ClientsOrg, litellm: ModuleType
) -> None:
    caller = clients_org.caller()
    answer = litellm.responses(input="hello responses", **through_gateway(caller, KNOWN_NAME))
    texts = [part.text for item in answer.output if item.type == "message" for part in item.content]
    assert texts == [f"{ECHO}hello responses"]
    caller.assert_served_by(OPENAI_SLUG, 1)


def test_litellm_responses_streams_an_answer_through_the_gateway(clients_org: ClientsOrg, litellm: ModuleType) -> None:
    caller = clients_org.caller()
    events = list(litellm.responses(input="hello stream", stream=True, **through_gateway(caller, KNOWN_NAME)))
    pieces = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(pieces) > 1
    assert "".join(pieces) == f"{ECHO}hello stream"
    caller.assert_served_by(OPENAI_SLUG, 1, streamed=1)
