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
    """USD per million tokens, per request, per image and per credit (a credit-billed provider's unit)."""

    input_per_mtok: PricePerUnit = 0.0
    output_per_mtok: PricePerUnit = 0.0
    cached_input_per_mtok: PricePerUnit | None = None
    cache_write_per_mtok: PricePerUnit | None = None
    per_request: PricePerUnit = 0.0
    per_image: PricePerUnit = 0.0
    per_credit: PricePerUnit = 0.0

    def cost(self, usage: Usage) -> float:
        """`(prompt - cached - cache_write) * in + cached * cached_in + cache_write * cw + out * completion`
        per million, plus the price per request and, for a credit-billed provider, `credits * per_credit`."""
        cached_price = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        write_price = self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        fresh = max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
        total = (
            fresh * self.input_per_mtok
            + usage.cached_tokens * cached_price
            + usage.cache_write_tokens * write_price
            + usage.completion_tokens * self.output_per_mtok
        ) / 1_000_000 + self.per_request
        return round(total + (usage.credits or 0.0) * self.per_credit, 10)

    def images_cost(self, images: int) -> float:
        """`images` generated images at the price per image (a catalog image model's is its `per_request`)."""
        return round(max(1, images) * (self.per_image or self.per_request), 10)

    def discounted(self, discount_pct: float) -> Pricing:
        """Every price less `discount_pct` percent (0-100)."""
        if not discount_pct:
            return self
        keep = 1 - discount_pct / 100

        def less(price: float | None) -> float | None:
            return None if price is None else round(price * keep, 10)

        return Pricing(
            input_per_mtok=round(self.input_per_mtok * keep, 10),
            output_per_mtok=round(self.output_per_mtok * keep, 10),
            cached_input_per_mtok=less(self.cached_input_per_mtok),
            cache_write_per_mtok=less(self.cache_write_per_mtok),
            per_request=round(self.per_request * keep, 10),
            per_image=round(self.per_image * keep, 10),
            per_credit=round(self.per_credit * keep, 10),
        )
