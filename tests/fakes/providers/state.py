"""Mutable state of one fake server: keys, options, recorded requests, counters, OAuth material, jobs."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterable, Mapping

    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey


@dataclass(slots=True)
class FakeOptions:
    """Behaviour toggles; tests change them through the constructor or `POST /__admin/options`."""

    write_delay_s: float = 0.002  # pause between the awkward SSE writes so they reach the client apart
    token_expires_in: int = 3599  # Vertex access-token lifetime (set it low to test refresh)
    anthropic_reject_temperature_and_top_p: bool = True
    gemini_require_thought_signature: bool = True  # gemini-3* models only, as upstream
    job_polls_to_complete: int = 2  # FAL/Pollo: status polls before a job completes
    webhook_deliveries: int = 2  # FAL/Pollo: every webhook is delivered this many times
    webhook_delay_s: float = 0.05
    pollo_webhook_secret: str = base64.b64encode(b"fake-pollo-webhook-secret").decode()


class RecordedRequest(msgspec.Struct, kw_only=True):
    """One request as the fake received it; header values are never kept, only names."""

    provider: str
    method: str
    path: str
    query: dict[str, str]
    header_names: list[str]
    # values of the few headers that are never secret and that tests check arrive intact
    header_values: dict[str, str] = {}
    body: Any = None
    form_fields: list[str] = []
    auth_ok: bool | None = None
    key_in_url: bool = False
    test_id: str | None = None
    at: float = 0.0


@dataclass(slots=True)
class Job:
    """A FAL request or a Pollo task moving through its queue states by polls (or by the webhook timer)."""

    id: str
    provider: str
    app: str
    payload: dict[str, Any]
    webhook_url: str | None = None
    fail: bool = False
    polls: int = 0
    completed: bool = False
    cancelled: bool = False


@dataclass(slots=True)
class FakeState:
    """Everything the handlers share. One instance per server; only touched from the server's loop."""

    keys: dict[str, set[str]] = field(default_factory=dict)
    options: FakeOptions = field(default_factory=FakeOptions)
    requests: list[RecordedRequest] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    service_accounts: dict[str, RSAPublicKey] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry (epoch seconds)
    jobs: dict[str, Job] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    prompt_cache: set[str] = field(default_factory=set)  # Anthropic: hashes of cached prompt prefixes

    @classmethod
    def create(cls, keys: Mapping[str, Iterable[str]] | None, options: FakeOptions | None) -> FakeState:
        state = cls(options=options or FakeOptions())
        for provider, values in (keys or {}).items():
            for key in values:
                state.add_key(provider, key)
        return state

    def add_key(self, provider: str, key: str) -> None:
        self.keys.setdefault(provider, set()).add(key)

    def key_ok(self, provider: str, key: str | None) -> bool:
        return bool(key) and key in self.keys.get(provider, set())

    def secrets(self) -> Iterable[str]:
        """Every credential value the fake knows: registered keys and issued access tokens."""
        for values in self.keys.values():
            yield from values
        yield from self.tokens

    def token_ok(self, token: str | None) -> bool:
        return token is not None and self.tokens.get(token, 0.0) > time.time()

    def bump(self, name: str) -> int:
        """Count one call under `name`; returns how many calls came before this one."""
        seen = self.counters[name]
        self.counters[name] = seen + 1
        return seen

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background job (webhook delivery) that the server cancels on shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
