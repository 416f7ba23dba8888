"""Token usage, normalised across providers (OpenAI names)."""

from __future__ import annotations

import msgspec

from shared.messages.bounds import PricePerUnit


class Usage(msgspec.Struct, kw_only=True):
    """Token counts for one request. `prompt_tokens` includes cached and cache-write tokens."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    # what the provider itself says the request cost (Perplexity's `usage.cost.total_cost`), in USD
    cost_usd: float | None = None
    # credits a credit-billed provider charged (Pollo); priced per credit by the integration
    credits: float | None = None

    def finalize(self) -> Usage:
        if not self.total_tokens:
            self.total_tokens = self.prompt_tokens + self.completion_tokens
        return self


class Pricing(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """USD per million tokens."""

    input_per_mtok: PricePerUnit = 0.0
    output_per_mtok: PricePerUnit = 0.0
    cached_input_per_mtok: PricePerUnit | None = None
    cache_write_per_mtok: PricePerUnit | None = None
    per_request: PricePerUnit = 0.0

    def cost(self, usage: Usage) -> float:
        """`(prompt - cached - cache_write) * in + cached * cached_in + cache_write * cw + out * completion`."""
        cached_price = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        write_price = self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        fresh = max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
        total = (
            fresh * self.input_per_mtok
            + usage.cached_tokens * cached_price
            + usage.cache_write_tokens * write_price
            + usage.completion_tokens * self.output_per_mtok
        ) / 1_000_000 + self.per_request
        return round(total, 10)
