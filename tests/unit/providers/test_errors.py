"""The one error mapping: (provider, status, body, headers) -> stable code, retry hint, safe message."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.wire.errors import map_error, map_stream_error, passthrough_headers, retry_after_s

KEY = "sk-proj-AbC123xyz987secret"
GOOGLE_RETRY = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}

TABLE: list[tuple[str, int, Any, dict[str, str], str]] = [
    (
        "openai",
        401,
        {
            "error": {
                "message": f"Incorrect API key provided: {KEY}",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        },
        {},
        "upstream_auth_failed",
    ),
    (
        "openai",
        429,
        {"error": {"message": "Rate limit", "type": "requests", "code": "rate_limit_exceeded"}},
        {"retry-after": "2"},
        "upstream_rate_limited",
    ),
    (
        "openai",
        429,
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        },
        {},
        "upstream_insufficient_quota",
    ),
    (
        "openai",
        400,
        {
            "error": {
                "message": "This model's maximum context length is 128000 tokens.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            }
        },
        {},
        "context_length_exceeded",
    ),
    (
        "openai",
        400,
        {"error": {"message": "bad", "type": "invalid_request_error", "code": None}},
        {},
        "upstream_bad_request",
    ),
    (
        "openai",
        404,
        {"error": {"message": "The model does not exist", "code": "model_not_found"}},
        {},
        "model_not_found",
    ),
    ("openai", 500, {"error": {"message": "oops", "type": "server_error"}}, {}, "upstream_error"),
    ("openai", 502, "<html>bad gateway</html>", {}, "upstream_error"),
    ("openai", 503, None, {}, "upstream_overloaded"),
    (
        "anthropic",
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        {},
        "upstream_overloaded",
    ),
    (
        "anthropic",
        400,
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"},
        },
        {},
        "context_length_exceeded",
    ),
    (
        "anthropic",
        400,
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "Your credit balance is too low to access the Anthropic API.",
            },
        },
        {},
        "upstream_insufficient_quota",
    ),
    (
        "anthropic",
        403,
        {"type": "error", "error": {"type": "permission_error", "message": "no"}},
        {},
        "upstream_auth_failed",
    ),
    (
        "anthropic",
        504,
        {"type": "error", "error": {"type": "timeout_error", "message": "slow"}},
        {},
        "upstream_timeout",
    ),
    (
        "google",
        400,
        {
            "error": {
                "code": 400,
                "status": "INVALID_ARGUMENT",
                "message": "API key not valid.",
                "details": [{"reason": "API_KEY_INVALID"}],
            }
        },
        {},
        "upstream_auth_failed",
    ),
    (
        "google",
        429,
        {
            "error": {
                "code": 429,
                "status": "RESOURCE_EXHAUSTED",
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "details": [GOOGLE_RETRY],
            }
        },
        {},
        "upstream_rate_limited",
    ),
    (
        "google",
        400,
        {
            "error": {
                "code": 400,
                "status": "FAILED_PRECONDITION",
                "message": "This API method requires billing to be enabled.",
            }
        },
        {},
        "upstream_insufficient_quota",
    ),
    (
        "google",
        503,
        {"error": {"code": 503, "status": "UNAVAILABLE", "message": "overloaded"}},
        {},
        "upstream_overloaded",
    ),
    (
        "azure",
        400,
        {
            "error": {
                "code": "content_filter",
                "message": "filtered",
                "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation"},
            }
        },
        {},
        "content_filtered",
    ),
    (
        "minimax",
        429,
        {"error": {"http_code": "429", "message": "insufficient balance (1008)", "type": "insufficient_balance_error"}},
        {},
        "upstream_insufficient_quota",
    ),
    ("fireworks", 400, {"error": "plain string error"}, {}, "upstream_bad_request"),
    (
        "cohere",
        400,
        {"id": "x", "message": "too many tokens: total number of tokens in the prompt cannot exceed"},
        {},
        "context_length_exceeded",
    ),
    ("cohere", 402, {"message": "Please add a payment method"}, {}, "upstream_insufficient_quota"),
    ("pollo", 403, {"code": "FORBIDDEN", "message": "Not enough credits"}, {}, "upstream_insufficient_quota"),
    ("fal", 401, {"detail": "Invalid API key."}, {"x-fal-error-type": "unauthorized"}, "upstream_auth_failed"),
    (
        "xai",
        400,
        {"code": "Client specified an invalid argument", "error": "Incorrect API key provided: xa***ey"},
        {},
        "upstream_auth_failed",
    ),
]


@pytest.mark.parametrize(("provider", "status", "body", "headers", "code"), TABLE)
def test_each_known_upstream_failure_maps_to_its_stable_code(provider, status, body, headers, code):
    """The table of providers.md 20.9, one envelope per family."""
    error = map_error(provider, status, body, headers)
    assert error.code == code
    assert error.upstream_status == status
    assert error.message.startswith(f"{provider}: ")


@pytest.mark.parametrize(("provider", "status", "body", "headers", "code"), TABLE)
def test_messages_never_echo_the_upstream_body(provider, status, body, headers, code):
    """Only fixed sentences and identifier-like types reach the message: no key, no prose."""
    del code
    message = map_error(provider, status, body, headers).message
    assert KEY not in message
    assert "Incorrect" not in message
    assert len(message) < 140


def test_a_key_shaped_error_code_is_never_used_as_the_label():
    """An upstream that puts the key into `code` does not get it into the message."""
    error = map_error("openai", 401, {"error": {"code": KEY, "type": KEY}}, {})
    assert KEY not in error.message


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, None, 1.5),
        ({"Retry-After": "7"}, None, 7.0),
        ({}, {"error": {"details": [GOOGLE_RETRY]}}, 34.4),
        ({}, {"error": {"message": "Please try again in 5.289s."}}, 5.289),
        ({}, {"error": {"message": "please try again after 3 seconds"}}, 3.0),
        ({}, {"error": {"message": "slow down"}}, None),
        ({"retry-after": "soon"}, None, None),
    ],
)
def test_retry_hints_are_read_from_headers_google_details_and_messages(headers, body, expected):
    """retry-after-ms wins over retry-after; then Gemini RetryInfo; then "try again in Ns"."""
    assert retry_after_s(headers, body) == (pytest.approx(expected) if expected is not None else None)


def test_an_http_date_retry_after_becomes_seconds_from_now():
    """`Retry-After` may be an HTTP date."""
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


def test_rate_limit_headers_are_passed_through_and_nothing_else():
    """x-ratelimit-*, anthropic-ratelimit-*, retry-after pass; other headers (cookies, ids) do not."""
    headers = {
        "X-RateLimit-Remaining-Requests": "9",
        "retry-after": "1",
        "anthropic-ratelimit-tokens-reset": "t",
        "set-cookie": "a=b",
        "x-request-id": "r",
    }
    assert passthrough_headers(headers) == {
        "x-ratelimit-remaining-requests": "9",
        "retry-after": "1",
        "anthropic-ratelimit-tokens-reset": "t",
    }
    assert map_error("openai", 429, None, headers).headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "upstream_overloaded"),
        ({"error": {"message": "server had an error", "type": "server_error"}}, "upstream_error"),
        ({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "x"}}, "upstream_rate_limited"),
    ],
)
def test_errors_inside_a_stream_are_mapped_by_their_type(body, code):
    """Mid-stream error events have no status; their type says which one they stand for."""
    assert map_stream_error("p", body).code == code
