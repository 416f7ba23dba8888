"""An inference answer's JSON response: the same ASGI messages Litestar's own response sends."""

from __future__ import annotations

from typing import Any

from litestar import Response
from litestar.datastructures import Cookie

from gateway.api.json_answer import JsonAnswer, RawResponse


async def messages_of(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        raise AssertionError("an answer reads nothing")

    await app({"type": "http"}, receive, send)
    return sent


async def test_an_answer_sends_what_litestars_response_sends_for_the_same_body_and_headers() -> None:
    body, headers = b'{"id":"x"}', {"x-request-id": "req_1", "X-Keyrelay-Attempts": "1"}
    ours = JsonAnswer(body, headers).to_asgi_response(None, None)  # type: ignore[arg-type]
    theirs = Response(body, media_type="application/json", headers=headers).to_asgi_response(None, None)  # type: ignore[arg-type]
    assert isinstance(ours, RawResponse)
    assert await messages_of(ours) == await messages_of(theirs)
    assert (await messages_of(ours))[0]["headers"] == [
        (b"x-request-id", b"req_1"),
        (b"x-keyrelay-attempts", b"1"),
        (b"content-type", b"application/json"),
        (b"content-length", b"10"),
    ]


async def test_an_error_status_is_kept() -> None:
    app = JsonAnswer(b"{}", {}, status=404).to_asgi_response(None, None)  # type: ignore[arg-type]
    assert (await messages_of(app))[0]["status"] == 404


async def test_anything_a_route_adds_goes_through_litestars_own_response() -> None:
    answer = JsonAnswer(b"{}", {"x-request-id": "req_1"})
    merged = answer.to_asgi_response(None, None, headers={"x-route": "1"})  # type: ignore[arg-type]
    assert not isinstance(merged, RawResponse)
    assert (b"x-route", b"1") in (await messages_of(merged))[0]["headers"]
    with_cookie = answer.to_asgi_response(None, None, cookies=[Cookie(key="k", value="v")])  # type: ignore[arg-type]
    assert not isinstance(with_cookie, RawResponse)
