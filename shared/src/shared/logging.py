"""structlog configuration shared by every service: one processor chain, contextvars, redaction.

`redact` is the last line of defence: a `Secret` renders as `[redacted]`, and any field whose name
says it holds a credential is replaced whatever its type. Call sites still never log secrets.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Final, TextIO

import msgspec
import structlog

from shared.secret import REDACTED, Secret

SECRET_FIELD_PARTS: Final = (
    "api_key",
    "apikey",
    "secret",
    "password",
    "token",
    "authorization",
    "credential",
    "private_key",
    "service_account",
    "kek",
    "cookie",
)
SAFE_FIELDS: Final = frozenset(
    {
        "api_key_id",
        "token_kind",
        "credential_fingerprint",
        "kek_id",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "tokens",
    }
)


def _scrub(key: str, value: Any) -> Any:
    lowered = key.lower()
    if lowered not in SAFE_FIELDS and any(part in lowered for part in SECRET_FIELD_PARTS):
        return REDACTED
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, dict):
        return {k: _scrub(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [REDACTED if isinstance(v, Secret) else v for v in value]
    return value


def redact(_: object, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return {key: _scrub(key, value) for key, value in event.items()}


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Secret):
        return REDACTED
    return repr(obj)


def _serialize(obj: Any, **_: Any) -> str:
    return msgspec.json.encode(obj, enc_hook=_json_default).decode()


def configure_logging(
    *, fmt: str = "console", level: str = "info", service: str = "", cache: bool = True, stream: TextIO | None = None
) -> None:
    """Configure structlog and route stdlib logging through the same renderer."""
    # Tracebacks never include frame locals: a local may hold settings with keys, or a request body.
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_serialize)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    if service:
        processors.insert(1, _add_service(service))
    if fmt == "json":
        processors.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False, max_frames=20)
            )
        )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=cache,
    )
    logging.basicConfig(
        level=max(numeric, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )


def _add_service(service: str) -> Any:
    def add(_: object, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return add


def get_logger(name: str = "keyrelay") -> Any:
    return structlog.get_logger(name)
