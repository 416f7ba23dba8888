"""What Claude Code needs besides `/v1/messages` itself: `system` turns inside `messages`, token
counting (exact from Anthropic-format targets, estimated elsewhere) and its start-up probes."""

from __future__ import annotations

import secrets
from typing import Any

import anthropic
import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap, wait_for_record
from tests.e2e.test_bare_model_names import add_integration, anthropic_sdk


@pytest.fixture(scope="module")
def cc_org(stack: EmbeddedStack, fake: FakeServer) -> Org:
    org = bootstrap(stack)
    add_integration(org, fake, "anthropic", "cc-anthropic", ["claude-opus-4-8", "claude-sonnet-4-6"])
    add_integration(org, fake, "vertex", "cc-vertex", ["claude-opus-4-8"])
    add_integration(org, fake, "openai", "cc-openai", ["gpt-4o-mini"])
    return org


def upstream_bodies(fake: FakeServer, marker: str) -> list[dict[str, Any]]:
    """What the fake providers received for requests carrying `marker` (path and body)."""
    return [r for r in fake.requests() if marker in str(r.get("body"))]


def system_turn_conversation(marker: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"first {marker}"},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": f"second {marker}"},
        {"role": "system", "content": [{"type": "text", "text": f"mid-conversation rule {marker}"}]},
    ]


def test_a_system_turn_inside_messages_reaches_an_openai_target_as_a_system_message_in_place(
    cc_org: Org, fake: FakeServer
) -> None:
    """Claude Code's `role: system` turn is accepted and sent natively where the target takes it."""
    marker = secrets.token_hex(6)
    message = anthropic_sdk(cc_org.stack, cc_org.api_key()).messages.create(
        model="@cc-openai/gpt-4o-mini",
        max_tokens=64,
        system="top-level prompt",
        messages=system_turn_conversation(marker),  # type: ignore[arg-type]
    )
    assert message.content
    [seen] = upstream_bodies(fake, marker)
    roles = [m["role"] for m in seen["body"]["messages"]]  # type: ignore[index]
    assert roles == ["system", "user", "assistant", "user", "system"]
    assert seen["body"]["messages"][-1]["content"] == f"mid-conversation rule {marker}"  # type: ignore[index]


def test_a_system_turn_inside_messages_reaches_claude_opus_4_8_on_anthropic_natively(
    cc_org: Org, fake: FakeServer
) -> None:
    """Anthropic's own API takes it for Opus 4.8 after a user turn: it stays in place, so the cached
    prefix (top-level system, earlier turns) is unchanged."""
    marker = secrets.token_hex(6)
    message = anthropic_sdk(cc_org.stack, cc_org.api_key()).messages.create(
        model="@cc-anthropic/claude-opus-4-8",
        max_tokens=64,
        system="top-level prompt",
        messages=system_turn_conversation(marker),  # type: ignore[arg-type]
    )
    assert f"second {marker}" in "".join(b.text for b in message.content if b.type == "text")
    [seen] = upstream_bodies(fake, marker)
    body: dict[str, Any] = seen["body"]  # type: ignore[assignment]
    assert str(seen["path"]).startswith("/anthropic/")
    assert body["system"] == "top-level prompt"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "system"]
    assert body["messages"][-1]["content"] == [{"type": "text", "text": f"mid-conversation rule {marker}"}]


@pytest.mark.parametrize(
    ("model", "turns"),
    [
        ("@cc-anthropic/claude-sonnet-4-6", None),
        ("@cc-vertex/claude-opus-4-8", None),
        ("@cc-anthropic/claude-opus-4-8", "system before a user turn"),
    ],
)
def test_a_system_turn_inside_messages_is_merged_in_order_into_an_anthropic_targets_system_prompt(
    cc_org: Org, fake: FakeServer, model: str, turns: str | None
) -> None:
    """Where Anthropic takes no `system` turn (other models, Vertex, a place it is not allowed), it
    joins the system prompt after the top-level one, and only user and assistant turns remain."""
    marker = secrets.token_hex(6)
    conversation = system_turn_conversation(marker)
    if turns is not None:  # after the assistant turn: a place Anthropic refuses a system turn
        conversation = [*conversation[:2], conversation[3], conversation[2]]
    client = anthropic_sdk(cc_org.stack, cc_org.api_key())
    with client.messages.stream(
        model=model,
        max_tokens=64,
        system="top-level prompt",
        messages=conversation,  # type: ignore[arg-type]
    ) as stream:
        assert f"second {marker}" in "".join(stream.text_stream)
    [seen] = upstream_bodies(fake, marker)
    body: dict[str, Any] = seen["body"]  # type: ignore[assignment]
    assert body["system"] == f"top-level prompt\n\nmid-conversation rule {marker}"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_a_system_turn_holding_an_image_is_refused_with_a_clear_400(cc_org: Org) -> None:
    """Only text can be a system instruction: anything else is named, never dropped silently."""
    response = httpx.post(
        f"{cc_org.stack.gateway_url}/v1/messages",
        headers={"x-api-key": cc_org.api_key(), "anthropic-version": "2023-06-01"},
        json={
            "model": "@cc-openai/gpt-4o-mini",
            "max_tokens": 16,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "system", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
            ],
        },
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert "system message" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("@cc-anthropic/claude-sonnet-4-6", "/anthropic/v1/messages/count_tokens"),
        ("@cc-vertex/claude-opus-4-8", "/publishers/anthropic/models/count-tokens:rawPredict"),
    ],
)
def test_token_counting_is_forwarded_to_anthropic_format_targets_and_exact(
    cc_org: Org, fake: FakeServer, model: str, path: str
) -> None:
    """The SDK's `count_tokens` gets the provider's own count; the upstream got a counting body."""
    marker = secrets.token_hex(6)
    raw = anthropic_sdk(cc_org.stack, cc_org.api_key()).messages.with_raw_response.count_tokens(
        model=model,
        system="count the system prompt too",
        messages=system_turn_conversation(marker),  # type: ignore[arg-type]
    )
    assert raw.headers["x-keyrelay-token-count"] == "exact"
    [seen] = upstream_bodies(fake, marker)
    assert str(seen["path"]).endswith(path)
    body: dict[str, Any] = seen["body"]  # type: ignore[assignment]
    assert "max_tokens" not in body
    # the fake counts words: 5 + 3 (the merged system turn) in the system prompt, 2 + 1 + 2 in the turns
    assert raw.parse().input_tokens == 13
    doc = wait_for_record(cc_org.stack, raw.headers["x-request-id"])
    assert (doc["endpoint"], doc["status"], doc["cost_usd"] or 0) == ("messages.count_tokens", 200, 0)


def test_token_counting_for_other_providers_is_an_estimate_marked_as_such(cc_org: Org, fake: FakeServer) -> None:
    """An OpenAI target has no Anthropic counting endpoint: the gateway estimates and calls no one."""
    marker = secrets.token_hex(6)
    text = "word " * 400
    raw = anthropic_sdk(cc_org.stack, cc_org.api_key()).messages.with_raw_response.count_tokens(
        model="@cc-openai/gpt-4o-mini",
        messages=[{"role": "user", "content": f"{marker} {text}"}],
        tools=[{"name": "lookup", "description": "find", "input_schema": {"type": "object", "properties": {}}}],
    )
    assert raw.headers["x-keyrelay-token-count"] == "estimated"
    assert 400 <= raw.parse().input_tokens <= 800
    assert upstream_bodies(fake, marker) == []


def test_an_anthropic_format_host_without_a_counting_endpoint_gets_an_estimate(cc_org: Org, fake: FakeServer) -> None:
    """A custom host speaking Anthropic's format that answers 404 for counting: estimated, not failed."""
    add_integration(
        cc_org,
        fake,
        "anthropic",
        "cc-no-count",
        ["claude-sonnet-4-6"],
        custom_host={"base_url": f"{fake.root}/no-counting-here", "api_format": "anthropic"},
    )
    raw = anthropic_sdk(cc_org.stack, cc_org.api_key()).messages.with_raw_response.count_tokens(
        model="@cc-no-count/claude-sonnet-4-6", messages=[{"role": "user", "content": "how many"}]
    )
    assert raw.headers["x-keyrelay-token-count"] == "estimated"
    assert raw.parse().input_tokens > 0
    doc = wait_for_record(cc_org.stack, raw.headers["x-request-id"])
    assert [a["status"] for a in doc["attempts"]] == [404]


def test_token_counting_of_an_unknown_model_answers_404_in_anthropics_error_envelope(cc_org: Org) -> None:
    """Routing applies as on `/v1/messages`: no existence leak, Anthropic SDK error types."""
    with pytest.raises(anthropic.NotFoundError) as refused:
        anthropic_sdk(cc_org.stack, cc_org.api_key()).messages.count_tokens(
            model="claude-nope-1", messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["error"]["code"] == "model_not_found"  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "path"), [("HEAD", "/"), ("HEAD", "/api/hello"), ("GET", "/"), ("GET", "/api/hello")]
)
def test_the_probes_claude_code_sends_before_its_first_request_answer_200(
    stack: EmbeddedStack, method: str, path: str
) -> None:
    """`HEAD /` (connectivity preflight) and `/api/hello` (preconnect) are neither 404 nor 405."""
    response = httpx.request(method, f"{stack.gateway_url}{path}", timeout=10)
    assert response.status_code == 200
    assert response.content == b"" if method == "HEAD" else response.json()["status"] == "ok"
