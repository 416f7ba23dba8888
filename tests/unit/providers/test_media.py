"""Queue/task media providers (FAL, Pollo) and the OpenAI-family images/embeddings pass-through."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.base import (
    CallOptions,
    Credential,
    EmbeddingResult,
    ImageResult,
    ProviderAdapter,
    ProviderError,
    Target,
)
from gateway.wire.chat_body import ChatInput
from gateway.wire.openai import EmbeddingList, EmbeddingRequest, ImageRequest, ImagesResponse, JobHandle
from shared.errors import KeyrelayError
from shared.secret import Secret
from tests.unit.providers.conftest import FAST, KEYS, as_json


async def images(adapter: ProviderAdapter, body: dict[str, Any], *args: Any) -> ImageResult:
    """The adapter's answer, its body checked strictly (images response or job handle) and as JSON."""
    result = await adapter.images(ImageRequest.from_body(body), *args)
    out = as_json(result.body)
    if "status" in out:
        assert set(out) == set(JobHandle.__struct_fields__)
    else:
        ImagesResponse.from_json(out)
    result.body = out
    return result


async def embed(adapter: ProviderAdapter, body: dict[str, Any], *args: Any) -> EmbeddingResult:
    result = await adapter.embed(EmbeddingRequest.from_body(body), *args)
    out = as_json(result.body)
    EmbeddingList.from_json(out)
    result.body = out
    return result


def target(fake, provider: str, model: str) -> Target:
    return Target(adapter=provider, provider=provider, base_url=fake.base_urls()[provider], model=model)


def key(provider: str) -> Credential:
    return Credential(api_key=Secret(KEYS[provider]))


@pytest.mark.parametrize(("provider", "model"), [("fal", "fal-ai/flux/dev"), ("pollo", "pollo/pollo-v2-0")])
async def test_a_job_is_awaited_and_returned_as_an_openai_images_response(adapters, fake, provider, model):
    """Submit, poll until done, answer `{"created", "data": [{"url"}]}`."""
    result = await images(
        adapters[provider],
        {"model": model, "prompt": "a paper boat", "n": 1, "size": "1024x768"},
        target(fake, provider, model),
        key(provider),
        FAST,
    )
    assert isinstance(result.body["created"], int)
    assert result.body["data"][0]["url"].startswith(fake.root)
    assert all(r.auth_ok for r in fake.requests(provider))


async def test_a_pollo_task_brings_back_the_credits_it_charged_in_its_usage(adapters, fake):
    """Pollo bills in credits: the task's `credit` is the usage the integration's per-credit price applies to."""
    model = "pollo/pollo-v2-0"
    result = await images(
        adapters["pollo"], {"model": model, "prompt": "a kite"}, target(fake, "pollo", model), key("pollo"), FAST
    )
    assert result.usage.credits == 12.5


@pytest.mark.parametrize(("provider", "model"), [("fal", "fal-ai/flux/dev"), ("pollo", "pollo/pollo-v2-0")])
async def test_a_job_still_running_at_the_deadline_comes_back_as_a_handle(adapters, fake, provider, model):
    """Past the deadline: `{"id", "status", "provider"}` instead of waiting on."""
    fake.options.job_polls_to_complete = 50
    try:
        result = await images(
            adapters[provider],
            {"prompt": "slow boat"},
            target(fake, provider, model),
            key(provider),
            CallOptions(timeout_s=0.05, first_byte_timeout_s=5),
        )
    finally:
        fake.options.job_polls_to_complete = 2
    assert set(result.body) == {"id", "status", "provider"}
    assert result.body["status"] in {"queued", "running"}
    assert result.body["provider"] == provider


@pytest.mark.parametrize(("provider", "model"), [("fal", "fal-ai/fault-job-fail"), ("pollo", "pollo/fault-job-fail")])
async def test_a_failed_job_is_an_upstream_error(adapters, fake, provider, model):
    """A job that completes with an error is reported, not returned as an empty image list."""
    with pytest.raises(ProviderError) as caught:
        await images(adapters[provider], {"prompt": "x"}, target(fake, provider, model), key(provider), FAST)
    assert caught.value.code == "upstream_error"


async def test_fal_uses_the_key_scheme_and_pollo_the_api_key_header(adapters, fake):
    """A wrong key is refused by each: upstream_auth_failed."""
    for provider, model in (("fal", "fal-ai/flux/dev"), ("pollo", "pollo/pollo-v2-0")):
        with pytest.raises(ProviderError) as caught:
            await images(
                adapters[provider],
                {"prompt": "x"},
                target(fake, provider, model),
                Credential(api_key=Secret("wrong")),
                FAST,
            )
        assert caught.value.code == "upstream_auth_failed"


async def test_pollo_out_of_credits_is_insufficient_quota(adapters, fake):
    """403 "Not enough credits" is a billing problem, not an auth failure."""
    with pytest.raises(ProviderError) as caught:
        await images(
            adapters["pollo"], {"prompt": "x"}, target(fake, "pollo", "pollo/fault-no-credits"), key("pollo"), FAST
        )
    assert caught.value.code == "upstream_insufficient_quota"


async def test_openai_images_and_embeddings_pass_through(adapters, fake):
    """OpenAI-family images and embeddings are forwarded as they are."""
    answer = await images(
        adapters["openai"],
        {"model": "gpt-image-1.5", "prompt": "boat"},
        target(fake, "openai", "gpt-image-1.5"),
        key("openai"),
        FAST,
    )
    assert answer.body["data"]
    embeddings = await embed(
        adapters["openai"],
        {"model": "x", "input": ["a", "b"]},
        target(fake, "openai", "text-embedding-3-small"),
        key("openai"),
        FAST,
    )
    assert len(embeddings.body["data"]) == 2
    assert embeddings.usage.prompt_tokens > 0


@pytest.mark.parametrize(("provider", "model"), [("google", "gemini-embedding-001"), ("cohere", "embed-v4.0")])
async def test_gemini_and_cohere_embeddings_come_back_in_openai_shape(adapters, fake, provider, model):
    """batchEmbedContents / v2 embed answers become an OpenAI embeddings list."""
    result = await embed(
        adapters[provider], {"input": ["a", "b"], "dimensions": 8}, target(fake, provider, model), key(provider), FAST
    )
    assert [d["index"] for d in result.body["data"]] == [0, 1]
    assert all(d["object"] == "embedding" and d["embedding"] for d in result.body["data"])


async def test_an_operation_a_provider_lacks_is_unsupported(adapters, fake):
    """Anthropic has no embeddings, FAL no chat: a clear invalid_request, no upstream call."""
    with pytest.raises(KeyrelayError) as caught:
        await embed(adapters["anthropic"], {"input": "a"}, target(fake, "anthropic", "claude"), key("anthropic"), FAST)
    assert caught.value.code == "invalid_request"
    with pytest.raises(KeyrelayError):
        await adapters["fal"].chat(ChatInput({}), target(fake, "fal", "fal-ai/flux"), key("fal"), FAST)
