"""The fake OpenAI and Anthropic families, the generic faults, recording and the entry points."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import aiohttp
import anthropic
import httpx
import openai
import pytest

from tests.fakes.providers import run_in_thread
from tests.fakes.providers.faults import FaultKind, parse_faults
from tests.fakes.providers.sse import awkward_writes
from tests.unit.fakes.conftest import KEYS, json_events, parse_sse

USER = [{"role": "user", "content": "héllo wörld 日本"}]
TOOLS = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {}}}}},
    {"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}},
]
CLAUDE_TOOL = [{"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]


def oai(providers, key=KEYS["openai"]) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=providers.base_urls()["openai"], max_retries=0)


def claude(providers, key=KEYS["anthropic"]) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key=key, base_url=providers.base_urls()["anthropic"], max_retries=0)


async def openai_raw(http, providers, model, **extra):
    url = providers.base_urls()["openai"] + "/chat/completions"
    body = {"model": model, "messages": USER, **extra}
    return await http.post(url, json=body, headers={"authorization": f"Bearer {KEYS['openai']}"})


# --- OpenAI ---------------------------------------------------------------------------------------


async def test_openai_sdk_gets_an_echo_of_the_last_user_message_with_word_count_usage(providers):
    """The answer echoes the user text; usage counts words."""
    result = await oai(providers).chat.completions.create(model="gpt-5.4-mini", messages=USER)
    assert result.choices[0].message.content == "echo: héllo wörld 日本"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (3, 4)
    assert result.choices[0].finish_reason == "stop"


async def test_openai_sdk_with_a_wrong_key_gets_401_invalid_api_key(providers):
    """A key the fake does not know is refused the way OpenAI refuses it."""
    with pytest.raises(openai.AuthenticationError) as caught:
        await oai(providers, key="sk-wrong").chat.completions.create(model="gpt-5.4-mini", messages=USER)
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    assert providers.requests("openai")[-1].auth_ok is False


async def test_openai_without_a_key_gets_401_with_a_null_code(providers, http):
    """No Authorization header: 401 and OpenAI's 'You didn't provide an API key' body."""
    async with http.post(providers.base_urls()["openai"] + "/chat/completions", json={}) as resp:
        body = await resp.json()
    assert resp.status == 401
    assert body["error"]["code"] is None
    assert "didn't provide an API key" in body["error"]["message"]


async def test_openai_sdk_streams_text_then_a_usage_chunk_when_asked(providers):
    """Role chunk, content chunks, finish chunk, then `choices: []` with usage."""
    stream = await oai(providers).chat.completions.create(
        model="gpt-5.4-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: héllo wörld 日本"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == 7


async def test_openai_stream_ends_with_done_and_has_no_usage_chunk_unless_asked(providers, http):
    """Without include_usage there is no usage anywhere; the last event is [DONE]."""
    async with await openai_raw(http, providers, "gpt-5.4-mini", stream=True) as resp:
        text = await resp.text()
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(text)
    assert events[-1] == (None, "[DONE]")
    assert all("usage" not in chunk for chunk in json_events(text))
    assert ": keep-alive" in text


async def test_openai_sse_writes_are_split_inside_utf8_sequences_and_lines(providers, http):
    """The stream reaches the client in pieces cut mid-line and mid-character."""
    async with await openai_raw(http, providers, "gpt-5.4-mini", stream=True) as resp:
        pieces = [piece async for piece in resp.content.iter_any()]
    assert len(pieces) > 3
    assert any(not piece.endswith(b"\n\n") for piece in pieces)
    assert any(not is_utf8(piece) for piece in pieces)
    assert is_utf8(b"".join(pieces))


def is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def test_awkward_writes_cut_inside_multibyte_characters():
    """A serialized event with non-ASCII text is cut between a lead and a continuation byte."""
    writes = awkward_writes(["data: é\n\n".encode(), b"data: x\n\n"])
    assert b"".join(writes) == "data: é\n\ndata: x\n\n".encode()
    with pytest.raises(UnicodeDecodeError):
        writes[0].decode()


async def test_openai_sdk_streams_interleaved_tool_call_fragments_when_asked_to_call_tools(providers):
    """'call tools' with two tools: two calls whose argument fragments interleave by index."""
    stream = await oai(providers).chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "please call tools"}], tools=TOOLS, stream=True
    )
    calls: dict[int, dict[str, str]] = {}
    order = []
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
            entry["name"] += call.function.name or ""
            entry["arguments"] += call.function.arguments or ""
            order.append(call.index)
        finish = chunk.choices[0].finish_reason
    assert finish == "tool_calls"
    assert calls == {
        0: {"name": "lookup", "arguments": '{"q": "please call tools"}'},
        1: {"name": "weather", "arguments": "{}"},
    }
    assert order[:4] == [0, 1, 0, 1]


async def test_the_fake_calls_the_tool_the_user_text_names_rather_than_the_first_one(providers):
    """Clients such as Claude Code declare placeholder tools first: 'call tool weather' calls `weather`."""
    result = await oai(providers).chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "please call tool weather"}], tools=TOOLS
    )
    calls = result.choices[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls] == [("weather", "{}")]


async def test_openai_tool_result_turn_gets_a_text_answer(providers):
    """After a tool result the model answers in text instead of calling the tool again."""
    messages = [
        {"role": "user", "content": "call tool"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    result = await oai(providers).chat.completions.create(model="gpt-5.4-mini", messages=messages, tools=TOOLS)
    assert result.choices[0].message.content == "echo: sunny"


async def test_openai_rejects_a_tool_message_without_tool_call_id(providers):
    """Request validation mirrors OpenAI's 400 invalid_request_error."""
    with pytest.raises(openai.BadRequestError):
        await oai(providers).chat.completions.create(model="gpt-5.4-mini", messages=[{"role": "tool", "content": "x"}])


@pytest.mark.parametrize(
    "extra",
    [{"stream_options": {"include_usage": True}}, {"max_tokens": 10}],
)
async def test_openai_refuses_what_openai_refuses(providers, extra):
    """stream_options without stream, and max_tokens on a gpt-5 model, are 400s."""
    with pytest.raises(openai.BadRequestError):
        await oai(providers).chat.completions.create(model="gpt-5.4-mini", messages=USER, **extra)


async def test_openai_embeddings_decode_from_the_sdks_base64_encoding(providers):
    """The SDK asks for base64 floats; the fake encodes them as float32 like OpenAI."""
    result = await oai(providers).embeddings.create(model="text-embedding-3-small", input=["a b", "c"], dimensions=8)
    assert [len(item.embedding) for item in result.data] == [8, 8]
    assert result.usage.prompt_tokens == 3


async def test_openai_images_return_base64_png(providers):
    """Image generation answers with `b64_json` and token usage."""
    result = await oai(providers).images.generate(model="gpt-image-1.5", prompt="a cat")
    assert result.data[0].b64_json.startswith("iVBOR")


async def test_openai_models_lists_known_models(providers):
    """GET /models answers OpenAI's list shape."""
    models = [m.id async for m in oai(providers).models.list()]
    assert "gpt-5.4-mini" in models


# --- faults (through the OpenAI family) -------------------------------------------------------------


def test_fault_markers_combine_in_one_model_name():
    """Several markers in one name are all read, with their parameters."""
    faults = parse_faults("m-fault-slow-ttft-300ms-fault-cut-3-fault-429-noretry")
    assert faults.kinds == {FaultKind.SLOW_TTFT, FaultKind.CUT, FaultKind.RATE_LIMIT_NO_RETRY}
    assert (faults.ttft_s, faults.cut_after) == (0.3, 3)


async def test_fault_429_carries_retry_after_and_rate_limit_headers(providers, http):
    """429 rate_limit_exceeded with retry-after, retry-after-ms and x-ratelimit-*."""
    async with await openai_raw(http, providers, "gpt-fault-429") as resp:
        body = await resp.json()
    assert resp.status == 429
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert resp.headers["retry-after"] == "1"
    assert resp.headers["retry-after-ms"] == "1000"
    assert resp.headers["x-ratelimit-remaining-requests"] == "0"


async def test_fault_429_noretry_has_no_retry_after(providers, http):
    """The no-retry variant omits every retry hint."""
    async with await openai_raw(http, providers, "gpt-fault-429-noretry") as resp:
        assert resp.status == 429
        assert "retry-after" not in resp.headers


async def test_fault_500_once_fails_the_first_call_per_test_id_only(providers, http):
    """First call for an x-test-id gets 500, the next succeeds; another id fails once again."""
    url = providers.base_urls()["openai"] + "/chat/completions"
    body = {"model": "gpt-fault-500-once", "messages": USER}
    statuses = []
    for test_id in ("a", "a", "b"):
        headers = {"authorization": f"Bearer {KEYS['openai']}", "x-test-id": f"once-{test_id}"}
        async with http.post(url, json=body, headers=headers) as resp:
            statuses.append(resp.status)
    assert statuses == [500, 200, 500]


async def test_fault_flap_alternates_failure_and_success(providers, http):
    """fault-flap: 503, 200, 503, 200 ..."""
    statuses = []
    for _ in range(4):
        async with await openai_raw(http, providers, "gpt-fault-flap-x1") as resp:
            statuses.append(resp.status)
    assert statuses == [503, 200, 503, 200]


async def test_fault_401_is_the_familys_auth_rejection(providers):
    """fault-401 refuses even a good key, in the family's shape."""
    with pytest.raises(openai.AuthenticationError):
        await oai(providers).chat.completions.create(model="gpt-fault-401", messages=USER)


async def test_fault_context_length_is_openais_real_error(providers):
    """400 with code context_length_exceeded and param messages."""
    with pytest.raises(openai.BadRequestError) as caught:
        await oai(providers).chat.completions.create(model="gpt-fault-context-length", messages=USER)
    assert caught.value.body["code"] == "context_length_exceeded"


async def test_fault_cut_closes_the_stream_after_n_chunks_without_done(providers, http):
    """fault-cut-2: two data events arrive, then the body breaks off."""
    received = bytearray()
    async with await openai_raw(http, providers, "gpt-fault-cut-2", stream=True) as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            await collect(resp, received)
    assert len(parse_sse(received.decode())) == 2
    assert b"[DONE]" not in received


async def collect(resp: aiohttp.ClientResponse, into: bytearray) -> None:
    async for piece in resp.content.iter_any():
        into += piece


async def test_fault_no_done_ends_the_stream_cleanly_without_the_marker(providers, http):
    """The body ends normally but the [DONE] event never comes."""
    async with await openai_raw(http, providers, "gpt-fault-no-done", stream=True) as resp:
        text = await resp.text()
    assert "[DONE]" not in text
    assert json_events(text)[-1]["choices"][0]["finish_reason"] == "stop"


async def test_fault_malformed_sends_an_unparseable_chunk(providers):
    """The SDK cannot parse the broken event."""
    stream = await oai(providers).chat.completions.create(model="gpt-fault-malformed", messages=USER, stream=True)
    with pytest.raises(ValueError):  # noqa: PT011 - json.JSONDecodeError from the SDK's parser
        async for _ in stream:
            pass


async def test_fault_midstream_error_sends_an_error_event_the_sdk_raises(providers):
    """After a few chunks a `data: {"error": ...}` event arrives."""
    stream = await oai(providers).chat.completions.create(model="gpt-fault-midstream-error", messages=USER, stream=True)
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass


async def test_fault_stall_stops_after_two_chunks_and_keeps_the_connection_open(providers, http):
    """fault-stall: two events, then silence."""
    received = bytearray()
    async with await openai_raw(http, providers, "gpt-fault-stall", stream=True) as resp:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(collect(resp, received), 0.5)
    assert len(parse_sse(received.decode())) == 2


async def test_fault_hang_never_answers(providers, http):
    """fault-hang: no status line within the client's patience."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await openai_raw(http, providers, "gpt-fault-hang")


async def test_fault_reset_drops_the_connection(providers, http):
    """fault-reset: the TCP connection is reset before any response."""
    with pytest.raises(aiohttp.ClientError):
        await openai_raw(http, providers, "gpt-fault-reset")


async def test_fault_slow_ttft_delays_the_first_byte(providers, http):
    """fault-slow-ttft-300ms: headers arrive after about 300 ms."""
    started = time.monotonic()
    async with await openai_raw(http, providers, "gpt-fault-slow-ttft-300ms", stream=True) as resp:
        assert resp.status == 200
        assert time.monotonic() - started >= 0.3
        await resp.read()


# --- Anthropic --------------------------------------------------------------------------------------


async def test_anthropic_sdk_gets_an_echo_message(providers):
    """Messages API answer with text block, end_turn and word-count usage."""
    message = await claude(providers).messages.create(
        model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "hi there"}]
    )
    assert message.content[0].text == "echo: hi there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (2, 3)


async def test_anthropic_sdk_with_a_wrong_key_gets_authentication_error(providers):
    """401 authentication_error, with the request id echoed."""
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await claude(providers, key="sk-ant-wrong").messages.create(
            model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert caught.value.response.headers["request-id"] == caught.value.body["request_id"]


async def test_anthropic_count_tokens_counts_words_and_refuses_max_tokens_like_the_real_api(providers):
    """`count_tokens` answers `{"input_tokens": N}`; a Messages-only field is an extra input."""
    counted = await claude(providers).messages.count_tokens(
        model="claude-sonnet-4-6", system="be brief", messages=[{"role": "user", "content": "count these three"}]
    )
    assert counted.input_tokens == 5
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude(providers).messages.count_tokens(
            model="claude-sonnet-4-6",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"max_tokens": 10},
        )
    assert "max_tokens: Extra inputs are not permitted" in caught.value.body["error"]["message"]


async def post_messages(http, providers, body, headers=None):
    base = {"x-api-key": KEYS["anthropic"], "anthropic-version": "2023-06-01"}
    url = providers.base_urls()["anthropic"] + "/v1/messages"
    return await http.post(url, json=body, headers={**base, **(headers or {})})


@pytest.mark.parametrize(
    ("body", "headers", "needle"),
    [
        ({"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "x"}]}, None, "max_tokens"),
        (
            {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            {"anthropic-version": "latest"},
            "anthropic-version",
        ),
        (
            {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            None,
            "top-level `system`",
        ),
        (
            {
                "model": "claude-sonnet-4-6",
                "max_tokens": 5,
                "temperature": 0.5,
                "top_p": 0.9,
                "messages": [{"role": "user", "content": "x"}],
            },
            None,
            "cannot both be specified",
        ),
        (
            {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}]},
            None,
            "first message",
        ),
    ],
)
async def test_anthropic_rejects_invalid_requests_with_invalid_request_error(providers, http, body, headers, needle):
    """max_tokens, version header, roles and sampling rules are enforced like the real API."""
    async with await post_messages(http, providers, body, headers) as resp:
        error = await resp.json()
    assert resp.status == 400
    assert error["error"]["type"] == "invalid_request_error"
    assert needle in error["error"]["message"]


async def test_anthropic_missing_version_header_is_refused(providers, http):
    """`anthropic-version` is required."""
    url = providers.base_urls()["anthropic"] + "/v1/messages"
    async with http.post(url, json={}, headers={"x-api-key": KEYS["anthropic"]}) as resp:
        assert resp.status == 400
        assert "anthropic-version" in (await resp.json())["error"]["message"]


async def test_anthropic_stream_has_ping_and_cumulative_usage_and_no_done(providers, http):
    """message_start, ping, blocks, message_delta with final output_tokens, message_stop."""
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "stream me"}],
    }
    async with await post_messages(http, providers, body) as resp:
        text = await resp.text()
    names = [name for name, _ in parse_sse(text)]
    assert names[0] == "message_start"
    assert "ping" in names
    assert names[-2:] == ["message_delta", "message_stop"]
    assert "[DONE]" not in text
    delta = json_events(text)[-2]
    assert delta["usage"]["output_tokens"] == 3
    assert delta["delta"]["stop_reason"] == "end_turn"


async def test_anthropic_sdk_stream_assembles_thinking_and_tool_use(providers):
    """Thinking (with signature) and a tool_use whose input arrives as input_json_delta fragments."""
    async with claude(providers).messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=100,
        tools=CLAUDE_TOOL,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "call tool ñ"}],
    ) as stream:
        message = await stream.get_final_message()
    thinking, tool = message.content
    assert thinking.type == "thinking"
    assert thinking.signature
    assert (tool.name, tool.input) == ("lookup", {"q": "call tool ñ"})
    assert message.stop_reason == "tool_use"


async def test_anthropic_tool_result_gets_a_text_answer(providers):
    """A user turn holding tool_result blocks is answered in text."""
    messages = [
        {"role": "user", "content": "call tool"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
    ]
    message = await claude(providers).messages.create(
        model="claude-sonnet-4-6", max_tokens=50, tools=CLAUDE_TOOL, messages=messages
    )
    assert message.content[0].text == "echo: sunny"


async def test_anthropic_529_is_overloaded_error(providers):
    """fault-529: HTTP 529 with overloaded_error."""
    with pytest.raises(anthropic.APIStatusError) as caught:
        await claude(providers).messages.create(
            model="claude-fault-529", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"


async def test_anthropic_429_carries_retry_after_and_rfc3339_resets(providers, http):
    """Rate limits come with retry-after and anthropic-ratelimit-* resets as timestamps."""
    body = {"model": "claude-fault-429", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    async with await post_messages(http, providers, body) as resp:
        assert resp.status == 429
        assert resp.headers["retry-after"] == "1"
        assert resp.headers["anthropic-ratelimit-requests-reset"].endswith("Z")


async def test_anthropic_midstream_error_is_an_error_event(providers):
    """After a few events an `event: error` overloaded arrives; the SDK raises."""
    with pytest.raises(anthropic.APIStatusError):
        async with claude(providers).messages.stream(
            model="claude-fault-midstream-error",
            max_tokens=10,
            messages=[{"role": "user", "content": "x"}],
        ) as stream:
            await stream.get_final_message()


# --- recording, admin, entry points -------------------------------------------------------------------


async def test_requests_are_recorded_without_header_values(providers, http):
    """The log keeps header names, the JSON body and whether auth passed; never the key."""
    providers.clear_requests()
    async with await openai_raw(http, providers, "gpt-5.4-mini"):
        pass
    (record,) = providers.requests("openai")
    assert record.auth_ok is True
    assert "authorization" in record.header_names
    assert record.body["model"] == "gpt-5.4-mini"
    assert KEYS["openai"] not in str(record)
    assert record.key_in_url is False


async def test_a_key_in_the_url_is_flagged(providers, http):
    """Any registered key found in the path or query marks the record."""
    url = providers.base_urls()["openai"] + f"/models?api_key={KEYS['openai']}"
    async with http.get(url):
        pass
    assert providers.requests("openai")[-1].key_in_url is True


async def test_admin_endpoints_add_keys_and_list_and_clear_requests(providers, http):
    """POST /__admin/keys registers a key at run time; GET/DELETE /__admin/requests."""
    async with http.post(providers.root + "/__admin/keys", json={"provider": "openai", "key": "sk-late"}) as resp:
        assert resp.status == 204
    result = await oai(providers, key="sk-late").chat.completions.create(model="gpt-5.4-mini", messages=USER)
    assert result.choices[0].message.content.startswith("echo:")
    async with http.get(providers.root + "/__admin/requests?provider=openai") as resp:
        assert (await resp.json())[-1]["auth_ok"] is True
    async with http.get(providers.root + "/__admin/base-urls") as resp:
        assert await resp.json() == providers.base_urls()
    async with http.delete(providers.root + "/__admin/requests") as resp:
        assert resp.status == 204
    assert providers.requests() == []


def test_run_in_thread_serves_synchronous_clients():
    """The thread helper gives sync code a running fake."""
    with run_in_thread(keys={"openai": ["sk-sync"]}) as fake:
        resp = httpx.post(
            fake.base_urls()["openai"] + "/chat/completions",
            json={"model": "gpt-5.4-mini", "messages": USER},
            headers={"authorization": "Bearer sk-sync"},
        )
        assert resp.json()["choices"][0]["message"]["content"] == "echo: héllo wörld 日本"
        assert fake.requests()[0].auth_ok is True


def test_cli_prints_ready_with_the_port_and_serves():
    """`python -m tests.fakes.providers --port 0 --keys-json ...` prints READY <port>."""
    cmd = [sys.executable, "-m", "tests.fakes.providers", "--port", "0", "--keys-json", '{"openai": "sk-cli"}']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        assert line[0] == "READY"
        resp = httpx.get(f"http://127.0.0.1:{line[1]}/openai/v1/models", headers={"authorization": "Bearer sk-cli"})
        assert resp.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
