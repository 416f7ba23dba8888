"""The FastStream side of the bus, for catalog and activity: same subjects, same messages, same replies
as `shared.bus` (which keyvault and the gateway keep using; this module is never imported there, as
FastStream pulls in pydantic).

* `broker()` — a `NatsBroker` connected as the service's own NATS user with its private inbox prefix
  (the options of `shared.bus.connection_options`), msgspec for bodies (`BusSerializer`: the `Secret`
  encoding hook kept, FastDepends' error formatting off), FastStream's own logger silenced (our
  structlog lines, with redaction, say what happened) and two middlewares:
* `TraceContext` — clears structlog's contextvars, then adopts the message's trace context, per message;
* `replies` — an `ExceptionMiddleware` whose handlers publish a typed `Failed` for a known error
  (`KeyrelayError`, its own code), invalid input (`invalid_request`, msgspec's reason without the
  value) and a crash (`internal_error`, logged): every request is answered, as `shared.bus.serve` does.
* `start()` — starts the app (hooks, broker, subscribers) and flushes, so the server knows every
  subscription before the service reports itself started.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import msgspec
from fast_depends.msgspec import MsgSpecSerializer
from faststream import BaseMiddleware, Context, FastStream
from faststream.middlewares import ExceptionMiddleware
from faststream.nats import NatsBroker, NatsMessage, NatsUserPassword
from faststream.security import BaseSecurity
from nats.aio.client import Client as NatsClient

from shared import tracing
from shared.bus import connection_options, crashed, malformed, refused
from shared.errors import KeyrelayError
from shared.messages.base import Failed
from shared.secret import secret_enc_hook
from shared.settings import CommonSettings

# Requests a subscriber declared concurrent answers side by side (each as its own task); more wait their turn.
CONCURRENT_WORKERS: Final = 64
# How long a stop waits for the requests being answered (the runner's whole stop grace is 4 s).
GRACEFUL_TIMEOUT_S: Final = 2.0

_encoder = msgspec.json.Encoder(enc_hook=secret_enc_hook)
_PARAMETER_PATH = re.compile(r"`\$\.[A-Za-z_]\w*")


class BusSerializer(MsgSpecSerializer):
    """msgspec both ways: request Structs decoded and validated by msgspec, replies encoded by msgspec with
    the `Secret` hook (a secret that reaches the encoder becomes `[redacted]`). FastDepends' error
    formatting is off: its `ValidationError` quotes the whole input, msgspec's names the field."""

    def __init__(self) -> None:
        super().__init__(use_fastdepends_errors=False)

    @staticmethod
    def encode(message: Any) -> bytes:
        if isinstance(message, bytes):
            return message
        return _encoder.encode(message)


class TraceContext(BaseMiddleware):
    """Per message: forget the previous message's log context, adopt this one's trace (`traceparent`,
    `x-request-id`), so a responder's log lines carry the caller's trace id."""

    async def on_receive(self) -> None:
        tracing.forget()
        tracing.adopt(getattr(self.msg, "headers", None))


def _subject(message: NatsMessage | None) -> str:
    raw = getattr(message, "raw_message", None)
    return str(getattr(raw, "subject", "") or "")


async def _known(exc: KeyrelayError) -> Failed:
    return refused(exc)


async def _invalid(
    exc: msgspec.ValidationError,
    message: NatsMessage | None = Context("message", default=None),  # noqa: B008 - FastStream's injection
) -> Failed:
    # FastDepends validates {"<parameter>": body}: the path names the handler's parameter first, which
    # is no part of the message (`$.req.kind` is the request's `$.kind`, as nats-py responders say)
    return malformed(_subject(message), _WithoutParameter(exc))


class _WithoutParameter(Exception):
    def __init__(self, exc: Exception) -> None:
        super().__init__(_PARAMETER_PATH.sub("`$", str(exc), count=1))


async def _crashed(
    exc: Exception,
    message: NatsMessage | None = Context("message", default=None),  # noqa: B008 - FastStream's injection
) -> Failed:
    return crashed(_subject(message), exc)


def replies() -> ExceptionMiddleware:
    """Every failure becomes a `Failed` reply (the most specific handler wins, by the exception's MRO)."""
    return ExceptionMiddleware(
        publish_handlers={
            KeyrelayError: _known,
            msgspec.ValidationError: _invalid,
            msgspec.DecodeError: _invalid,
            Exception: _crashed,
        }
    )


def broker(settings: CommonSettings, service: str) -> NatsBroker:
    """The service's broker: its own NATS user and inbox prefix, msgspec bodies, typed failure replies."""
    options = connection_options(settings, service)
    user = options.pop("user", None)
    password = options.pop("password", "")
    tls = options.pop("tls", None)  # FastStream takes TLS and credentials through `security`
    security: BaseSecurity | None = None
    if user:
        security = NatsUserPassword(user, password, ssl_context=tls, use_ssl=tls is not None)
    elif tls is not None:
        security = BaseSecurity(ssl_context=tls, use_ssl=True)
    return NatsBroker(
        options.pop("servers"),
        security=security,
        serializer=BusSerializer(),
        middlewares=(TraceContext, replies()),
        logger=None,
        graceful_timeout=GRACEFUL_TIMEOUT_S,
        **options,
    )


Hook = Callable[[], Awaitable[None]]


def app(nats_broker: NatsBroker, *, on_startup: Sequence[Hook] = (), on_shutdown: Sequence[Hook] = ()) -> FastStream:
    """The FastStream application (FastStream's own logger silenced like the broker's). `on_startup` runs
    before the subscribers start, `on_shutdown` before they stop and the connection drains."""
    return FastStream(nats_broker, logger=None, on_startup=on_startup, on_shutdown=on_shutdown)


async def start(application: FastStream) -> NatsClient:
    """Start the app (hooks, broker, subscribers), then flush: the server knows every subscription
    before anyone is told the service is up. Returns the connection (for nats-py clients on it)."""
    await application.start()
    nats_broker = application.broker
    if not isinstance(nats_broker, NatsBroker):
        raise TypeError("a FastStream app of Keyrelay runs one NatsBroker")
    nc = await nats_broker.connect()
    await nc.flush()
    return nc


__all__ = ["CONCURRENT_WORKERS", "BusSerializer", "TraceContext", "app", "broker", "replies", "start"]
