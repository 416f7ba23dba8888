"""The boundary structs: untyped fields pass through untouched, absent stays absent, null stays null,
a client body of the wrong shape is a 400, and an upstream body is read leniently."""

from __future__ import annotations

import msgspec
import pytest

from gateway.wire.openai import ChatChunk, ChatCompletion, ChatRequest, ImageRequest, encode
from shared.errors import KeyrelayError


def test_a_request_goes_out_with_its_untyped_fields_and_nulls_exactly_as_sent() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "seed": None,
        "metadata": {"a": [1, None, {"b": "c"}]},
        "x_vendor": True,
    }
    assert msgspec.json.decode(encode(ChatRequest.from_body(body))) == body


def test_without_drops_typed_and_untyped_fields_and_leaves_the_original_alone() -> None:
    request = ChatRequest.from_body({"messages": [], "n": 2, "x_vendor": 1, "keep": 2})
    trimmed = request.without("n", "x_vendor")
    assert msgspec.json.decode(encode(trimmed)) == {"messages": [], "keep": 2}
    assert msgspec.json.decode(encode(request)) == {"messages": [], "n": 2, "x_vendor": 1, "keep": 2}


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [None]},
        {"messages": [{"role": "user"}], "tools": True},
        {"messages": [], "temperature": "hot"},
        {"messages": "hi"},
    ],
)
def test_a_client_body_of_the_wrong_shape_is_invalid_request(body: dict[str, object]) -> None:
    with pytest.raises(KeyrelayError) as caught:
        ChatRequest.from_body(body)
    assert caught.value.code == "invalid_request"


def test_an_upstream_body_keeps_its_extra_fields_and_is_read_leniently() -> None:
    raw = (
        b'{"id":"x","created":"12","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},'
        b'"finish_reason":"stop"}],"citations":["https://a"]}'
    )
    body = ChatCompletion.decode(raw)
    assert body.created == 12
    assert body.extra == {"citations": ["https://a"]}
    out = msgspec.json.decode(encode(body))
    assert out["citations"] == ["https://a"]
    ChatCompletion.from_json(out)  # what goes out decodes strictly


def test_a_chunk_without_a_delta_field_reads_as_an_empty_delta() -> None:
    chunk = ChatChunk.decode(b'{"id":"c","choices":[{"index":0,"finish_reason":"stop"}]}')
    assert chunk.choices[0].delta.is_empty()
    assert chunk.choices[0].finish_reason == "stop"


def test_media_providers_get_the_prompt_and_every_untyped_field_as_model_input() -> None:
    request = ImageRequest.from_body({"model": "m", "prompt": "boat", "n": 2, "size": "1x1", "seed": 7, "steps": 4})
    assert request.model_input() == {"prompt": "boat", "seed": 7, "steps": 4}
