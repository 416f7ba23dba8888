"""Fixtures for adapter tests: the shared fake provider server, a plain session, the registry.

`Case` describes how to reach one chat adapter on the fake (base URL, model, options, credential);
`CASES` lists every chat adapter, so conformance tests run against all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from gateway.providers.base import CallOptions, Credential, ProviderAdapter, Target
from gateway.providers.registry import build_adapters
from gateway.wire.chat_body import ChatInput
from gateway.wire.openai import ChatChunk, ChatCompletion, encode
from shared.secret import Secret
from tests.fakes.providers import FakeOptions, run_fake_providers
from tests.fakes.providers.families.vertex import TOKEN_PATH
from tests.fakes.providers.registry import ALL_FAMILIES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.fakes.providers import FakeProviderServer

KEYS = {family.name: f"{family.name}-key-0123456789abcdef" for family in ALL_FAMILIES}
FAST = CallOptions(timeout_s=10.0, first_byte_timeout_s=5.0)


@dataclass(frozen=True, slots=True)
class Case:
    adapter: str
    model: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.adapter}:{self.model}"

    @property
    def family(self) -> str:
        return self.adapter

    @property
    def vertex(self) -> bool:
        return self.adapter == "vertex"


CASES = [
    Case("openai", "gpt-5.4-mini"),
    Case("anthropic", "claude-sonnet-4-6"),
    Case("google", "gemini-2.5-flash"),
    Case("vertex", "gemini-2.5-flash", {"location": "us-central1"}),
    Case("vertex", "claude-sonnet-4-6", {"location": "global"}),
    Case("azure", "gpt-4o-mini", {"api_version": "2024-10-21"}),
    Case("groq", "qwen/qwen3-32b"),
    Case("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    Case("fireworks", "accounts/fireworks/models/gpt-oss-120b"),
    Case("deepinfra", "deepseek-ai/DeepSeek-V3"),
    Case("baseten", "openai/gpt-oss-120b"),
    Case("nebius", "openai/gpt-oss-120b"),
    Case("perplexity", "sonar"),
    Case("moonshot", "kimi-k2.6"),
    Case("minimax", "MiniMax-M3"),
    Case("xai", "grok-4.5"),
    Case("cohere", "command-a-03-2025"),
]


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeProviderServer]:
    """One fake server per module that knows one key per family (fast SSE writes keep tests quick)."""
    async with run_fake_providers(
        {name: [key] for name, key in KEYS.items()}, options=FakeOptions(write_delay_s=0.0005)
    ) as server:
        yield server


@pytest.fixture(scope="module")
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """The adapters' shared session, reused across calls as in the gateway."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture(scope="module")
async def adapters(fake: FakeProviderServer, session: aiohttp.ClientSession) -> dict[str, ProviderAdapter]:
    """The registry, with the Vertex token endpoint pointed at the fake."""
    return build_adapters(session, {"vertex-token": fake.root + TOKEN_PATH})


@pytest.fixture(scope="module")
def service_account(fake: FakeProviderServer) -> dict[str, str]:
    """A service-account key file the fake token endpoint accepts."""
    return fake.new_service_account("proj-test")


def target_for(fake: FakeProviderServer, case: Case, model: str | None = None) -> Target:
    base = fake.base_urls()[case.family].replace("{resource_name}", "res-1")
    options = dict(case.options)
    if case.adapter == "azure":
        options["deployment"] = model or case.model
    return Target(adapter=case.adapter, provider=case.family, base_url=base, model=model or case.model, options=options)


def credential_for(case: Case, service_account: dict[str, str], key: str | None = None) -> Credential:
    if case.vertex:
        return Credential(service_account_json=Secret(msgspec.json.encode(service_account).decode()))
    return Credential(api_key=Secret(key or KEYS[case.family]))


def user(text: str = "hi there", **extra: Any) -> dict[str, Any]:
    return {"model": "client-model", "messages": [{"role": "user", "content": text}], **extra}


def chat_input(body: dict[str, Any]) -> ChatInput:
    """A client's chat body as the gateway hands it to adapters (its JSON as sent)."""
    return ChatInput(body, msgspec.json.encode(body))


def as_json(value: Any) -> Any:
    return msgspec.json.decode(encode(value))


def strict_completion(body: ChatCompletion) -> dict[str, Any]:
    """An adapter's answer as the client gets it, after checking it decodes strictly as a completion."""
    out = as_json(body)
    ChatCompletion.from_json(out)
    assert out["object"] == "chat.completion"
    return out


def strict_chunk(chunk: ChatChunk) -> dict[str, Any]:
    """A streamed chunk as the client gets it, after checking it decodes strictly as a chunk."""
    out = as_json(chunk)
    ChatChunk.from_json(out)
    assert out["object"] == "chat.completion.chunk"
    return out
