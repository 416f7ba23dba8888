"""The official `openai` and `anthropic` SDKs, pointed at the gateway, get answers from Anthropic,
Gemini, Vertex, Azure and OpenAI-compatible integrations, streaming and not (issue 5)."""

from __future__ import annotations

import secrets
from typing import Any

import anthropic
import httpx
import openai
import pytest

from gateway.wire.openai import ChatCompletion, EmbeddingList, ImagesResponse
from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record

CASES = {
    "anthropic": ("claude-sonnet-4-6", {}),
    "google": ("gemini-2.5-flash", {}),
    "vertex": ("gemini-2.5-flash", {"location": "us-central1"}),
    "azure": ("gpt-4o-mini", {"resource_name": "acme-east", "deployments": {"gpt-4o-mini": "mini-prod"}}),
    "groq": ("llama-3.3-70b-versatile", {}),
}


@pytest.fixture(scope="module")
def sdk_org(stack: EmbeddedStack, fake: FakeServer) -> tuple[Org, str]:
    org = bootstrap(stack)
    for provider, (model, settings) in CASES.items():
        credentials: dict[str, Any] = dict(settings)
        if provider == "vertex":
            account = httpx.post(f"{fake.root}/__admin/service-accounts/new", timeout=10).json()
            # a real key file names Google's token endpoint; KEYRELAY_PROVIDER_BASE_URLS["vertex-token"] redirects it
            credentials["service_account_json"] = {**account, "token_uri": "https://oauth2.googleapis.com/token"}
        else:
            key = f"sk-{provider}-{secrets.token_hex(12)}"
            fake.add_key(provider, key)
            credentials["api_key"] = key
        response = org.owner.post(
            "/integrations",
            json={
                "provider": provider,
                "name": provider,
                "slug": f"{provider}-int",
                "credentials": credentials,
                "models": {"enabled": [model]},
            },
        )
        assert response.status_code == 201, (provider, response.text)
    return org, org.api_key()


@pytest.mark.parametrize("provider", sorted(CASES))
def test_the_openai_sdk_gets_answers_from_every_provider_family(sdk_org: tuple[Org, str], provider: str) -> None:
    """Chat Completions in, the provider's own format out, back as OpenAI JSON and SSE with usage."""
    org, key = sdk_org
    client = openai.OpenAI(base_url=f"{org.stack.gateway_url}/v1", api_key=key, max_retries=0)
    model = f"@{provider}-int/{CASES[provider][0]}"
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hello sdk"}]
    )
    ChatCompletion.from_json(raw.http_response.json())  # the gateway's typed completion, strictly
    answer = raw.parse()
    assert "hello sdk" in (answer.choices[0].message.content or "")
    assert answer.usage is not None
    assert answer.usage.total_tokens > 0
    chunks = list(
        client.chat.completions.create(
            model=model,
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "hello stream"}],
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "hello stream" in text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0


@pytest.mark.parametrize("provider", sorted(CASES))
def test_the_anthropic_sdk_gets_answers_from_every_provider_family(sdk_org: tuple[Org, str], provider: str) -> None:
    """Messages in (as Claude Code would send), any provider out, Anthropic JSON and events back."""
    org, key = sdk_org
    client = anthropic.Anthropic(base_url=org.stack.gateway_url, api_key=key, max_retries=0)
    model = f"@{provider}-int/{CASES[provider][0]}"
    message = client.messages.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "hello claude code"}]
    )
    text = "".join(block.text for block in message.content if block.type == "text")
    assert "hello claude code" in text
    assert message.usage.output_tokens > 0
    with client.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "hello events"}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "hello events" in streamed
    assert final.usage.output_tokens > 0


def test_embeddings_and_fal_images_go_through_the_gateway_with_cost(
    stack: EmbeddedStack, fake: FakeServer, org: Org
) -> None:
    """`/v1/embeddings` reaches OpenAI with usage; `/v1/images/generations` awaits a FAL queue job and
    prices it per image from the catalog."""
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=org.api_key(), max_retries=0)
    org.owner.put("/integrations/openai-main/models", json={"enabled": ["gpt-4o-mini", "text-embedding-3-small"]})
    raw_vectors = client.embeddings.with_raw_response.create(
        model="@openai-main/text-embedding-3-small", input=["one", "two"]
    )
    EmbeddingList.from_json(raw_vectors.http_response.json())
    vectors = raw_vectors.parse()
    assert len(vectors.data) == 2
    assert vectors.usage.total_tokens > 0
    fal_key = f"fal-{secrets.token_hex(12)}"
    fake.add_key("fal", fal_key)
    created = org.owner.post(
        "/integrations",
        json={
            "provider": "fal",
            "name": "fal",
            "slug": f"fal-{secrets.token_hex(3)}",
            "credentials": {"api_key": fal_key},
            "models": {"enabled": ["fal-ai/flux/schnell"]},
        },
    )
    assert created.status_code == 201, created.text
    raw = client.images.with_raw_response.generate(
        model=f"@{created.json()['slug']}/fal-ai/flux/schnell", prompt="a lighthouse"
    )
    ImagesResponse.from_json(raw.http_response.json())
    image = raw.parse()
    assert image.data
    assert image.data[0].url
    doc = wait_for_record(stack, raw.headers["x-request-id"])
    assert doc["cost_usd"] == pytest.approx(0.003)
