"""One mapping from every error to the contract's body `{"error": {message, type, code, param}}`."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from shared.errors import ErrorCode, KeyrelayError, error_body
from shared.logging import get_logger

log = get_logger("keyrelay.gateway.errors")

_STATUS_CODES = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.DEPENDENCY_UNAVAILABLE,
}


def error_response(exc: KeyrelayError, request_id: str | None = None) -> Response[bytes]:
    headers = dict(exc.headers)
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, round(exc.retry_after)))
    if request_id:
        headers["x-request-id"] = request_id
    return Response(
        msgspec.json.encode(exc.body()), status_code=exc.status, media_type="application/json", headers=headers
    )


def handle_keyrelay_error(request: Request[Any, Any, Any], exc: KeyrelayError) -> Response[bytes]:
    return error_response(exc, request.scope.get("state", {}).get("request_id"))


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    code = _STATUS_CODES.get(
        exc.status_code, ErrorCode.INTERNAL_ERROR if exc.status_code >= 500 else ErrorCode.INVALID_REQUEST
    )
    if isinstance(exc, NotFoundException):
        message = "no such endpoint"
    elif isinstance(exc, ValidationException):
        message = _validation_message(exc)
        code = ErrorCode.INVALID_JSON if "malformed" in f"{message} {exc.detail}".lower() else ErrorCode.INVALID_REQUEST
    elif exc.status_code == 413:
        message = "request body too large"
    else:
        message = str(exc.detail)[:300] if exc.status_code < 500 else "internal error"
    if exc.status_code == 400 and "json is malformed" in message.lower():
        code = ErrorCode.INVALID_JSON
    body = msgspec.json.encode(error_body(code, message))
    return Response(
        body,
        status_code=exc.status_code if exc.status_code != 500 else 500,
        media_type="application/json",
        headers=dict(exc.headers or {}),
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("gateway.unhandled", error=type(exc).__name__, path=request.url.path, exc_info=exc)
    body = msgspec.json.encode(error_body(ErrorCode.INTERNAL_ERROR, "internal error"))
    return Response(body, status_code=HTTP_500_INTERNAL_SERVER_ERROR, media_type="application/json")


def _validation_message(exc: ValidationException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    if extra and isinstance(extra[0], dict):
        first = extra[0]
        key = first.get("key") or first.get("source") or ""
        msg = str(first.get("message", "invalid value"))[:200]
        return f"{msg} ({key})" if key else msg
    return str(exc.detail)[:200] or "invalid request"
