"""Responses API pass-through: OpenAI-format targets that serve `POST /responses` themselves.

providers.md names `/responses` for OpenAI (2.1) and xAI (16): those get the client's request as
sent, with only the model and the credential changed (and `previous_response_id` already
expanded by the gateway, which keeps the context itself). Every other target, custom OpenAI-format
hosts and Azure included, is translated to chat completions (`translate/responses.py`).

A stream is relayed event by event; `error` and `response.failed` events become a `ProviderError`
(before the first event that is still a failover; after it the client gets the gateway's own
`response.failed`), `response.completed` / `response.incomplete` end it and carry the usage.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from gateway.providers.base import CallOptions, Credential, ProviderAdapter, Target
from gateway.providers.http import ProviderStream, read_json
from gateway.providers.openai_compat import GATEWAY_FIELDS, OpenAICompatAdapter
from gateway.providers.relay import RelayedEvents
from gateway.translate.responses import ResponseUsage
from gateway.wire.errors import map_stream_error, passthrough_headers
from gateway.wire.openai import Json
from shared.messages.usage import Usage

RESPONSES_PROVIDERS = frozenset({"openai", "xai"})
RESPONSES_PATH = "/responses"
TERMINAL = frozenset({"response.completed", "response.incomplete"})


def serves_responses(adapter: ProviderAdapter, target: Target) -> OpenAICompatAdapter | None:
    """The adapter, when this target takes Responses requests as they are."""
    if not isinstance(adapter, OpenAICompatAdapter) or adapter.name != target.provider:
        return None  # e.g. a custom OpenAI-format host served by the `openai` adapter
    return adapter if target.provider in RESPONSES_PROVIDERS else None


def usage_of(raw: object) -> Usage:
    """Responses `usage` JSON as a `Usage` (zeros when absent or malformed)."""
    try:
        return msgspec.convert(raw, ResponseUsage).normalised() if isinstance(raw, dict) else Usage()
    except msgspec.ValidationError:
        return Usage()


def payload(body: Mapping[str, object], target: Target, *, stream: bool) -> dict[str, object]:
    """The client's body as sent, but for the model (and `models`, which the gateway consumes)."""
    out = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS}
    out["model"] = target.model
    if stream:
        out["stream"] = True
    else:
        out.pop("stream", None)
        out.pop("stream_options", None)
    return out


async def create(
    adapter: OpenAICompatAdapter, body: Mapping[str, object], target: Target, cred: Credential, opts: CallOptions
) -> tuple[dict[str, object], dict[str, str]]:
    """One non-streaming Responses call: (the response object, headers to pass on)."""
    response = await adapter.post(RESPONSES_PATH, payload(body, target, stream=False), target, cred, opts)
    headers = passthrough_headers(response.headers)
    answer: dict[str, object] = await read_json(adapter.name, response)
    return answer, headers


async def open_stream(
    adapter: OpenAICompatAdapter, body: Mapping[str, object], target: Target, cred: Credential, opts: CallOptions
) -> ProviderStream[Json]:
    response = await adapter.post(RESPONSES_PATH, payload(body, target, stream=True), target, cred, opts, stream=True)
    return ProviderStream(adapter.name, response, EventReader(adapter.name), opts)


class EventReader(RelayedEvents):
    """The `StreamTranslator` of a Responses stream: events pass as they are, failures raise."""

    end_event = "response.completed"

    def read(self, kind: object, data: Json) -> None:
        if kind == "error":
            raise map_stream_error(self._provider, {"error": data})
        response = data.get("response")
        if kind == "response.failed":
            error = response.get("error") if isinstance(response, dict) else None
            raise map_stream_error(self._provider, {"error": error if isinstance(error, dict) else {}})
        if kind in TERMINAL and isinstance(response, dict):
            self.usage = usage_of(response.get("usage"))
            self.finished = True
