"""Groq: `{root}/groq/openai/v1`. `x_groq` ids/usage in streams, `reasoning` field, strict params."""

from __future__ import annotations

from typing import Any

from tests.fakes.providers.answers import new_id
from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect, Reasoning, UsageStyle
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors, envelope
from tests.fakes.providers.faults import RETRY_AFTER_S, ErrorKind

_UNSUPPORTED = ("logprobs", "logit_bias", "top_logprobs")


def limit_headers(exhausted: bool) -> dict[str, str]:
    """Groq's request limit is per day, its token limit per minute."""
    return {
        "x-ratelimit-limit-requests": "14400",
        "x-ratelimit-limit-tokens": "6000",
        "x-ratelimit-remaining-requests": "0" if exhausted else "14399",
        "x-ratelimit-remaining-tokens": "0" if exhausted else "5990",
        "x-ratelimit-reset-requests": "6m0s" if exhausted else "6s",
        "x-ratelimit-reset-tokens": f"{RETRY_AFTER_S}s" if exhausted else "100ms",
    }


def validate(body: dict[str, Any]) -> str | None:
    for name in _UNSUPPORTED:
        if name in body:
            return f"'{name}' : property '{name}' is unsupported"
    if body.get("n", 1) != 1:
        return "'n' : number must be at most 1"
    for i, message in enumerate(body.get("messages") or []):
        if isinstance(message, dict) and "name" in message:
            return (
                f"'messages.{i}' : for 'role:{message.get('role')}' the following must be satisfied"
                f"[('messages.{i}.name' : property 'name' is unsupported)]"
            )
    return None


ERRORS = OpenAIStyleErrors(
    overrides={ErrorKind.RATE_LIMITED: (429, envelope("tokens", "rate_limit_exceeded"))},
    messages={
        ErrorKind.AUTH_INVALID: "Invalid API Key",
        ErrorKind.AUTH_MISSING: "Invalid API Key",
        ErrorKind.RATE_LIMITED: "Rate limit reached for model in organization `org_fake` service tier `on_demand` "
        "on tokens per minute (TPM): Limit 6000, Used 5990, Requested 120. "
        f"Please try again in {RETRY_AFTER_S}s.",
        ErrorKind.CONTEXT_LENGTH: "Please reduce the length of the messages or completion.",
    },
    retry_after_ms=False,
    limit_headers=limit_headers,
)

DIALECT = Dialect(
    name="groq",
    base_path="/groq/openai/v1",
    errors=ERRORS,
    usage=UsageStyle.GROQ,
    reasoning=Reasoning.GROQ_FIELD,
    success_headers=lambda: {"x-request-id": new_id("req_", 13), **limit_headers(False)},
    validate=validate,
    models=(
        "openai/gpt-oss-120b",
        "openai/gpt-oss-20b",
        "llama-3.3-70b-versatile",
        "llama-3.1-8b-instant",
        "qwen/qwen3-32b",
    ),
    endpoints=frozenset({"chat", "models"}),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
