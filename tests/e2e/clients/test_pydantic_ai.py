"""pydantic-ai agents on the gateway: its OpenAI chat model on /v1/chat/completions, its Anthropic
model on /v1/messages and its OpenAI Responses model on /v1/responses; plain, streamed and
tool-calling turns, answered by the fake providers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

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


def chat_model(caller: Caller) -> Model:
    client = AsyncOpenAI(base_url=caller.v1, api_key=caller.key, max_retries=0, timeout=CLIENT_TIMEOUT_S)
    return OpenAIChatModel(f"@{OPENAI_SLUG}/{OPENAI_MODEL}", provider=OpenAIProvider(openai_client=client))


def responses_model(caller: Caller) -> Model:
    client = AsyncOpenAI(base_url=caller.v1, api_key=caller.key, max_retries=0, timeout=CLIENT_TIMEOUT_S)
    return OpenAIResponsesModel(f"@{OPENAI_SLUG}/{OPENAI_MODEL}", provider=OpenAIProvider(openai_client=client))


def anthropic_model(caller: Caller) -> Model:
    client = AsyncAnthropic(
        base_url=caller.stack.gateway_url, api_key=caller.key, max_retries=0, timeout=CLIENT_TIMEOUT_S
    )
    return AnthropicModel(f"@{ANTHROPIC_SLUG}/{ANTHROPIC_MODEL}", provider=AnthropicProvider(anthropic_client=client))


MODELS: dict[str, tuple[Callable[[Caller], Model], str]] = {
    "openai-chat": (chat_model, OPENAI_SLUG),
    "anthropic": (anthropic_model, ANTHROPIC_SLUG),
    "openai-responses": (responses_model, OPENAI_SLUG),
}
KINDS = [
    "openai-chat",
    "anthropic",
    "openai-responses",
]


def agent_with_tool(model: Model, calls: list[str]) -> Agent[None, str]:
    agent: Agent[None, str] = Agent(model)

    @agent.tool_plain
    def weather_in(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    return agent


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pydantic_ai_agent_gets_a_plain_answer_through_the_gateway(clients_org: ClientsOrg, kind: str) -> None:
    caller = clients_org.caller()
    build, slug = MODELS[kind]
    result = await Agent(build(caller)).run("hello pydantic")
    assert result.output == f"{ECHO}hello pydantic"
    caller.assert_served_by(slug, 1)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pydantic_ai_agent_streams_an_answer_through_the_gateway(clients_org: ClientsOrg, kind: str) -> None:
    caller = clients_org.caller()
    build, slug = MODELS[kind]
    async with Agent(build(caller)).run_stream("hello stream") as stream:
        pieces = [piece async for piece in stream.stream_text(delta=True, debounce_by=None)]
    assert len(pieces) > 1
    assert "".join(pieces) == f"{ECHO}hello stream"
    caller.assert_served_by(slug, 1, streamed=1)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pydantic_ai_agent_calls_a_tool_and_answers_with_its_result(clients_org: ClientsOrg, kind: str) -> None:
    caller = clients_org.caller()
    build, slug = MODELS[kind]
    calls: list[str] = []
    result = await agent_with_tool(build(caller), calls).run("please call tool weather_in")
    assert calls == ["please call tool weather_in"]
    assert result.output == f"{ECHO}sunny in please call tool weather_in"
    caller.assert_served_by(slug, 2)
