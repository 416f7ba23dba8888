"""NATS plumbing shared by every service: connect, typed request-reply, typed responders.

* `connect()` opens a nats-py connection as the service's own NATS user, with a private reply
  inbox prefix (`_INBOX.<service>`) so permissions can confine replies to their requester.
* `BusClient.request()` sends a msgspec Struct and decodes the reply as the type the caller names. "No answer"
  (timeout, no responders, bus down) becomes `DependencyUnavailable` (`dependency_unavailable`);
  a `Failed` reply becomes a `KeyrelayError` carrying the service's own code. The caller chooses the timeout on purpose;
  a `Peer` holds it (and the service's name) for a client that talks to one service.
* `serve()` runs a typed handler behind a queue group and always replies: a handler that raises
  answers `Failed(internal_error)` instead of leaving the caller to time out.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import msgspec
import nats
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg as NatsMsg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from shared import tracing
from shared.errors import DependencyUnavailable, ErrorCode, KeyrelayError, wire_code
from shared.logging import get_logger
from shared.messages.base import Failed
from shared.secret import secret_enc_hook
from shared.settings import CommonSettings

log = get_logger("keyrelay.bus")
_QUOTED_VALUE = re.compile(r"(?<=value) .*?(?= - at `|$)")  # msgspec: "Invalid enum value 'x' - at `$.f`"
Req = TypeVar("Req", bound=msgspec.Struct)
Rep = TypeVar("Rep", bound=msgspec.Struct)

_encoder = msgspec.json.Encoder(enc_hook=secret_enc_hook)
_decoders: dict[object, msgspec.json.Decoder[Any]] = {}


def encode(msg: msgspec.Struct) -> bytes:
    return _encoder.encode(msg)


def decoder_for(tp: object) -> msgspec.json.Decoder[Any]:
    """One cached decoder per type (or union of types)."""
    dec = _decoders.get(tp)
    if dec is None:
        dec = _decoders[tp] = msgspec.json.Decoder(tp)
    return dec


async def connect(
    settings: CommonSettings,
    service: str,
    *,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    max_reconnect_attempts: int = -1,
    connect_timeout: float = 2.0,
) -> NatsClient:
    """Connect as `service` to any server of `KEYRELAY_NATS_URL` (a cluster: the others are tried,
    and learnt from the cluster, when one goes), over TLS when `KEYRELAY_NATS_TLS_CA` names the CA;
    reconnect forever."""
    options = connection_options(
        settings,
        service,
        on_reconnect=on_reconnect,
        max_reconnect_attempts=max_reconnect_attempts,
        connect_timeout=connect_timeout,
    )
    return await nats.connect(**options)


def connection_options(
    settings: CommonSettings,
    service: str,
    *,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    max_reconnect_attempts: int = -1,
    connect_timeout: float = 2.0,
) -> dict[str, Any]:
    """nats-py's connect options for `service` (its own user, its private inbox prefix), also what
    `shared.fastbus` hands to FastStream's broker."""

    async def error_cb(exc: Exception) -> None:
        log.warning("nats.error", error=type(exc).__name__)

    async def disconnected_cb() -> None:
        log.info("nats.disconnected")

    async def reconnected_cb() -> None:
        log.info("nats.reconnected")
        if on_reconnect is not None:
            await on_reconnect()

    options: dict[str, Any] = {
        "servers": settings.nats_servers(),
        "name": f"keyrelay-{service}",
        "error_cb": error_cb,
        "disconnected_cb": disconnected_cb,
        "reconnected_cb": reconnected_cb,
        "max_reconnect_attempts": max_reconnect_attempts,
        "reconnect_time_wait": 0.25,
        "connect_timeout": connect_timeout,
        "allow_reconnect": True,
        "inbox_prefix": f"_INBOX.{service}".encode(),
    }
    if settings.nats_tls_ca:
        options["tls"] = ssl.create_default_context(cafile=settings.nats_tls_ca)
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.reveal() if settings.nats_password else ""
    return options


class BusClient:
    """Typed request-reply over one NATS connection."""

    def __init__(self, nc: NatsClient, default_timeout_s: float = 2.0) -> None:
        self.nc = nc
        self.default_timeout_s = default_timeout_s

    async def request(
        self,
        subject: str,
        msg: msgspec.Struct,
        reply_type: type[Rep],
        *,
        timeout_s: float | None = None,
        headers: Mapping[str, str] | None = None,
        dependency: str | None = None,
    ) -> Rep:
        """Send `msg`, return the decoded reply (never a `Failed`: that raises)."""
        name = dependency or subject.split(".", 1)[0]
        outgoing = {**tracing.headers(), **(headers or {})}
        try:
            reply = await self.nc.request(
                subject,
                encode(msg),
                timeout=timeout_s or self.default_timeout_s,
                headers=outgoing or None,
            )
        except (NatsTimeoutError, TimeoutError, NoRespondersError) as exc:
            raise DependencyUnavailable(f"{name} did not answer") from exc
        except (
            nats.errors.ConnectionClosedError,
            nats.errors.ConnectionReconnectingError,
            nats.errors.OutboundBufferLimitError,
            nats.errors.StaleConnectionError,
        ) as exc:
            raise DependencyUnavailable("message bus unavailable") from exc
        result: Rep | Failed = decoder_for(reply_type | Failed).decode(reply.data)
        if isinstance(result, Failed):
            raise KeyrelayError(wire_code(result.code), result.message, param=result.param)
        return result


class Peer:
    """One service as its callers see it: requests to it time out after `timeout_s` and, unanswered,
    raise `dependency_unavailable` naming it."""

    def __init__(self, bus: BusClient, name: str, timeout_s: float) -> None:
        self.bus = bus
        self.name = name
        self.timeout_s = timeout_s

    async def ask(
        self, subject: str, msg: msgspec.Struct, reply_type: type[Rep], *, timeout_s: float | None = None
    ) -> Rep:
        return await self.bus.request(
            subject, msg, reply_type, timeout_s=timeout_s or self.timeout_s, dependency=self.name
        )


Handler = Callable[[Req, NatsMsg], Awaitable[msgspec.Struct]]


async def serve(
    nc: NatsClient,
    subject: str,
    request_type: type[Req],
    handler: Handler[Req],
    *,
    queue: str = "",
    concurrent: bool = False,
) -> Subscription:
    """Subscribe `handler` to `subject`; every request gets exactly one reply. Requests are answered
    one after another, or with `concurrent` each as its own task (for handlers that are safe to
    interleave, e.g. reads), so a slow request does not hold up the ones behind it."""
    dec: msgspec.json.Decoder[Req] = msgspec.json.Decoder(request_type)
    running: set[asyncio.Task[None]] = set()

    async def answer(raw: NatsMsg) -> None:
        structlog.contextvars.clear_contextvars()
        tracing.adopt(raw.headers)
        reply: msgspec.Struct
        try:
            req = dec.decode(raw.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            reply = malformed(subject, exc)
        else:
            try:
                reply = await handler(req, raw)
            except KeyrelayError as exc:
                reply = refused(exc)
            except Exception as exc:
                reply = crashed(subject, exc)
        if raw.reply:
            with contextlib.suppress(Exception):
                await raw.respond(encode(reply))

    async def on_message(raw: NatsMsg) -> None:
        if not concurrent:
            await answer(raw)
            return
        task = asyncio.create_task(answer(raw))
        running.add(task)
        task.add_done_callback(running.discard)

    subscription = await nc.subscribe(subject, queue=queue, cb=on_message)
    await nc.flush()  # the server knows the subscription before anyone is told the service is up
    return subscription


# The three `Failed` replies a responder gives instead of an answer (here and in `shared.fastbus`).


def malformed(subject: str, exc: Exception) -> Failed:
    """The request did not decode as its type: msgspec's reason (which field, what it expected), without the
    value it quotes for a bad enum or tag (`Invalid enum value 'sk-...'`): a reply never echoes the request."""
    reason = _QUOTED_VALUE.sub("", _short(exc))
    return Failed(code=ErrorCode.INVALID_REQUEST, message=f"malformed {subject} request: {reason}")


def refused(exc: KeyrelayError) -> Failed:
    """The service said no, with its own code."""
    return Failed(code=exc.code, message=exc.message, param=exc.param)


def crashed(subject: str, exc: BaseException) -> Failed:
    """The handler raised: logged with its traceback (no locals), answered as `internal_error`."""
    log.error("bus.handler_crashed", subject=subject, error=type(exc).__name__, exc_info=exc)
    return Failed(code=ErrorCode.INTERNAL_ERROR, message="internal error")


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."
