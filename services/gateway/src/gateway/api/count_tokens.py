"""`POST /v1/messages/count_tokens`: Anthropic's token counting, for any target.

The request is a Messages request without `max_tokens`; the answer is `{"input_tokens": N}`.
It is routed like `/v1/messages`. When the target the request would use speaks Anthropic's format
(Anthropic, Claude on Vertex), the count is the provider's own, for the body this gateway would
send (with failover among such targets); header `x-keyrelay-token-count: exact`. Otherwise, or
when that host has no counting endpoint (404/405/501), the gateway estimates without calling
anyone (`x-keyrelay-token-count: estimated`). Counting is free upstream, so the activity record
carries no usage and no cost.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from gateway.api.edge import begin, response_headers
from gateway.api.inference import fail, json_response
from gateway.api.messages import anthropic_error
from gateway.api.state import GatewayState
from gateway.providers import messages as direct
from gateway.providers.base import CallOptions, Credential, ProviderAdapter, ProviderError, Target
from gateway.providers.openai_compat import GATEWAY_FIELDS
from gateway.recorder import RequestRecord
from gateway.routing.plan import Plan
from gateway.token_count import TokenCounter, estimate_input_tokens
from gateway.translate.anthropic_inbound import anthropic_request_to_openai
from gateway.wire.openai import ChatRequest
from shared.errors import KeyrelayError

COUNT_HEADER = "x-keyrelay-token-count"
_NO_COUNTING_ENDPOINT = frozenset({404, 405, 501})


@post("/v1/messages/count_tokens", status_code=200)
async def count_tokens(request: Request[Any, Any, Any], gw: GatewayState) -> Response[bytes]:
    record, inbound = await begin(request, gw, "messages.count_tokens")
    try:
        body = anthropic_request_to_openai(inbound, strict=False)  # for routing and the estimate
        body["model"] = str(inbound["model"])
        body.update({name: inbound[name] for name in GATEWAY_FIELDS if name in inbound})
        plan = await gw.proxy.plan(record.principal, body, request.headers)
        count, how = await _count(gw, record, plan, body, inbound)
        if count is None:
            count, how = estimate_input_tokens(inbound), "estimated"
    except KeyrelayError as exc:
        return anthropic_error(fail(gw, record, exc))
    gw.recorder.finish(record, status=200)
    headers = {**response_headers(record), COUNT_HEADER: how}
    return json_response({"input_tokens": count}, headers)


def _counter(gw: GatewayState, adapter_name: str, model: str) -> TokenCounter | None:
    adapter: object = gw.proxy.adapters.get(adapter_name)
    if isinstance(adapter, TokenCounter) and adapter.counts_tokens(model):
        return adapter
    return None


async def _count(
    gw: GatewayState, record: RequestRecord, plan: Plan, body: dict[str, Any], inbound: dict[str, Any]
) -> tuple[int | None, str]:
    """The provider's count when the plan's first target can count; None to estimate instead.
    Counting targets speak Anthropic's format: they count the body `/v1/messages` would pass through."""
    first = plan.steps[0].target
    if _counter(gw, first.adapter, first.model) is None:
        return None, "estimated"
    plan.steps = [s for s in plan.steps if _counter(gw, s.target.adapter, s.target.model) is not None]

    async def call(
        adapter: ProviderAdapter, payload: dict[str, Any], target: Target, cred: Credential, options: CallOptions
    ) -> int:
        if (upstream := direct.passthrough(adapter, target, cred, options)) is not None:
            return await upstream.count_tokens(inbound)
        counter: object = adapter
        assert isinstance(counter, TokenCounter)  # noqa: S101 - only counting adapters are left in the plan
        return await counter.count_tokens(ChatRequest.from_body(payload), target, cred, options)

    try:
        return await gw.proxy.run(record, plan, body, call, gw.proxy.options()), "exact"
    except ProviderError as exc:
        if exc.upstream_status in _NO_COUNTING_ENDPOINT:
            return None, "estimated"
        raise


COUNT_TOKENS_ROUTES = [count_tokens]
