"""Every request body the gateway reads is decoded here, once, after the caller is authenticated.

One decoder for the inference routes (`json_object`) and for Litestar's `data` parameters on the
management API (`BodyRequest`, the app's request class): malformed input of any kind is a 400 in the
contract's shape and never an unhandled exception (no traceback, no error-level log line):

* not JSON at all                          -> `invalid_json`
* invalid UTF-8, nesting deeper than `MAX_DEPTH`, an integer outside 64 bits, a float out of range
                                           -> `invalid_request`
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.types import Empty

from shared.errors import KeyrelayError

MAX_DEPTH = 64  # JSON containers inside one another; far above any real request, far below the stack
_INT64 = (-(2**63), 2**63 - 1)
_decoder = msgspec.json.Decoder()


def decode_json(raw: bytes) -> Any:
    """Decode a request body, or raise the contract's 400."""
    if not raw.strip():
        raise KeyrelayError("invalid_json", "request body must be a JSON object")
    try:
        value = _decoder.decode(raw)
    except RecursionError:
        raise KeyrelayError("invalid_request", f"request body is nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise KeyrelayError("invalid_request", "request body is not valid UTF-8") from None
    except msgspec.ValidationError:  # msgspec's "Number out of range" for floats such as 1e999
        raise KeyrelayError("invalid_request", "request body has a number out of range") from None
    except msgspec.DecodeError:
        raise KeyrelayError("invalid_json", "request body is not valid JSON") from None
    _check_shape(value)
    return value


def _check_shape(value: Any) -> None:
    """Depth and integer range, without recursion (a deep body must not exhaust the stack here either)."""
    if isinstance(value, int) and not isinstance(value, bool):
        _check_int(value)
    if not isinstance(value, dict | list):
        return
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise KeyrelayError("invalid_request", f"request body is nested deeper than {MAX_DEPTH} levels")
        for item in node.values() if isinstance(node, dict) else node:
            if isinstance(item, dict | list):
                pending.append((item, depth + 1))
            elif type(item) is int:
                _check_int(item)


def _check_int(value: int) -> None:
    if not _INT64[0] <= value <= _INT64[1]:
        raise KeyrelayError("invalid_request", "request body has an integer outside the 64-bit range")


async def json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The body of an inference request: a JSON object."""
    body = decode_json(await request.body())
    if not isinstance(body, dict):
        raise KeyrelayError("invalid_json", "request body must be a JSON object")
    return body


class BodyRequest(Request[Any, Any, Any]):
    """Litestar's request, with `json()` (what feeds every `data` parameter) going through `decode_json`."""

    async def json(self) -> Any:
        if self._json is Empty:
            self._json = self._connection_state.json = decode_json(await self.body())
        return self._json
