"""Faults chosen by model name (`gpt-x-fault-429`, `claude-fault-cut-3`...) and how they are applied.

A model name may carry several markers, e.g. `m-fault-slow-ttft-300ms-fault-cut-2`. Errors are
rendered by the family (its status, envelope and headers); connection faults are generic.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, NoReturn, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from tests.fakes.providers.state import FakeState


class FaultKind(StrEnum):
    RATE_LIMIT = "429"
    RATE_LIMIT_NO_RETRY = "429-noretry"
    SERVER_ONCE = "500-once"
    UNAVAILABLE = "503"
    OVERLOADED = "529"
    RESET = "reset"
    HANG = "hang"
    SLOW_TTFT = "slow-ttft"
    CUT = "cut"
    STALL = "stall"
    MALFORMED = "malformed"
    NO_DONE = "no-done"
    CONTEXT_LENGTH = "context-length"
    FLAP = "flap"
    UNAUTHORIZED = "401"
    NO_CREDITS = "no-credits"
    MIDSTREAM_ERROR = "midstream-error"
    CONTENT_FILTER = "content-filter"
    JOB_FAIL = "job-fail"
    UNKNOWN_MODEL = "unknown-model"  # the provider has no such model: its own 404


class ErrorKind(StrEnum):
    """Provider-neutral error situations; each family renders them its own way."""

    AUTH_MISSING = "auth_missing"
    AUTH_INVALID = "auth_invalid"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    RATE_LIMITED_NO_HINT = "rate_limited_no_hint"
    QUOTA = "quota"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    OVERLOADED = "overloaded"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"


class ErrorRenderer(Protocol):
    def __call__(self, kind: ErrorKind, message: str | None = None) -> web.Response: ...


RETRY_AFTER_S = 1
DEFAULT_TTFT_S = 2.0
_MARKER = re.compile(
    r"fault-(?P<kind>429-noretry|429|500-once|503|529|reset|hang|"
    r"slow-ttft(?:-(?P<ttft>\d+)(?P<unit>ms|s))?|cut-(?P<cut>\d+)|stall|malformed|no-done|"
    r"context-length|flap|401|no-credits|midstream-error|content-filter|job-fail|unknown-model)"
)


@dataclass(frozen=True, slots=True)
class Faults:
    kinds: frozenset[FaultKind] = frozenset()
    cut_after: int = 0
    ttft_s: float = DEFAULT_TTFT_S

    def __contains__(self, kind: object) -> bool:
        return kind in self.kinds


def parse_faults(model: str) -> Faults:
    """Read every `fault-...` marker in a model name."""
    kinds: set[FaultKind] = set()
    cut_after, ttft_s = 0, DEFAULT_TTFT_S
    for match in _MARKER.finditer(model):
        kind = match["kind"]
        if kind.startswith("cut-"):
            kinds.add(FaultKind.CUT)
            cut_after = int(match["cut"])
        elif kind.startswith("slow-ttft"):
            kinds.add(FaultKind.SLOW_TTFT)
            if match["ttft"]:
                ttft_s = int(match["ttft"]) / (1000 if match["unit"] == "ms" else 1)
        else:
            kinds.add(FaultKind(kind))
    return Faults(frozenset(kinds), cut_after, ttft_s)


_ERROR_FAULTS: tuple[tuple[FaultKind, ErrorKind], ...] = (
    (FaultKind.UNAUTHORIZED, ErrorKind.AUTH_INVALID),
    (FaultKind.RATE_LIMIT_NO_RETRY, ErrorKind.RATE_LIMITED_NO_HINT),
    (FaultKind.RATE_LIMIT, ErrorKind.RATE_LIMITED),
    (FaultKind.UNAVAILABLE, ErrorKind.UNAVAILABLE),
    (FaultKind.OVERLOADED, ErrorKind.OVERLOADED),
    (FaultKind.CONTEXT_LENGTH, ErrorKind.CONTEXT_LENGTH),
    (FaultKind.NO_CREDITS, ErrorKind.QUOTA),
    (FaultKind.UNKNOWN_MODEL, ErrorKind.NOT_FOUND),
)


async def apply_faults(
    request: web.Request, faults: Faults, errors: ErrorRenderer, state: FakeState, model: str
) -> web.Response | None:
    """Apply the faults that act before the first byte; return the error response, if any."""
    if FaultKind.SLOW_TTFT in faults:
        await asyncio.sleep(faults.ttft_s)
    for fault, error in _ERROR_FAULTS:
        if fault in faults:
            return errors(error)
    scope = f"{request.path.split('/')[1]}:{request.headers.get('x-test-id') or model}"
    if FaultKind.SERVER_ONCE in faults and state.bump(f"500-once:{scope}") == 0:
        return errors(ErrorKind.SERVER_ERROR)
    if FaultKind.FLAP in faults and state.bump(f"flap:{scope}") % 2 == 0:
        return errors(ErrorKind.UNAVAILABLE)
    if FaultKind.RESET in faults:
        await reset_connection(request)
    if FaultKind.HANG in faults:
        await hang_forever()
    return None


async def hang_forever() -> NoReturn:
    """Never answer; the handler is cancelled when the client goes away or the server stops."""
    while True:
        await asyncio.sleep(3600)


async def reset_connection(request: web.Request) -> NoReturn:
    """Drop the connection with a TCP RST (SO_LINGER 0), then wait to be cancelled."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    await hang_forever()


async def close_connection(request: web.Request) -> NoReturn:
    """Close the connection after flushing what was written (no end of body), then wait to be cancelled."""
    if request.transport is not None:
        request.transport.close()
    await hang_forever()
