"""LangChain chat models on the gateway: `ChatOpenAI` on /v1/chat/completions (and on /v1/responses
with `use_responses_api`), `ChatAnthropic` on /v1/messages; plain, streamed and tool-calling turns."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

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


@tool
def weather_in(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def chat_openai(caller: Caller) -> BaseChatModel:
    return ChatOpenAI(
        model=f"@{OPENAI_SLUG}/{OPENAI_MODEL}",
        base_url=caller.v1,
        api_key=caller.key,  # type: ignore[arg-type]
        max_retries=0,
        timeout=CLIENT_TIMEOUT_S,
        stream_usage=True,
    )


def chat_openai_responses(caller: Caller) -> BaseChatModel:
    return ChatOpenAI(
        model=f"@{OPENAI_SLUG}/{OPENAI_MODEL}",
        base_url=caller.v1,
        api_key=caller.key,  # type: ignore[arg-type]
        max_retries=0,
        timeout=CLIENT_TIMEOUT_S,
        use_responses_api=True,
    )


def chat_anthropic(caller: Caller) -> BaseChatModel:
    return ChatAnthropic(  # type: ignore[call-arg]
        model=f"@{ANTHROPIC_SLUG}/{ANTHROPIC_MODEL}",
        base_url=caller.stack.gateway_url,
        api_key=caller.key,  # type: ignore[arg-type]
        max_retries=0,
        timeout=CLIENT_TIMEOUT_S,
    )


MODELS: dict[str, tuple[Callable[[Caller], BaseChatModel], str]] = {
    "ChatOpenAI": (chat_openai, OPENAI_SLUG),
    "ChatAnthropic": (chat_anthropic, ANTHROPIC_SLUG),
    "ChatOpenAI-responses": (chat_openai_responses, OPENAI_SLUG),
}
KINDS = [
    "ChatOpenAI",
    "ChatAnthropic",
    "ChatOpenAI-responses",
]


def text_of(message: BaseMessage) -> str:
    return str(message.text)


@pytest.mark.parametrize("kind", KINDS)
def test_a_langchain_chat_model_gets_a_plain_answer_through_the_gateway(clients_org: ClientsOrg, kind: str) -> None:
    caller = clients_org.caller()
    build, slug = MODELS[kind]
    answer = build(caller).invoke("hello langchain")
    assert text_of(answer) == f"{ECHO}hello langchain"
    caller.assert_served_by(slug, 1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_langchain_chat_model_streams_an_answer_through_the_gateway(clients_org: ClientsOrg, kind: str) -> None:
    caller = clients_org.caller()
    build, slug = MODELS[kind]
    chunks = list(build(caller).stream("hello stream"))
    pieces = [text_of(c) for c in chunks if text_of(c)]
    assert len(pieces) > 1
    assert "".join(pieces) == f"{ECHO}hello stream"
    caller.assert_served_by(slug, 1, streamed=1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_langchain_chat_model_calls_a_tool_and_answers_with_its_result(clients_org: ClientsOrg, kind: str) -> None:
    caller = clients_org.caller()
    build, slug = MODELS[kind]
    model = build(caller).bind_tools([weather_in])
    messages: list[BaseMessage] = [HumanMessage("please call tool weather_in")]
    asked = model.invoke(messages)
    assert isinstance(asked, AIMessage)
    assert [(c["name"], c["args"]) for c in asked.tool_calls] == [
        ("weather_in", {"city": "please call tool weather_in"})
    ]
    call = asked.tool_calls[0]
    messages += [asked, ToolMessage(weather_in.invoke(call["args"]), tool_call_id=call["id"])]
    answer = model.invoke(messages)
    assert text_of(answer) == f"{ECHO}sunny in please call tool weather_in"
    caller.assert_served_by(slug, 2)
