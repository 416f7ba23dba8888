"""The OpenAI-compatible families' quirks, Azure, and Cohere."""

from __future__ import annotations

import openai
import pytest

from tests.unit.fakes.conftest import KEYS, json_events, parse_sse

COMPATIBLE = [
    "openai",
    "groq",
    "together",
    "fireworks",
    "deepinfra",
    "baseten",
    "nebius",
    "perplexity",
    "moonshot",
    "minimax",
    "xai",
]
USER = [{"role": "user", "content": "hi there"}]
BAD_KEY_STATUS = {"xai": 400}  # xAI answers a wrong key with 400 "Incorrect API key provided"


def client(providers, family, key=None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key or KEYS[family], base_url=providers.base_urls()[family], max_retries=0)


async def stream_text(http, providers, family, model, **extra) -> str:
    url = providers.base_urls()[family] + "/chat/completions"
    body = {"model": model, "messages": USER, "stream": True, **extra}
    async with http.post(url, json=body, headers={"authorization": f"Bearer {KEYS[family]}"}) as resp:
        assert resp.status == 200
        return await resp.text()


@pytest.mark.parametrize("family", COMPATIBLE)
async def test_openai_sdk_works_against_every_compatible_family(providers, family):
    """Stock OpenAI client + the family base URL: an echo answer (after MiniMax's thinking, which
    every M2 model does)."""
    result = await client(providers, family).chat.completions.create(model="some-model", messages=USER)
    content = result.choices[0].message.content or ""
    assert content.split("</think>")[-1] == "echo: hi there"


async def test_minimax_moves_thinking_to_reasoning_details_when_the_request_splits_it(providers, http):
    """`reasoning_split: true`: clean content and `reasoning_details[].text`, in JSON and in streams."""
    result = await client(providers, "minimax").chat.completions.create(
        model="MiniMax-M2.7", messages=USER, extra_body={"reasoning_split": True}
    )
    message = result.choices[0].message
    assert message.content == "echo: hi there"
    assert [d["text"] for d in message.model_extra["reasoning_details"]] == ["thinking about: hi there"]
    stream = await client(providers, "minimax").chat.completions.create(
        model="MiniMax-M2.7", messages=USER, stream=True, extra_body={"reasoning_split": True}
    )
    chunks = [chunk async for chunk in stream]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(d.content or "" for d in deltas) == "echo: hi there"
    thought = "".join(x["text"] for d in deltas for x in (d.model_extra or {}).get("reasoning_details") or ())
    assert thought == "thinking about: hi there"


@pytest.mark.parametrize("family", COMPATIBLE)
async def test_every_compatible_family_refuses_a_wrong_key(providers, family):
    """A wrong key is refused with the family's own status (401, or xAI's 400)."""
    with pytest.raises(openai.APIStatusError) as caught:
        await client(providers, family, key="wrong").chat.completions.create(model="m", messages=USER)
    assert caught.value.status_code == BAD_KEY_STATUS.get(family, 401)


async def test_groq_puts_usage_in_x_groq_on_the_final_chunk(providers, http):
    """x_groq.id on the first chunk, x_groq.usage (with timings) on the finish chunk."""
    chunks = json_events(await stream_text(http, providers, "groq", "qwen/qwen3-32b"))
    assert chunks[0]["x_groq"]["id"].startswith("req_")
    assert chunks[-1]["x_groq"]["usage"]["total_tokens"] == 5
    assert "queue_time" in chunks[-1]["x_groq"]["usage"]
    assert "usage" not in chunks[-1]


async def test_groq_refuses_parameters_it_does_not_support(providers):
    """logprobs / n > 1 / messages[].name are 400s on Groq."""
    for extra in ({"logprobs": True}, {"n": 2}):
        with pytest.raises(openai.BadRequestError):
            await client(providers, "groq").chat.completions.create(model="m", messages=USER, **extra)


async def test_groq_reasoning_models_stream_a_reasoning_field(providers, http):
    """Models named *reason*/*think* stream `delta.reasoning` (Groq's field name)."""
    chunks = json_events(await stream_text(http, providers, "groq", "reasoning-model"))
    assert any("reasoning" in c["choices"][0]["delta"] for c in chunks if c["choices"])


async def test_moonshot_puts_usage_inside_the_choice_and_repeats_it(providers, http):
    """choices[0].usage on the finish chunk, plus a duplicate usage-only chunk when asked."""
    chunks = json_events(
        await stream_text(http, providers, "moonshot", "kimi-k2.6", stream_options={"include_usage": True})
    )
    finish, duplicate = chunks[-2], chunks[-1]
    assert finish["choices"][0]["usage"]["total_tokens"] == 5
    assert duplicate["choices"] == []
    assert duplicate["usage"] == finish["choices"][0]["usage"]


async def test_perplexity_repeats_usage_and_closes_with_chat_completion_done(providers, http):
    """Usage and citations on every chunk; closing object chat.completion.done; no [DONE]."""
    text = await stream_text(http, providers, "perplexity", "sonar")
    chunks = json_events(text)
    assert all("usage" in c and "citations" in c for c in chunks)
    assert chunks[-1]["object"] == "chat.completion.done"
    assert "[DONE]" not in text


async def test_perplexity_refuses_non_alternating_turns(providers):
    """Two user turns in a row: 400 invalid_message."""
    with pytest.raises(openai.BadRequestError) as caught:
        await client(providers, "perplexity").chat.completions.create(model="sonar", messages=[*USER, *USER])
    assert caught.value.body["type"] == "invalid_message"


async def test_together_sends_usage_on_the_finish_chunk_unasked(providers, http):
    """LAST_CHUNK style: usage arrives without include_usage."""
    chunks = json_events(await stream_text(http, providers, "together", "openai/gpt-oss-120b"))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 5


async def test_deepinfra_adds_estimated_cost_and_undercounts_gemma_completion(providers):
    """estimated_cost always; for Gemma models reasoning tokens exceed completion tokens."""
    result = await client(providers, "deepinfra").chat.completions.create(model="google/gemma-3-27b-it", messages=USER)
    usage = result.usage.model_dump()
    assert usage["estimated_cost"] > 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] > usage["completion_tokens"]


async def test_baseten_accepts_the_api_key_scheme(providers, http):
    """Dedicated-deployment style `Authorization: Api-Key <key>` works too."""
    url = providers.base_urls()["baseten"] + "/chat/completions"
    body = {"model": "m", "messages": USER}
    async with http.post(url, json=body, headers={"authorization": f"Api-Key {KEYS['baseten']}"}) as resp:
        assert resp.status == 200


async def test_fireworks_auth_errors_are_plain_strings(providers, http):
    """`{"error": "..."}` rather than the object form."""
    async with http.post(providers.base_urls()["fireworks"] + "/chat/completions", json={}) as resp:
        assert isinstance((await resp.json())["error"], str)


async def test_minimax_puts_reasoning_in_think_tags_and_1008_is_insufficient_balance(providers):
    """<think> inside content; no-credits is 429 with (1008) in the message."""
    result = await client(providers, "minimax").chat.completions.create(model="MiniMax-M2-think", messages=USER)
    assert result.choices[0].message.content.startswith("<think>")
    with pytest.raises(openai.RateLimitError) as caught:
        await client(providers, "minimax").chat.completions.create(model="m-fault-no-credits", messages=USER)
    assert "(1008)" in caught.value.body["message"]


async def test_xai_wrong_key_body_uses_code_and_error_strings(providers, http):
    """`{"code": "Client specified an invalid argument", "error": "Incorrect API key provided..."}`."""
    url = providers.base_urls()["xai"] + "/chat/completions"
    async with http.post(url, json={}, headers={"authorization": "Bearer nope"}) as resp:
        body = await resp.json()
    assert body["error"].startswith("Incorrect API key provided")


# --- Azure ------------------------------------------------------------------------------------------


def azure(providers, key=None) -> openai.AsyncAzureOpenAI:
    endpoint = providers.base_urls()["azure"].replace("{resource_name}", "myres").removesuffix("/openai")
    return openai.AsyncAzureOpenAI(
        azure_endpoint=endpoint, api_key=key or KEYS["azure"], api_version="2024-10-21", max_retries=0
    )


async def test_azure_sdk_stream_starts_with_an_empty_prompt_filter_chunk(providers):
    """First chunk: choices [] and prompt_filter_results; deltas carry content_filter_results."""
    stream = await azure(providers).chat.completions.create(model="my-deployment", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    first = chunks[0].model_dump()
    assert first["choices"] == []
    assert first["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hi there"
    assert providers.requests("azure")[-1].path.endswith("/deployments/my-deployment/chat/completions")
    assert "api-key" in providers.requests("azure")[-1].header_names


async def test_azure_wrong_key_is_an_azure_shaped_401(providers):
    """`{"error": {"code": "401", "message": "Access denied ..."}}`."""
    with pytest.raises(openai.AuthenticationError) as caught:
        await azure(providers, key="bad").chat.completions.create(model="d", messages=USER)
    assert caught.value.body["code"] == "401"


async def test_azure_deployment_route_needs_api_version_and_a_real_deployment(providers, http):
    """No api-version: 404 Resource not found; `missing-*` deployments: DeploymentNotFound."""
    base = providers.base_urls()["azure"].replace("{resource_name}", "r1") + "/deployments"
    headers = {"api-key": KEYS["azure"]}
    async with http.post(f"{base}/d/chat/completions", json={"messages": USER}, headers=headers) as resp:
        assert resp.status == 404
    url = f"{base}/missing-d/chat/completions?api-version=2024-10-21"
    async with http.post(url, json={"messages": USER}, headers=headers) as resp:
        assert (await resp.json())["error"]["code"] == "DeploymentNotFound"


async def test_azure_content_filter_fault_is_a_400_with_innererror(providers):
    """A filtered prompt: code content_filter and ResponsibleAIPolicyViolation."""
    with pytest.raises(openai.BadRequestError) as caught:
        await azure(providers).chat.completions.create(model="d-fault-content-filter", messages=USER)
    assert caught.value.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"


async def test_azure_v1_route_takes_the_deployment_as_model(providers):
    """`/openai/v1/chat/completions` with the stock OpenAI client and the api-key header."""
    base = providers.base_urls()["azure"].replace("{resource_name}", "r2") + "/v1"
    result = await openai.AsyncOpenAI(
        api_key="unused", base_url=base, default_headers={"api-key": KEYS["azure"]}, max_retries=0
    ).chat.completions.create(model="dep", messages=USER)
    assert result.model == "dep"


# --- Cohere -----------------------------------------------------------------------------------------


async def cohere_chat(http, providers, body, key=KEYS["cohere"]):
    url = providers.base_urls()["cohere"] + "/v2/chat"
    return await http.post(url, json=body, headers={"authorization": f"Bearer {key}"})


async def test_cohere_stream_has_kebab_case_events_and_usage_in_message_end(providers, http):
    """message-start ... content-delta ... message-end with billed_units and tokens, then [DONE]."""
    async with await cohere_chat(
        http, providers, {"model": "command-a-03-2025", "messages": USER, "stream": True}
    ) as resp:
        text = await resp.text()
    events = parse_sse(text)
    names = [name for name, _ in events]
    assert names[0] == "message-start"
    assert "content-delta" in names
    assert events[-1] == (None, "[DONE]")
    end = json_events(text)[-1]
    assert end["delta"]["finish_reason"] == "COMPLETE"
    assert end["delta"]["usage"]["billed_units"] == {"input_tokens": 2, "output_tokens": 3}


async def test_cohere_tool_calls_stream_a_plan_then_call_fragments(providers, http):
    """tool-plan-delta, tool-call-start/-delta/-end, finish TOOL_CALL."""
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"properties": {"q": {}}}}}]
    body = {
        "model": "command-a-03-2025",
        "messages": [{"role": "user", "content": "call tool"}],
        "tools": tools,
        "stream": True,
    }
    async with await cohere_chat(http, providers, body) as resp:
        text = await resp.text()
    names = [name for name, _ in parse_sse(text)]
    assert names.index("tool-plan-delta") < names.index("tool-call-start") < names.index("tool-call-end")
    args = "".join(
        e["delta"]["message"]["tool_calls"]["function"]["arguments"]
        for e in json_events(text)
        if e.get("type") == "tool-call-delta"
    )
    assert args == '{"q": "call tool"}'


async def test_cohere_errors_are_id_and_message(providers, http):
    """401 `{"id", "message": "invalid api token"}`."""
    async with await cohere_chat(http, providers, {}, key="bad") as resp:
        body = await resp.json()
    assert (resp.status, body["message"]) == (401, "invalid api token")
    assert "id" in body
