"""The fake Gemini API, Vertex AI (Gemini and Claude) and its OAuth token endpoint."""

from __future__ import annotations

import time

import pytest

from tests.fakes.providers import make_assertion
from tests.fakes.providers.service_accounts import JWT_BEARER
from tests.unit.fakes.conftest import KEYS, json_events, parse_sse

CONTENTS = [{"role": "user", "parts": [{"text": "hello gemini"}]}]
TOOLS = [{"functionDeclarations": [{"name": "lookup", "parametersJsonSchema": {"properties": {"q": {}}}}]}]


async def gemini(http, providers, model, action, body, *, query="", headers=None):
    url = f"{providers.base_urls()['google']}/models/{model}:{action}{query}"
    return await http.post(url, json=body, headers={"x-goog-api-key": KEYS["google"]} if headers is None else headers)


async def vertex_token(http, providers, info=None, **claims):
    info = info or providers.new_service_account()
    form = {"grant_type": JWT_BEARER, "assertion": make_assertion(info, **claims)}
    async with http.post(info["token_uri"], data=form) as resp:
        return resp.status, await resp.json()


async def vertex(http, providers, publisher, model, action, body, token):
    base = providers.base_urls()["vertex"]
    url = f"{base}/projects/p1/locations/us-central1/publishers/{publisher}/models/{model}:{action}"
    return await http.post(url, json=body, headers={"authorization": f"Bearer {token}"})


# --- Gemini API -------------------------------------------------------------------------------------


async def test_gemini_generate_content_echoes_with_usage_metadata(providers, http):
    """generateContent: candidate text, STOP, promptTokenCount/candidatesTokenCount."""
    async with await gemini(http, providers, "gemini-2.5-flash", "generateContent", {"contents": CONTENTS}) as resp:
        body = await resp.json()
    assert body["candidates"][0]["content"]["parts"][0]["text"] == "echo: hello gemini"
    assert body["candidates"][0]["finishReason"] == "STOP"
    assert body["usageMetadata"]["promptTokenCount"] == 2
    assert body["usageMetadata"]["totalTokenCount"] == 5


async def test_gemini_sse_is_data_only_without_done_and_usage_runs(providers, http):
    """alt=sse: no event names, no [DONE]; running usage; the last chunk carries finishReason."""
    async with await gemini(
        http, providers, "gemini-2.5-flash", "streamGenerateContent", {"contents": CONTENTS}, query="?alt=sse"
    ) as resp:
        text = await resp.text()
    events = parse_sse(text)
    assert all(name is None for name, _ in events)
    assert "[DONE]" not in text
    chunks = json_events(text)
    counts = [c["usageMetadata"]["candidatesTokenCount"] for c in chunks]
    assert counts == sorted(counts)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert (
        "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"])
        == "echo: hello gemini"
    )


async def test_gemini_stream_without_alt_sse_is_a_json_array(providers, http):
    """Without alt=sse the stream is one JSON array of responses."""
    async with await gemini(http, providers, "gemini-2.5-flash", "streamGenerateContent", {"contents": CONTENTS}) as r:
        body = await r.json()
    assert isinstance(body, list)


async def test_gemini_function_call_comes_whole_with_a_thought_signature_and_no_id(providers, http):
    """A tool call arrives complete in one part, signed, without an id."""
    body = {"contents": [{"role": "user", "parts": [{"text": "call tool now"}]}], "tools": TOOLS}
    async with await gemini(http, providers, "gemini-3.5-flash", "generateContent", body) as resp:
        part = (await resp.json())["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"] == {"name": "lookup", "args": {"q": "call tool now"}}
    assert part["thoughtSignature"]
    assert "id" not in part["functionCall"]


async def test_gemini_3_refuses_a_replayed_function_call_without_its_signature(providers, http):
    """400 INVALID_ARGUMENT naming thought_signature when the model turn lost it."""
    contents = [
        *CONTENTS,
        {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"ok": True}}}]},
    ]
    async with await gemini(http, providers, "gemini-3.5-flash", "generateContent", {"contents": contents}) as resp:
        error = (await resp.json())["error"]
    assert resp.status == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert "thought_signature" in error["message"]


async def test_gemini_function_response_must_be_an_object(providers, http):
    """A plain string as functionResponse.response is refused."""
    contents = [{"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": "sunny"}}]}]
    async with await gemini(http, providers, "gemini-2.5-flash", "generateContent", {"contents": contents}) as resp:
        assert resp.status == 400


async def test_gemini_key_in_the_query_works_but_is_recorded_as_a_url_key(providers, http):
    """`?key=` is accepted like upstream, and the record says the key was in the URL."""
    async with await gemini(
        http,
        providers,
        "gemini-2.5-flash",
        "generateContent",
        {"contents": CONTENTS},
        query=f"?key={KEYS['google']}",
        headers={},
    ) as resp:
        assert resp.status == 200
    assert providers.requests("google")[-1].key_in_url is True


async def test_gemini_bad_key_is_400_api_key_invalid_and_missing_key_is_403(providers, http):
    """Google's observed answers: INVALID_ARGUMENT/API_KEY_INVALID, PERMISSION_DENIED."""
    async with await gemini(
        http,
        providers,
        "gemini-2.5-flash",
        "generateContent",
        {"contents": CONTENTS},
        headers={"x-goog-api-key": "bad"},
    ) as resp:
        error = (await resp.json())["error"]
        assert (resp.status, error["details"][0]["reason"]) == (400, "API_KEY_INVALID")
    async with await gemini(
        http, providers, "gemini-2.5-flash", "generateContent", {"contents": CONTENTS}, headers={}
    ) as resp:
        assert (resp.status, (await resp.json())["error"]["status"]) == (403, "PERMISSION_DENIED")


async def test_gemini_429_carries_retry_info_in_details(providers, http):
    """RESOURCE_EXHAUSTED with RetryInfo.retryDelay and no retry header."""
    async with await gemini(http, providers, "gemini-fault-429", "generateContent", {"contents": CONTENTS}) as resp:
        error = (await resp.json())["error"]
    assert resp.status == 429
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"} in error["details"]


async def test_gemini_content_filter_fault_blocks_the_prompt(providers, http):
    """200 with promptFeedback.blockReason and no candidates."""
    async with await gemini(
        http, providers, "gemini-fault-content-filter", "generateContent", {"contents": CONTENTS}
    ) as resp:
        body = await resp.json()
    assert body["promptFeedback"]["blockReason"] == "SAFETY"
    assert "candidates" not in body


async def test_gemini_no_done_fault_ends_without_a_finish_reason(providers, http):
    """The interrupted-stream case: the body ends but no chunk had finishReason."""
    async with await gemini(
        http, providers, "gemini-fault-no-done", "streamGenerateContent", {"contents": CONTENTS}, query="?alt=sse"
    ) as resp:
        chunks = json_events(await resp.text())
    assert all("finishReason" not in c["candidates"][0] for c in chunks)


async def test_gemini_embed_content_returns_values(providers, http):
    """embedContent honours outputDimensionality."""
    body = {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 16}
    async with await gemini(http, providers, "gemini-embedding-001", "embedContent", body) as resp:
        assert len((await resp.json())["embedding"]["values"]) == 16


# --- Vertex -----------------------------------------------------------------------------------------


async def test_vertex_token_endpoint_mints_a_token_for_a_valid_assertion(providers, http):
    """RS256 JWT-bearer grant -> access_token, expires_in, token_type."""
    status, body = await vertex_token(http, providers)
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert providers.requests("vertex-token")[-1].form_fields == ["assertion", "grant_type"]


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"lifetime_s": 7200}, "invalid_grant"),
        ({"audience": "https://oauth2.googleapis.com/token"}, "invalid_grant"),
        ({"scope": "https://www.googleapis.com/auth/userinfo.email"}, "invalid_scope"),
        ({"now": time.time() - 7200}, "invalid_grant"),
    ],
)
async def test_vertex_token_endpoint_refuses_bad_claims(providers, http, claims, error):
    """Lifetime over an hour, wrong audience, missing scope, expired: refused like Google does."""
    status, body = await vertex_token(http, providers, **claims)
    assert (status, body["error"]) == (400, error)


async def test_vertex_token_endpoint_refuses_an_unregistered_or_forged_key(providers, http):
    """A key file the fake never registered gets 'Invalid JWT Signature.' or 'account not found'."""
    real = providers.new_service_account()
    forged = {**providers.new_service_account(), "client_email": real["client_email"]}
    status, body = await vertex_token(http, providers, forged)
    assert (status, body["error_description"]) == (400, "Invalid JWT Signature.")


async def test_vertex_gemini_streams_with_a_minted_token(providers, http):
    """Bearer token from the fake endpoint; Vertex adds createTime and trafficType."""
    _, token = await vertex_token(http, providers)
    async with await vertex(
        http,
        providers,
        "google",
        "gemini-2.5-flash",
        "streamGenerateContent?alt=sse",
        {"contents": CONTENTS},
        token["access_token"],
    ) as resp:
        chunks = json_events(await resp.text())
    assert chunks[-1]["usageMetadata"]["trafficType"] == "ON_DEMAND"
    assert "createTime" in chunks[0]


async def test_vertex_refuses_unknown_and_expired_tokens_with_401(providers, http):
    """A token not minted here, or one past its lifetime, is UNAUTHENTICATED."""
    async with await vertex(
        http, providers, "google", "gemini-2.5-flash", "generateContent", {"contents": CONTENTS}, "ya29.forged"
    ) as resp:
        assert (resp.status, (await resp.json())["error"]["status"]) == (401, "UNAUTHENTICATED")
    _, token = await vertex_token(http, providers)
    providers.expire_tokens()
    async with await vertex(
        http, providers, "google", "gemini-2.5-flash", "generateContent", {"contents": CONTENTS}, token["access_token"]
    ) as resp:
        assert resp.status == 401


async def test_vertex_gemini_requires_a_role_on_every_content(providers, http):
    """Unlike the Gemini API, Vertex refuses contents without role."""
    _, token = await vertex_token(http, providers)
    async with await vertex(
        http,
        providers,
        "google",
        "gemini-2.5-flash",
        "generateContent",
        {"contents": [{"parts": [{"text": "x"}]}]},
        token["access_token"],
    ) as resp:
        assert resp.status == 400


async def test_vertex_claude_raw_predict_answers_in_anthropic_shape(providers, http):
    """rawPredict with anthropic_version in the body and no model."""
    _, token = await vertex_token(http, providers)
    body = {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "hi claude"}],
    }
    async with await vertex(
        http, providers, "anthropic", "claude-sonnet-4-6", "rawPredict", body, token["access_token"]
    ) as resp:
        message = await resp.json()
    assert message["content"][0]["text"] == "echo: hi claude"
    assert message["model"] == "claude-sonnet-4-6"


async def test_vertex_claude_refuses_a_body_with_model_or_without_anthropic_version(providers, http):
    """The Vertex body differs from the first-party one; mistakes are Anthropic 400s."""
    _, token = await vertex_token(http, providers)
    for body in (
        {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        {
            "anthropic_version": "vertex-2023-10-16",
            "model": "claude-sonnet-4-6",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        },
    ):
        async with await vertex(
            http, providers, "anthropic", "claude-sonnet-4-6", "rawPredict", body, token["access_token"]
        ) as resp:
            assert (resp.status, (await resp.json())["error"]["type"]) == (400, "invalid_request_error")


async def test_vertex_claude_stream_raw_predict_streams_anthropic_events(providers, http):
    """streamRawPredict: Anthropic SSE ending with message_stop."""
    _, token = await vertex_token(http, providers)
    body = {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 20,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with await vertex(
        http, providers, "anthropic", "claude-sonnet-4-6", "streamRawPredict", body, token["access_token"]
    ) as resp:
        names = [name for name, _ in parse_sse(await resp.text())]
    assert names[-1] == "message_stop"


async def test_short_token_lifetimes_expire_for_refresh_tests(providers, http):
    """With token_expires_in=0 a minted token is already expired at the next call."""
    providers.options.token_expires_in = 0
    try:
        _, token = await vertex_token(http, providers)
    finally:
        providers.options.token_expires_in = 3599
    async with await vertex(
        http, providers, "google", "gemini-2.5-flash", "generateContent", {"contents": CONTENTS}, token["access_token"]
    ) as resp:
        assert resp.status == 401
