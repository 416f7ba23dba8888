"""Perplexity: `{root}/perplexity` + `/chat/completions`. Strict user/assistant alternation, citations
and `search_results`, usage (with `cost`) on every chunk, closing `chat.completion.done`, no [DONE]."""

from __future__ import annotations

from typing import Any

from tests.fakes.providers.families.base import Family
from tests.fakes.providers.families.openai_compat import OpenAICompatRoutes
from tests.fakes.providers.families.openai_dialect import Dialect, UsageStyle
from tests.fakes.providers.families.openai_errors import OpenAIStyleErrors
from tests.fakes.providers.faults import ErrorKind

_ALTERNATION = "After the (optional) system message(s), user and assistant roles should be alternating."


def _typed(type_: str, code: int) -> Any:
    return lambda message: {"error": {"message": message, "type": type_, "code": code}}


def validate(body: dict[str, Any]) -> str | None:
    roles = [m.get("role") for m in body.get("messages") or [] if isinstance(m, dict)]
    leading = 0
    while leading < len(roles) and roles[leading] == "system":
        leading += 1
    turns = roles[leading:]
    if any(role != ("user" if k % 2 == 0 else "assistant") for k, role in enumerate(turns)):
        return _ALTERNATION
    if not turns or turns[-1] != "user":
        return "Last message must have role `user`."
    return None


def body_extras(_model: str) -> dict[str, Any]:
    return {
        "citations": ["https://example.com/a", "https://example.com/b"],
        "search_results": [{"title": "A", "url": "https://example.com/a", "date": "2026-08-01"}],
    }


# USD per 1M input / output tokens and per request (low search context), by model
PRICES = {
    "sonar": (1.0, 1.0, 0.005),
    "sonar-pro": (3.0, 15.0, 0.006),
    "sonar-reasoning-pro": (2.0, 8.0, 0.006),
    "sonar-deep-research": (2.0, 8.0, 0.0),
}
DEEP_RESEARCH = {"citation_tokens": 120, "num_search_queries": 3}  # billed at $2/1M and $5/1000


def usage_quirk(usage: dict[str, Any], model: str) -> None:
    """Perplexity's own cost figure; deep research also bills citation tokens and searches."""
    input_price, output_price, request_cost = PRICES.get(model, PRICES["sonar"])
    inp, out = usage["prompt_tokens"] * input_price / 1e6, usage["completion_tokens"] * output_price / 1e6
    extra = {"citation_tokens": 0, "num_search_queries": 1, "reasoning_tokens": 0}
    cost = {"input_tokens_cost": inp, "output_tokens_cost": out, "request_cost": request_cost}
    if model == "sonar-deep-research":
        extra.update(DEEP_RESEARCH)
        cost["citation_tokens_cost"] = DEEP_RESEARCH["citation_tokens"] * 2 / 1e6
        cost["search_queries_cost"] = DEEP_RESEARCH["num_search_queries"] * 0.005
    usage.update({**extra, "cost": {**cost, "total_cost": round(sum(cost.values()), 8)}})


ERRORS = OpenAIStyleErrors(
    overrides={
        ErrorKind.BAD_REQUEST: (400, _typed("invalid_message", 400)),
        ErrorKind.AUTH_MISSING: (401, _typed("invalid_api_key", 401)),
        ErrorKind.AUTH_INVALID: (401, _typed("invalid_api_key", 401)),
    },
    messages=dict.fromkeys(
        (ErrorKind.AUTH_MISSING, ErrorKind.AUTH_INVALID),
        "Invalid API key provided. You can find your API key at https://www.perplexity.ai/settings/api.",
    ),
    retry_after_ms=False,
)
DIALECT = Dialect(
    name="perplexity",
    base_path="/perplexity",
    errors=ERRORS,
    usage=UsageStyle.PERPLEXITY,
    tools=False,
    validate=validate,
    body_extras=body_extras,
    usage_quirk=usage_quirk,
    models=("sonar", "sonar-pro", "sonar-reasoning-pro", "sonar-deep-research"),
    endpoints=frozenset({"chat"}),
)
FAMILY = Family(DIALECT.name, DIALECT.base_path, OpenAICompatRoutes(DIALECT).register)
