"""Ranges of every number a caller can set: one definition, enforced where the HTTP body is
decoded (the gateway's DTOs) and again where catalog decodes the command from the bus.

Values outside a range are a 400 `invalid_request`; nothing unbounded reaches MongoDB (whose
integers are 64-bit) or the limiters.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

Rpm = Annotated[int, Meta(ge=0, le=100_000_000, description="requests per minute")]
Tpm = Annotated[int, Meta(ge=0, le=1_000_000_000_000, description="tokens per minute")]
Usd = Annotated[float, Meta(ge=0, le=1_000_000_000, description="US dollars")]
PricePerUnit = Annotated[float, Meta(ge=0, le=1_000_000, description="US dollars per unit")]
Weight = Annotated[float, Meta(ge=0, le=1_000_000)]
Millis = Annotated[int, Meta(ge=0, le=3_600_000, description="milliseconds")]
Attempts = Annotated[int, Meta(ge=0, le=20)]
StatusCode = Annotated[int, Meta(ge=100, le=599)]
Index = Annotated[int, Meta(ge=0, le=10_000)]
Version = Annotated[int, Meta(ge=1, le=2_147_483_647)]
