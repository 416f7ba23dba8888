"""The OpenAI Agents SDK on its default path, the Responses API (`POST /v1/responses`): plain,
streamed and tool-calling runs, passed through to an OpenAI integration and translated for an
Anthropic one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agents import Agent, OpenAIProvider, RunConfig, Runner, function_tool, set_tracing_disabled
from openai import AsyncOpenAI
from openai.types.responses import ResponseTextDeltaEvent

from tests.e2e.clients.conftest import (
    ANTHROPIC_MODEL,
    ANTHROPIC_SLUG,
    CLIENT_TIMEOUT_S,
    ECHO,
    OPENAI_MODEL,
    OPENAI_SLUG,
    Caller,
    ClientsOrg,
)

TARGETS = {"openai": (OPENAI_SLUG, OPENAI_MODEL), "anthropic": (ANTHROPIC_SLUG, ANTHROPIC_MODEL)}


@pytest.fixture(scope="module", autouse=True)
def no_trace_export() -> Iterator[None]:
    """The SDK exports traces to OpenAI by default: never from a test."""
    set_tracing_disabled(disabled=True)
    yield
    set_tracing_disabled(disabled=False)


@function_tool
def weather_in(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def agent_and_config(caller: Caller, target: str, *, tools: bool = False) -> tuple[Agent[None], RunConfig]:
    slug, model = TARGETS[target]
    client = AsyncOpenAI(base_url=caller.v1, api_key=caller.key, max_retries=0, timeout=CLIENT_TIMEOUT_S)
    # the provider's default API is the Responses API: nothing here opts out of it
    config = RunConfig(model_provider=OpenAIProvider(openai_client=client), tracing_disabled=True)
    agent: Agent[None] = Agent(
        name="assistant", instructions="Answer briefly.", model=f"@{slug}/{model}", tools=[weather_in] if tools else []
    )
    return agent, config


@pytest.mark.parametrize("target", sorted(TARGETS))
async def test_an_openai_agents_sdk_run_gets_a_plain_answer_on_the_responses_api(
    clients_org: ClientsOrg, target: str
) -> None:
    caller = clients_org.caller()
    agent, config = agent_and_config(caller, target)
    result = await Runner.run(agent, "hello agents", run_config=config)
    assert result.final_output == f"{ECHO}hello agents"
    assert result.context_wrapper.usage.total_tokens > 0
    caller.assert_served_by(TARGETS[target][0], 1)


@pytest.mark.parametrize("target", sorted(TARGETS))
async def test_an_openai_agents_sdk_run_streams_an_answer_on_the_responses_api(
    clients_org: ClientsOrg, target: str
) -> None:
    caller = clients_org.caller()
    agent, config = agent_and_config(caller, target)
    result = Runner.run_streamed(agent, "hello stream", run_config=config)
    pieces = [
        event.data.delta
        async for event in result.stream_events()
        if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent)
    ]
    assert len(pieces) > 1
    assert "".join(pieces) == f"{ECHO}hello stream"
    assert result.final_output == f"{ECHO}hello stream"
    caller.assert_served_by(TARGETS[target][0], 1, streamed=1)


@pytest.mark.parametrize("target", sorted(TARGETS))
async def test_an_openai_agents_sdk_run_calls_a_tool_and_answers_with_its_result_on_the_responses_api(
    clients_org: ClientsOrg, target: str
) -> None:
    caller = clients_org.caller()
    agent, config = agent_and_config(caller, target, tools=True)
    result = await Runner.run(agent, "please call tool weather_in", run_config=config)
    assert [item.type for item in result.new_items] == [
        "tool_call_item",
        "tool_call_output_item",
        "message_output_item",
    ]
    assert result.final_output == f"{ECHO}sunny in please call tool weather_in"
    caller.assert_served_by(TARGETS[target][0], 2)
