"""Messages API pass-through: targets that speak Anthropic's wire format themselves.

The `anthropic` adapter (Anthropic, and custom hosts of the Anthropic format) and Claude models on
Vertex (`rawPredict` / `streamRawPredict`, providers.md 5) get the client's `/v1/messages` body as
sent: every field and block, `cache_control`, thinking blocks with their signatures, documents,
images inside tool results, `context_management`, server tools. Only what routing needs changes:
the model (Vertex: in the URL, with `anthropic_version` in the body instead), the credential, and
`system` turns inside `messages` where the target does not take them (merged into `system`, as
`translate/system_turns.py` says). `anthropic-version` and `anthropic-beta` request headers go
along on an allowlist (`forwarded_headers`); every other client header stays at the gateway.

Answers and stream events are relayed as the provider sent them; their usage (cache reads and
writes included) is read for the activity record and the cost. Every other target is translated
(`translate/anthropic_inbound.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.providers.anthropic import AnthropicAdapter
from gateway.providers.base import CallOptions, Credential, ProviderAdapter, Target
from gateway.providers.http import ProviderStream, decode_json
from gateway.providers.openai_compat import GATEWAY_FIELDS
from gateway.providers.relay import RelayedEvents
from gateway.providers.vertex import VERTEX_ANTHROPIC_VERSION, VertexAdapter, is_claude
from gateway.translate.anthropic import anthropic_usage
from gateway.translate.anthropic_wire import AnthropicUsage
from gateway.translate.system_turns import accepts_system_turns
from gateway.wire.errors import interrupted, map_stream_error
from gateway.wire.openai import Json
from shared.messages.usage import Usage

VERSION_HEADER = "anthropic-version"
BETA_HEADER = "anthropic-beta"
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Anthropic names every beta `<feature>-<YYYY-MM-DD>` (`prompt-caching-2024-07-31`,
# `context-management-2025-06-27`, `interleaved-thinking-2025-05-14`, `claude-code-20250219`):
# a name of that shape only switches a feature of the request on. Betas about the credential
# (`oauth-*`) are not the client's to choose: the gateway sends the organisation's own key.
_BETA = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*-(\d{4}-\d{2}-\d{2}|\d{8})$")
_CREDENTIAL_BETAS = ("oauth-",)
# Claude on Vertex answers 400 "Unexpected value(s) ... for the `anthropic-beta` header" for a beta
# it does not serve, and first-party clients (Claude Code) send many: there, only betas Vertex
# serves go along.
VERTEX_BETAS = frozenset(
    {
        "interleaved-thinking-2025-05-14",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "fine-grained-tool-streaming-2025-05-14",
        "token-efficient-tools-2025-02-19",
    }
)
MESSAGE_END = "message_stop"


SpeaksMessages = AnthropicAdapter | VertexAdapter  # adapters whose chat URL takes a Messages body as it is


def passthrough(adapter: ProviderAdapter, target: Target, cred: Credential, opts: CallOptions) -> Passthrough | None:
    """This attempt's pass-through, when its target takes Messages requests as they are."""
    if isinstance(adapter, AnthropicAdapter) or (isinstance(adapter, VertexAdapter) and is_claude(target.model)):
        return Passthrough(adapter, target, cred, opts)
    return None


def beta_allowed(name: str) -> bool:
    return bool(_BETA.match(name)) and not name.startswith(_CREDENTIAL_BETAS)


def forwarded_headers(headers: Mapping[str, str], *, vertex: bool = False) -> dict[str, str]:
    """The client's `anthropic-version` and allowed `anthropic-beta` names; nothing else. Vertex
    takes its version in the body, and only the betas it serves."""
    out: dict[str, str] = {}
    version = (headers.get(VERSION_HEADER) or "").strip()
    if _VERSION.match(version) and not vertex:
        out[VERSION_HEADER] = version
    names = [name.strip() for name in (headers.get(BETA_HEADER) or "").split(",")]
    betas = [n for n in dict.fromkeys(names) if n and beta_allowed(n) and (not vertex or n in VERTEX_BETAS)]
    if betas:
        out[BETA_HEADER] = ",".join(betas)
    return out


def payload(body: Mapping[str, Any], target: Target, *, stream: bool, vertex: bool = False) -> dict[str, Any]:
    """The client's body as sent, but for the model, `stream` and misplaced `system` turns."""
    out = {k: v for k, v in body.items() if k not in {"model", "stream", *GATEWAY_FIELDS}}
    if stream:
        out["stream"] = True
    messages = out.get("messages")
    if isinstance(messages, list) and any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
        out["messages"], out["system"] = _placed(messages, out.get("system"), target)
    if vertex:
        out["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
    else:
        out["model"] = target.model
    return out


def _placed(messages: list[Any], system: object, target: Target) -> tuple[list[dict[str, Any]], object]:
    """`system` turns left where this target takes them (`translate/system_turns.py`: right after
    a user turn, last or before an assistant turn); the others' text appended to `system`, in
    order, and the turns around them merged so roles still alternate."""
    keeps = accepts_system_turns(target.provider, target.model)
    turns = [{**m, "content": _blocks(m.get("content"))} for m in messages if isinstance(m, dict)]
    placed: list[dict[str, Any]] = []
    texts: list[str] = []
    for i, turn in enumerate(turns):
        if turn.get("role") == "system":
            after = turns[i + 1].get("role") if i + 1 < len(turns) else None
            if keeps and placed and placed[-1].get("role") == "user" and after in {None, "assistant"}:
                placed.append(turn)
            else:
                texts += [str(b.get("text", "")) for b in turn["content"] if b.get("text")]
        elif placed and placed[-1].get("role") == turn.get("role"):
            placed[-1]["content"] = [*placed[-1]["content"], *turn["content"]]
        else:
            placed.append(turn)
    if not texts:
        return placed, system
    if isinstance(system, list):  # blocks (maybe with `cache_control`) stay as they are, the turns follow
        return placed, [*system, *({"type": "text", "text": text} for text in texts)]
    return placed, "\n\n".join([system, *texts] if isinstance(system, str) and system else texts)


def _blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [dict(b) for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def usage_of(raw: object, previous: Usage | None = None) -> Usage:
    """Anthropic `usage` JSON (cache reads and writes included) as a `Usage`."""
    try:
        typed = msgspec.convert(raw, AnthropicUsage, strict=False) if isinstance(raw, dict) else None
    except msgspec.ValidationError:
        typed = None
    return anthropic_usage(typed, previous)


@dataclass(frozen=True, slots=True)
class Passthrough:
    """One attempt's Messages calls through an adapter that speaks them: the body as sent, bar what
    `payload` changes for the target, and the client's allowlisted headers."""

    adapter: SpeaksMessages
    target: Target
    cred: Credential
    opts: CallOptions

    def _sent(self, body: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
        return payload(body, self.target, stream=stream, vertex=isinstance(self.adapter, VertexAdapter))

    def _headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        return forwarded_headers(client_headers, vertex=isinstance(self.adapter, VertexAdapter))

    async def create(
        self, body: Mapping[str, Any], client_headers: Mapping[str, str]
    ) -> tuple[dict[str, Any], Usage, dict[str, str]]:
        """One non-streaming Messages call: (the message as sent, its usage, headers to pass on)."""
        adapter, target, cred = self.adapter, self.target, self.cred
        url = adapter.chat_url(target, cred, False)
        extra = self._headers(client_headers)
        raw, headers = await adapter.exchange(
            url, self._sent(body, stream=False), cred, target, self.opts, extra_headers=extra
        )
        try:
            answer = decode_json(raw)
        except msgspec.DecodeError:
            raise interrupted(adapter.name, "malformed response body") from None
        if not isinstance(answer, dict):
            raise interrupted(adapter.name, "response body is not a message")
        return answer, usage_of(answer.get("usage")), headers

    async def open_stream(
        self, body: Mapping[str, Any], client_headers: Mapping[str, str]
    ) -> ProviderStream[Json]:
        adapter, target, cred = self.adapter, self.target, self.cred
        url = adapter.chat_url(target, cred, True)
        extra = self._headers(client_headers)
        response = await adapter.open(url, self._sent(body, stream=True), cred, target, self.opts, extra_headers=extra)
        return ProviderStream(adapter.name, response, EventReader(adapter.name), self.opts)

    async def count_tokens(self, body: Mapping[str, Any]) -> int:
        """The provider's token count for the body this target would be sent."""
        return await self.adapter.count_messages(self._sent(body, stream=False), self.target, self.cred, self.opts)


class EventReader(RelayedEvents):
    """The `StreamTranslator` of a Messages stream: events pass as they are (`ping` included),
    `message_start`/`message_delta` usage is read on the way, an `error` event raises."""

    end_event = MESSAGE_END

    def read(self, kind: object, data: Json) -> None:
        if kind == "error":
            raise map_stream_error(self._provider, data)
        if kind == "message_start" and isinstance(data.get("message"), dict):
            self.usage = usage_of(data["message"].get("usage"), self.usage)
        elif kind == "message_delta":
            self.usage = usage_of(data.get("usage"), self.usage)
        elif kind == MESSAGE_END:
            self.finished = True
