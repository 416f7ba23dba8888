"""Catalog settings (`KEYRELAY_*`)."""

from __future__ import annotations

from shared.secret import Secret
from shared.settings import CommonSettings


class CatalogSettings(CommonSettings, frozen=True, kw_only=True):
    catalog_db: str = "keyrelay_catalog"
    provider_base_urls: dict[str, str] = {}
    upstream_allow: str = ""
    upstream_allow_http: bool = False
    catalog_signing_key: Secret = Secret("")  # base64 Ed25519 seed: signs owner assertions for keyvault
    models_file: str = ""  # optional extra/override model catalog (JSON)
    keyvault_timeout_s: float = 3.0
