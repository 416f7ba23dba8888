"""Every chat adapter against the shared fake provider server: same contract, every wire format."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.providers.base import CallOptions, ProviderError
from tests.unit.providers.conftest import (
    CASES,
    FAST,
    KEYS,
    Case,
    chat_input,
    credential_for,
    strict_chunk,
    strict_completion,
    target_for,
    user,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Search a thing",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
]
NO_RETRY_HINT = {"cohere"}  # Cohere documents no retry header and says "try again later"
# gemini-3 models refuse a replayed function call without its thought signature.
WITH_TOOLS = [c for c in CASES if c.adapter != "perplexity"] + [
    Case("google", "gemini-3.5-flash"),
    Case("vertex", "gemini-3.5-flash", {"location": "us-central1"}),
]
ids = [c.id for c in CASES]


def faulty(case: Case, marker: str) -> str:
    return f"{case.model}-fault-{marker}"


async def chat(
    adapters,
    fake,
    service_account,
    case: Case,
    body: dict[str, Any],
    *,
    model: str | None = None,
    key: str | None = None,
    opts: CallOptions = FAST,
):
    """The adapter's answer, its body checked to be a valid `chat.completion` (strictly) and as JSON."""
    result = await adapters[case.adapter].chat(
        chat_input(body), target_for(fake, case, model), credential_for(case, service_account, key), opts
    )
    result.body = strict_completion(result.body)
    return result


async def stream(
    adapters,
    fake,
    service_account,
    case: Case,
    body: dict[str, Any],
    *,
    model: str | None = None,
    opts: CallOptions = FAST,
):
    opened = await adapters[case.adapter].open_stream(
        chat_input({**body, "stream": True}), target_for(fake, case, model), credential_for(case, service_account), opts
    )
    chunks = [strict_chunk(chunk) async for chunk in opened]
    return opened, chunks


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


THOUGHT_TOKENS = {"minimax": 4}  # every MiniMax M2 model thinks first ("thinking about: hi there")


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_plain_answer_comes_back_as_an_openai_completion_with_usage(adapters, fake, service_account, case):
    """Non-streaming: the family's answer becomes a chat.completion; usage is normalised."""
    result = await chat(adapters, fake, service_account, case, user())
    choice = result.body["choices"][0]
    assert result.body["object"] == "chat.completion"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "echo: hi there"
    assert choice["finish_reason"] == "stop"
    produced = 3 + THOUGHT_TOKENS.get(case.adapter, 0)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (
        2,
        produced,
        2 + produced,
    )
    assert result.body["usage"]["total_tokens"] == 2 + produced


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_streamed_answer_is_normalised_chunk_by_chunk(adapters, fake, service_account, case):
    """Streaming: role first, the same text, exactly one finish chunk, no usage chunk, usage at the end."""
    opened, chunks = await stream(adapters, fake, service_account, case, user())
    assert all(c["object"] == "chat.completion.chunk" and c["choices"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert text_of(chunks) == "echo: hi there"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0].get("finish_reason")]
    assert finishes == ["stop"]
    assert all("usage" not in c for c in chunks)
    assert opened.usage is not None
    assert (opened.usage.prompt_tokens, opened.usage.completion_tokens) == (2, 3 + THOUGHT_TOKENS.get(case.adapter, 0))


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_requests_are_authenticated_the_providers_way_and_keep_keys_out_of_urls(
    adapters, fake, service_account, case
):
    """The fake accepted the credential, and no request ever carried a key in its URL."""
    fake.clear_requests()
    await chat(adapters, fake, service_account, case, user())
    recorded = fake.requests(case.family)
    assert recorded
    assert all(r.auth_ok for r in recorded)
    assert not any(r.key_in_url for r in fake.requests())
    for request in fake.requests():
        assert not any(secret in request.path or secret in str(request.query) for secret in fake.state.secrets())


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_rejected_credential_is_upstream_auth_failed_and_never_echoed(
    adapters, fake, service_account, case, caplog
):
    """A wrong key (Vertex: a 401 even after a token refresh) maps to upstream_auth_failed."""
    wrong = "wrong-key-Zx9876543210"
    caplog.set_level(logging.DEBUG)
    model, key = (faulty(case, "401"), None) if case.vertex else (None, wrong)
    with capture_logs() as logs, pytest.raises(ProviderError) as caught:
        await chat(adapters, fake, service_account, case, user(), model=model, key=key)
    assert caught.value.code == "upstream_auth_failed"
    assert caught.value.upstream_status in (400, 401, 403)
    rendered = f"{caught.value.message} {caught.value.headers} {logs} {caplog.text}"
    for secret in (wrong, KEYS[case.family], *fake.state.secrets()):
        assert secret not in rendered


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_rate_limit_is_upstream_rate_limited_with_the_retry_hint(adapters, fake, service_account, case):
    """429 (Gemini RESOURCE_EXHAUSTED) maps to upstream_rate_limited, keeping the retry delay."""
    with pytest.raises(ProviderError) as caught:
        await chat(adapters, fake, service_account, case, user(), model=faulty(case, "429"))
    assert caught.value.code == "upstream_rate_limited"
    assert caught.value.retryable
    if case.family in NO_RETRY_HINT:
        assert caught.value.retry_after is None
    else:
        assert caught.value.retry_after == pytest.approx(1.0)


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_server_failures_map_to_retryable_upstream_codes(adapters, fake, service_account, case):
    """503 is upstream_overloaded; a 500 is upstream_error; both retryable."""
    with pytest.raises(ProviderError) as overloaded:
        await chat(adapters, fake, service_account, case, user(), model=faulty(case, "503"))
    with pytest.raises(ProviderError) as failed:
        await chat(adapters, fake, service_account, case, user(), model=faulty(case, "500-once"))
    assert overloaded.value.code == "upstream_overloaded"
    assert failed.value.code == "upstream_error"
    assert overloaded.value.retryable
    assert failed.value.retryable


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_hung_upstream_is_upstream_timeout_without_a_status(adapters, fake, service_account, case):
    """No answer within the deadline: upstream_timeout, upstream_status 0 (streaming and not)."""
    quick = CallOptions(timeout_s=0.2, first_byte_timeout_s=0.2)
    with pytest.raises(ProviderError) as plain:
        await chat(adapters, fake, service_account, case, user(), model=faulty(case, "hang"), opts=quick)
    with pytest.raises(ProviderError) as streamed:
        await stream(adapters, fake, service_account, case, user(), model=faulty(case, "hang"), opts=quick)
    assert (plain.value.code, plain.value.upstream_status) == ("upstream_timeout", 0)
    assert (streamed.value.code, streamed.value.upstream_status) == ("upstream_timeout", 0)


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_reset_connection_is_upstream_error_without_a_status(adapters, fake, service_account, case):
    """The upstream drops the connection: upstream_error, upstream_status 0."""
    with pytest.raises(ProviderError) as caught:
        await chat(adapters, fake, service_account, case, user(), model=faulty(case, "reset"))
    assert (caught.value.code, caught.value.upstream_status) == ("upstream_error", 0)


@pytest.mark.parametrize("marker", ["cut-3", "no-done", "stall"])
@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_an_interrupted_stream_raises_instead_of_ending_quietly(adapters, fake, service_account, case, marker):
    """Cut connection, missing end marker or a stall after the first bytes: the iterator raises."""
    quick = CallOptions(timeout_s=0.3, first_byte_timeout_s=5.0)
    with pytest.raises(ProviderError) as caught:
        await stream(adapters, fake, service_account, case, user(), model=faulty(case, marker), opts=quick)
    expected = "upstream_timeout" if marker == "stall" else "upstream_error"
    assert caught.value.code == expected


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_an_error_event_inside_a_stream_raises_a_mapped_error(adapters, fake, service_account, case):
    """A mid-stream error event (HTTP status already 200) surfaces as a retryable ProviderError."""
    with pytest.raises(ProviderError) as caught:
        await stream(adapters, fake, service_account, case, user(), model=faulty(case, "midstream-error"))
    assert caught.value.code in {"upstream_error", "upstream_overloaded", "upstream_rate_limited"}


@pytest.mark.parametrize("case", WITH_TOOLS, ids=[c.id for c in WITH_TOOLS])
async def test_a_tool_call_and_its_result_make_a_full_round_trip(adapters, fake, service_account, case):
    """The model calls a tool; the client answers with the result; the model reads it back."""
    first = await chat(adapters, fake, service_account, case, user("please call tool now", tools=TOOLS))
    message = first.body["choices"][0]["message"]
    assert first.body["choices"][0]["finish_reason"] == "tool_calls"
    (call,) = message["tool_calls"]
    assert call["function"]["name"] == "lookup"
    history = [
        {"role": "user", "content": "please call tool now"},
        {"role": "assistant", "content": None, "tool_calls": message["tool_calls"]},
        {"role": "tool", "tool_call_id": call["id"], "content": "found it"},
    ]
    second = await chat(adapters, fake, service_account, case, {"messages": history, "tools": TOOLS})
    answer = second.body["choices"][0]["message"]["content"]
    # Gemini needs an object as the function response: the string arrives as {"result": "found it"}.
    assert answer == ('echo: {"result": "found it"}' if "gemini" in case.model else "echo: found it")


@pytest.mark.parametrize("case", WITH_TOOLS, ids=[c.id for c in WITH_TOOLS])
async def test_streamed_tool_calls_arrive_as_openai_tool_call_deltas(adapters, fake, service_account, case):
    """Tool-call deltas: one start per call (id, name), then argument fragments that parse as JSON."""
    _, chunks = await stream(adapters, fake, service_account, case, user("please call tool now", tools=TOOLS))
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls") or []]
    starts = [tc for tc in calls if tc.get("id")]
    assert [s["function"]["name"] for s in starts] == ["lookup"]
    arguments = "".join(tc["function"].get("arguments") or "" for tc in calls)
    assert arguments.startswith("{")
    assert "please call tool now" in arguments
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0].get("finish_reason")]
    assert finishes == ["tool_calls"]
