"""The one place adapters are registered: adapter name -> instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from gateway.providers.vendors import VENDOR_ADAPTERS


def build_adapters(session: aiohttp.ClientSession, base_url_overrides: Mapping[str, str]) -> dict[str, Any]:
    """Base URLs come with each `Target` (bound by keyvault); overrides matter to token endpoints."""
    del base_url_overrides
    adapters: dict[str, Any] = {}
    for cls in VENDOR_ADAPTERS:
        adapters[cls.name] = cls(session)
    return adapters
