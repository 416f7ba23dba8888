"""Bare model names (`claude-haiku-4-5`, `gpt-4o-mini`) route like `provider/model`, across every
provider in the key's scope, and `GET /v1/models/{id}` answers for every routable id (issue 18)."""

from __future__ import annotations

import collections
import secrets
from typing import Any

import anthropic
import httpx
import openai
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record


def openai_sdk(stack: EmbeddedStack, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=key, max_retries=0)


def anthropic_sdk(stack: EmbeddedStack, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.gateway_url, api_key=key, max_retries=0)


def add_integration(org: Org, fake: FakeServer, provider: str, slug: str, models: list[str], **extra: Any) -> None:
    credentials: dict[str, Any] = {}
    if provider == "vertex":
        account = httpx.post(f"{fake.root}/__admin/service-accounts/new", timeout=10).json()
        credentials["service_account_json"] = {**account, "token_uri": "https://oauth2.googleapis.com/token"}
        credentials["location"] = "global"
    else:
        key = f"sk-{provider}-{secrets.token_hex(12)}"
        fake.add_key(provider, key)
        credentials["api_key"] = key
    body = {"provider": provider, "name": slug, "slug": slug, "credentials": credentials, "models": {"enabled": models}}
    response = org.owner.post("/integrations", json={**body, **extra})
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def claude_org(stack: EmbeddedStack, fake: FakeServer) -> Org:
    """Claude Haiku 4.5 through Anthropic and Claude on Vertex, Sonnet 4.6 on Anthropic only, OpenAI models."""
    org = bootstrap(stack)
    add_integration(org, fake, "anthropic", "claude-direct", ["claude-haiku-4-5", "claude-sonnet-4-6"])
    add_integration(org, fake, "vertex", "claude-vertex", ["claude-haiku-4-5"])
    add_integration(org, fake, "openai", "gpt-main", ["gpt-4o-mini", "text-embedding-3-small", "gpt-image-1.5"])
    return org


def test_a_bare_model_name_answers_on_chat_completions_from_the_integration_that_enables_it(
    claude_org: Org,
) -> None:
    """`gpt-4o-mini` alone reaches the one OpenAI integration enabling it, and is recorded as asked."""
    raw = openai_sdk(claude_org.stack, claude_org.api_key()).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "bare name"}]
    )
    assert raw.parse().choices[0].message.content == "echo: bare name"
    assert (raw.headers["x-keyrelay-integration"], raw.headers["x-keyrelay-model"]) == ("gpt-main", "gpt-4o-mini")
    doc = wait_for_record(claude_org.stack, raw.headers["x-request-id"])
    assert (doc["model_requested"], doc["model_served"]) == ("gpt-4o-mini", "gpt-4o-mini")


def test_a_bare_claude_name_is_load_balanced_over_anthropic_and_vertex_on_v1_messages(claude_org: Org) -> None:
    """Claude Code's own model name reaches both integrations enabling it (Vertex under its dated id)."""
    client = anthropic_sdk(claude_org.stack, claude_org.api_key())
    served: collections.Counter[tuple[str, str]] = collections.Counter()
    for i in range(24):
        raw = client.messages.with_raw_response.create(
            model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": f"spread {i}"}]
        )
        message = raw.parse()
        assert message.model == "claude-haiku-4-5"
        assert f"spread {i}" in "".join(b.text for b in message.content if b.type == "text")
        served[raw.headers["x-keyrelay-integration"], raw.headers["x-keyrelay-model"]] += 1
    assert set(served) == {("claude-direct", "claude-haiku-4-5"), ("claude-vertex", "claude-haiku-4-5@20251001")}


def test_the_route_explanation_of_a_bare_name_lists_every_provider_in_creation_order(claude_org: Org) -> None:
    """`resolved_as: model`, both integrations, loadbalance: the documented ambiguity rule."""
    response = claude_org.owner.post(
        "/route/explain", json={"model": "claude-haiku-4-5", "project_id": claude_org.project_id}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["resolved_as"], answer["strategy"]) == ("model", "loadbalance")
    assert {(s["integration"], s["provider"]) for s in answer["plan"]} == {
        ("claude-direct", "anthropic"),
        ("claude-vertex", "vertex"),
    }
    pinned = claude_org.owner.post(
        "/route/explain",
        json={"model": "claude-haiku-4-5", "project_id": claude_org.project_id, "integration": "claude-vertex"},
    )
    assert [s["integration"] for s in pinned.json()["plan"]] == ["claude-vertex"]


def test_bare_names_work_for_embeddings_and_images(claude_org: Org) -> None:
    """`text-embedding-3-small` and `gpt-image-1.5` alone reach the OpenAI integration."""
    client = openai_sdk(claude_org.stack, claude_org.api_key())
    vectors = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["one", "two"])
    assert len(vectors.parse().data) == 2
    assert vectors.headers["x-keyrelay-integration"] == "gpt-main"
    images = client.images.with_raw_response.generate(model="gpt-image-1.5", prompt="a bare lighthouse")
    assert images.parse().data
    assert images.headers["x-keyrelay-integration"] == "gpt-main"


def test_an_unknown_or_out_of_scope_bare_name_answers_404_model_not_found(
    claude_org: Org, stack: EmbeddedStack, fake: FakeServer
) -> None:
    """A name no integration enables, and one only another project's integration enables, look alike."""
    other = claude_org.owner.post("/projects", json={"name": f"other-{secrets.token_hex(3)}"})
    assert other.status_code == 201, other.text
    other_project = other.json()["id"]
    add_integration(claude_org, fake, "openai", "gpt-other", ["gpt-4.1"], project_scope=[other_project])
    client = openai_sdk(stack, claude_org.api_key())
    for model in ("gpt-nope-9", "gpt-4.1"):
        with pytest.raises(openai.NotFoundError) as refused:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
        assert refused.value.body["code"] == "model_not_found"  # type: ignore[index]
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve(model)
    served = openai_sdk(stack, claude_org.api_key(other_project)).chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "mine"}]
    )
    assert served.headers["x-keyrelay-integration"] == "gpt-other"


def test_a_key_allowed_one_integration_reaches_only_that_one_through_a_bare_name(
    stack: EmbeddedStack, fake: FakeServer
) -> None:
    """An allowlist naming `@a/gpt-4o-mini` lets the bare name through, but never to integration b."""
    org = bootstrap(stack)
    add_integration(org, fake, "openai", "allow-a", ["gpt-4o-mini"])
    add_integration(org, fake, "openai", "allow-b", ["gpt-4o-mini", "gpt-4.1"])
    client = openai_sdk(stack, org.api_key(models=["@allow-a/gpt-4o-mini"]))
    for _ in range(8):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "only a"}]
        )
        assert raw.headers["x-keyrelay-integration"] == "allow-a"
    ids = {m.id for m in client.models.list()}
    assert "gpt-4o-mini" in ids
    assert "gpt-4.1" not in ids
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}])


def test_a_virtual_model_named_like_claude_codes_default_model_sends_it_to_another_provider(
    stack: EmbeddedStack, fake: FakeServer
) -> None:
    """The README recipe: a virtual model wins over the bare name, so Claude's id is served by OpenAI."""
    org = bootstrap(stack)
    add_integration(org, fake, "anthropic", "claude-real", ["claude-sonnet-4-6"])
    add_integration(org, fake, "openai", "gpt-instead", ["gpt-4o-mini"])
    created = org.owner.post(
        "/virtual-models",
        json={"name": "claude-sonnet-4-6", "strategy": "fallback", "targets": [{"model": "@gpt-instead/gpt-4o-mini"}]},
    )
    assert created.status_code == 201, created.text
    raw = anthropic_sdk(stack, org.api_key()).messages.with_raw_response.create(
        model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "who answers"}]
    )
    assert raw.headers["x-keyrelay-integration"] == "gpt-instead"
    assert "who answers" in "".join(b.text for b in raw.parse().content if b.type == "text")
    doc = wait_for_record(stack, raw.headers["x-request-id"])
    assert doc["virtual_model"] == "claude-sonnet-4-6"


def test_get_model_answers_for_every_routable_id_in_the_openai_shape(claude_org: Org) -> None:
    """`@slug/model`, `provider/model`, bare names and virtual models, ids with `/` included."""
    created = claude_org.owner.post(
        "/virtual-models",
        json={"name": "chat-default", "strategy": "fallback", "targets": [{"model": "@gpt-main/gpt-4o-mini"}]},
    )
    assert created.status_code == 201, created.text
    client = openai_sdk(claude_org.stack, claude_org.api_key())
    owners = {
        "@claude-direct/claude-haiku-4-5": "claude-direct",
        "anthropic/claude-haiku-4-5": "anthropic",
        "vertex/claude-haiku-4-5@20251001": "vertex",
        "claude-sonnet-4-6": "anthropic",
        "claude-haiku-4-5": "keyrelay",
        "chat-default": "keyrelay",
    }
    for model_id, owner in owners.items():
        model = client.models.retrieve(model_id)
        assert (model.id, model.object, model.owned_by, model.created) == (model_id, "model", owner, 0)
    listed = {m.id for m in client.models.list()}
    assert set(owners) <= listed
    with pytest.raises(openai.NotFoundError) as refused:
        client.models.retrieve("@claude-direct/claude-opus-5")
    assert refused.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_the_anthropic_sdk_lists_and_retrieves_models_as_claude_code_discovers_them(claude_org: Org) -> None:
    """Anthropic's model object (`type`, `display_name`, `created_at`) and paging fields, via `x-api-key`."""
    client = anthropic_sdk(claude_org.stack, claude_org.api_key())
    ids = [m.id for m in client.models.list(limit=1000)]
    assert {"claude-sonnet-4-6", "claude-haiku-4-5"} <= set(ids)
    model = client.models.retrieve("claude-sonnet-4-6")
    assert (model.id, model.type, model.display_name) == ("claude-sonnet-4-6", "model", "claude-sonnet-4-6")
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-opus-5")
