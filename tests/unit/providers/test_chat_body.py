"""The chat body on its way to an OpenAI-format upstream: sent as the client's bytes where nobody
changed it, fixed up by vendor quirks on the payload's own copy, never changing the client's body."""

from __future__ import annotations

from typing import cast

import aiohttp
import msgspec
import pytest

from gateway.providers.base import Target
from gateway.providers.groq import GroqAdapter
from gateway.providers.minimax import MiniMaxAdapter
from gateway.providers.openai import OpenAIAdapter
from gateway.providers.perplexity import PerplexityAdapter
from gateway.wire.chat_body import ChatInput
from gateway.wire.openai import ChatRequest
from shared.errors import KeyrelayError

NO_SESSION = cast("aiohttp.ClientSession", None)  # these tests never reach the network
TARGET = Target(adapter="openai", provider="openai", base_url="http://h", model="up")
RAW = (
    b'{"model":"alias","temperature":1.0e0,"messages":[{"role":"user","content":"caf\\u00e9",'
    b'"name":"n","x":{"b":2,"a":1}}],"max_tokens":5,"logit_bias":{"50256":-100}}'
)


def test_fields_no_adapter_touches_go_out_as_the_clients_bytes() -> None:
    """Number spelling, escapes and key order inside untouched values survive: no decode, no re-encode."""
    chat = ChatInput(msgspec.json.decode(RAW), RAW)
    sent = msgspec.json.encode(OpenAIAdapter(NO_SESSION).prepare(chat.payload(), TARGET, False).fields)
    assert sent == (
        b'{"model":"up","temperature":1.0e0,"messages":[{"role":"user","content":"caf\\u00e9",'
        b'"name":"n","x":{"b":2,"a":1}}],"logit_bias":{"50256":-100},"max_completion_tokens":5}'
    )


def test_a_quirk_changes_its_own_copy_so_a_failover_sends_the_clients_body_again() -> None:
    chat = ChatInput(msgspec.json.decode(RAW), RAW)
    groq = GroqAdapter(NO_SESSION).prepare(chat.payload(), TARGET, True).fields
    assert groq["messages"] == [{"role": "user", "content": "café", "x": {"b": 2, "a": 1}}]
    assert chat.body["messages"][0]["name"] == "n"
    again = msgspec.json.decode(msgspec.json.encode(chat.payload().fields))
    assert again["messages"][0]["name"] == "n"
    assert "stream" not in again


def test_the_typed_view_is_made_only_when_a_translator_asks_for_it() -> None:
    chat = ChatInput({"model": "m", "messages": "not a list"})
    assert msgspec.json.decode(msgspec.json.encode(chat.payload().fields))["messages"] == "not a list"
    with pytest.raises(KeyrelayError) as refused:
        _ = chat.typed  # what a translator reads: the wrong shape is the client's 400
    assert refused.value.code == "invalid_request"
    request = ChatInput.of(ChatRequest.from_body({"model": "m", "messages": [], "x_vendor": 1}))
    assert request.body == {"model": "m", "messages": [], "x_vendor": 1}
    assert request.typed.get_extra("x_vendor") == 1


@pytest.mark.parametrize(
    "messages",
    ["hi", None, [None, 3, "x"], [{"role": "user", "content": 5}, {"role": "user", "content": [None, {"type": 1}]}]],
)
def test_vendor_quirks_leave_a_body_of_another_shape_for_the_provider_to_refuse(messages: object) -> None:
    body = {"model": "m", "messages": messages, "stream_options": "yes", "service_tier": ["x"]}
    for adapter in (GroqAdapter(NO_SESSION), PerplexityAdapter(NO_SESSION), MiniMaxAdapter(NO_SESSION)):
        sent = adapter.prepare(ChatInput(body).payload(), TARGET, True).fields
        assert sent["stream_options"] == {"include_usage": True}
        msgspec.json.encode(sent)
