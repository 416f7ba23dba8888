"""Vendor quirks kept through the running gateway (issue 14): Perplexity's own cost and agent
conversations (also on a custom host), MiniMax's split thinking, Azure's v1 versions, Pollo's
credits, and an upstream 404 answered as `model_not_found`."""

from __future__ import annotations

import secrets
from typing import Any

import openai
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record


def _add(org: Org, fake: FakeServer, provider: str, slug: str, models: list[str], **extra: Any) -> None:
    key = f"sk-{slug}-{secrets.token_hex(10)}"
    fake.add_key(provider, key)
    credentials = {"api_key": key, **extra.pop("credentials", {})}
    body = {"provider": provider, "name": slug, "slug": slug, "credentials": credentials, "models": {"enabled": models}}
    created = org.owner.post("/integrations", json={**body, **extra})
    assert created.status_code == 201, created.text


@pytest.fixture(scope="module")
def quirks(stack: EmbeddedStack, fake: FakeServer) -> tuple[Org, openai.OpenAI]:
    org = bootstrap(stack)
    _add(org, fake, "perplexity", "q-pplx", ["sonar", "sonar-deep-research"])
    _add(
        org,
        fake,
        "perplexity",
        "q-pplx-proxy",
        ["sonar"],
        custom_host={"base_url": f"{fake.root}/perplexity", "api_format": "openai"},
    )
    _add(org, fake, "minimax", "q-minimax", ["MiniMax-M2.7"])
    _add(
        org,
        fake,
        "azure",
        "q-azure-latest",
        ["gpt-4o-mini"],
        credentials={"resource_name": "acme-west", "api_version": "latest", "deployments": {"gpt-4o-mini": "mini"}},
    )
    _add(
        org,
        fake,
        "openai",
        "q-gone",
        ["gpt-x-fault-unknown-model"],
        custom_host={"base_url": f"{fake.root}/openai/v1", "api_format": "openai"},
    )
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=org.api_key(), max_retries=0)
    return org, client


def _upstream(fake: FakeServer, marker: str) -> list[dict[str, Any]]:
    return [r for r in fake.requests() if marker in str(r.get("body"))]


def test_perplexity_charges_what_its_own_usage_cost_says_search_and_citation_fees_included(
    quirks: tuple[Org, openai.OpenAI],
) -> None:
    """Deep research bills citation tokens and searches the catalog cannot price: the record keeps
    Perplexity's `usage.cost.total_cost`, in JSON and in streams, and the stream keeps citations."""
    org, client = quirks
    raw = client.chat.completions.with_raw_response.create(
        model="@q-pplx/sonar-deep-research", messages=[{"role": "user", "content": "research kites"}]
    )
    answer = raw.parse()
    assert answer.usage is not None
    reported = answer.usage.model_extra["cost"]["total_cost"]  # type: ignore[index]
    doc = wait_for_record(org.stack, raw.headers["x-request-id"])
    assert doc["cost_usd"] == pytest.approx(reported)
    assert reported > (doc["usage"]["prompt_tokens"] * 2 + doc["usage"]["completion_tokens"] * 8) / 1e6
    raw_stream = client.chat.completions.with_raw_response.create(
        model="@q-pplx/sonar-deep-research", messages=[{"role": "user", "content": "research boats"}], stream=True
    )
    chunks = list(raw_stream.parse())
    assert any((c.model_extra or {}).get("citations") for c in chunks)
    streamed = wait_for_record(org.stack, raw_stream.headers["x-request-id"])
    assert streamed["cost_usd"] > streamed["usage"]["total_tokens"] * 8 / 1e6


@pytest.mark.parametrize("slug", ["q-pplx", "q-pplx-proxy"])
def test_perplexity_answers_an_agent_conversation_also_behind_a_custom_host(
    quirks: tuple[Org, openai.OpenAI], fake: FakeServer, slug: str
) -> None:
    """Tool turns folded into alternating text, no `tools`: the provider's quirks follow it onto a
    custom host speaking its format (only the base URL changes)."""
    _, client = quirks
    marker = f"cloudy-{secrets.token_hex(4)}"
    call = {"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    answer = client.chat.completions.create(
        model=f"@{slug}/sonar",
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        messages=[
            {"role": "user", "content": "weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_w1", "content": marker},
        ],
    )
    assert marker in (answer.choices[0].message.content or "")
    [sent] = _upstream(fake, marker)
    assert "tools" not in sent["body"]  # type: ignore[operator]
    assert [m["role"] for m in sent["body"]["messages"]] == ["user", "assistant", "user"]  # type: ignore[index]


def test_minimax_thinking_comes_back_as_reasoning_content_through_reasoning_details(
    quirks: tuple[Org, openai.OpenAI], fake: FakeServer
) -> None:
    """The gateway asks for `reasoning_split`; MiniMax's `reasoning_details` become `reasoning_content`,
    the answer text stays clean, JSON and streamed."""
    _, client = quirks
    marker = f"mm-{secrets.token_hex(4)}"
    message = (
        client.chat.completions.create(model="@q-minimax/MiniMax-M2.7", messages=[{"role": "user", "content": marker}])
        .choices[0]
        .message
    )
    assert message.content == f"echo: {marker}"
    assert message.model_extra["reasoning_content"] == f"thinking about: {marker}"  # type: ignore[index]
    assert all(r["body"]["reasoning_split"] is True for r in _upstream(fake, marker))  # type: ignore[index]
    chunks = list(
        client.chat.completions.create(
            model="@q-minimax/MiniMax-M2.7", messages=[{"role": "user", "content": f"s{marker}"}], stream=True
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(d.content or "" for d in deltas) == f"echo: s{marker}"
    thought = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    assert thought == f"thinking about: s{marker}"


def test_azure_latest_api_version_reaches_the_v1_surface(quirks: tuple[Org, openai.OpenAI], fake: FakeServer) -> None:
    _, client = quirks
    marker = f"az-{secrets.token_hex(4)}"
    answer = client.chat.completions.create(
        model="@q-azure-latest/gpt-4o-mini", messages=[{"role": "user", "content": marker}]
    )
    assert marker in (answer.choices[0].message.content or "")
    [sent] = _upstream(fake, marker)
    assert sent["path"] == "/azure/acme-west/openai/v1/chat/completions"
    assert sent["body"]["model"] == "mini"  # type: ignore[index]


def test_an_upstream_404_for_an_unknown_model_answers_404_model_not_found(
    quirks: tuple[Org, openai.OpenAI],
) -> None:
    org, client = quirks
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(
            model="@q-gone/gpt-x-fault-unknown-model", messages=[{"role": "user", "content": "anyone?"}]
        )
    assert refused.value.body["code"] == "model_not_found"  # type: ignore[index]
    doc = wait_for_record(org.stack, refused.value.response.headers["x-request-id"])
    assert doc["error_code"] == "model_not_found"
    assert [a["status"] for a in doc["attempts"]] == [404]


def test_a_pollo_video_records_the_credits_it_charged(
    stack: EmbeddedStack, fake: FakeServer, quirks: tuple[Org, openai.OpenAI]
) -> None:
    """Pollo bills in credits: the record's usage carries them, and its cost is those credits at the
    integration's own price per credit (the catalog has no list price for them)."""
    org, client = quirks
    _add(org, fake, "pollo", "q-pollo", ["pollo/pollo-v2-0"])
    saved = org.owner.put("/integrations/q-pollo/pricing", json={"models": {"pollo/pollo-v2-0": {"per_credit": 0.04}}})
    assert saved.status_code == 200, saved.text
    raw = client.images.with_raw_response.generate(model="@q-pollo/pollo/pollo-v2-0", prompt="a red kite")
    assert raw.parse().data
    doc = wait_for_record(stack, raw.headers["x-request-id"])
    assert doc["usage"]["credits"] == 12.5
    assert doc["cost_usd"] == pytest.approx(12.5 * 0.04)


def test_a_baseten_dedicated_deployment_is_reached_at_its_url_with_api_key_auth(
    quirks: tuple[Org, openai.OpenAI], fake: FakeServer
) -> None:
    """`deployment_url` is the integration's base URL (address-checked like any host) and the key goes
    as `Authorization: Api-Key`; the deployment refuses Bearer, so the answer proves both."""
    org, client = quirks
    deployment = f"{fake.root}/baseten/model-abcd1234/environments/production/sync/v1"
    _add(
        org,
        fake,
        "baseten",
        "q-baseten-dedicated",
        ["deepseek-ai/DeepSeek-V3.1"],
        credentials={"deployment_url": deployment},
    )
    read = org.owner.get("/integrations/q-baseten-dedicated").json()
    assert read["credential"]["masked"]
    marker = f"bt-{secrets.token_hex(4)}"
    answer = client.chat.completions.create(
        model="@q-baseten-dedicated/deepseek-ai/DeepSeek-V3.1", messages=[{"role": "user", "content": marker}]
    )
    assert marker in (answer.choices[0].message.content or "")
    [sent] = _upstream(fake, marker)
    assert sent["path"] == "/baseten/model-abcd1234/environments/production/sync/v1/chat/completions"
    refused = org.owner.post(
        "/integrations",
        json={
            "provider": "baseten",
            "name": "metadata",
            "slug": "q-baseten-ssrf",
            "credentials": {"api_key": "k" * 20, "deployment_url": "https://169.254.169.254/v1"},
            "models": {"enabled": ["deepseek-ai/DeepSeek-V3.1"]},
        },
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "upstream_not_allowed"
