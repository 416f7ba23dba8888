"""Input rules catalog enforces: slugs, custom header names, credential settings, model slugs."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from catalog.providers import load_provider_registry
from shared.errors import KeyrelayError

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,63}$")
RESERVED_SLUGS = frozenset({"api", "admin", "v1", "v2", "models", "model", "all", "none", "default", "keyrelay",
                            "internal", "system", "root", "null", "undefined", "config", "configs"})
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
FORBIDDEN_HEADERS = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                               "transfer-encoding", "upgrade", "host", "content-length", "cookie", "set-cookie",
                               "content-type", "accept-encoding", "x-keyrelay-config", "x-keyrelay-integration"})
_MODEL_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$")


def canonical_slug(raw: Any) -> str:
    """One canonical form: lower case `[a-z0-9-]`, 3-64 chars. Non-ASCII input is refused, not mapped."""
    if not isinstance(raw, str):
        raise KeyrelayError("invalid_slug", "slug must be a string", param="slug")
    if raw != unicodedata.normalize("NFKC", raw) or not raw.isascii():
        raise KeyrelayError("invalid_slug", "slug must use only a-z, 0-9 and hyphens", param="slug")
    slug = raw.strip().lower()
    if not _SLUG.match(slug):
        raise KeyrelayError("invalid_slug", "slug must be 3-64 of a-z, 0-9 and single inner hyphens", param="slug")
    if slug in RESERVED_SLUGS:
        raise KeyrelayError("invalid_slug", "this slug is reserved", param="slug")
    return slug


def validate_custom_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name) or name.lower() in FORBIDDEN_HEADERS \
                or name.lower().startswith(("proxy-", "sec-")):
            raise KeyrelayError("invalid_header", f"header name {name!r} is not allowed", param="custom_headers")
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise KeyrelayError("invalid_header", f"header {name!r} has an invalid value", param="custom_headers")
    return headers


def validate_model_slug(raw: Any) -> str:
    if not isinstance(raw, str) or not _MODEL_SLUG.match(raw) or ".." in raw:
        raise KeyrelayError("invalid_model", "model slug must be 1-200 of letters, digits and ._:/@-", param="slug")
    return raw


def validate_public_credentials(provider: str, public: dict[str, Any], secret_fields: set[str]) -> dict[str, Any]:
    spec = load_provider_registry().get(provider)
    if spec is None:
        raise KeyrelayError("invalid_request", "unknown provider", param="provider")
    known = {f.name: f for f in spec.credentials}
    for name in public:
        if name not in known or known[name].secret:
            raise KeyrelayError("invalid_credentials", f"unknown credential field {name!r}", param=f"credentials.{name}")
    for field in spec.credentials:
        present = field.name in secret_fields if field.secret else public.get(field.name) not in (None, "")
        if field.required and not present:
            raise KeyrelayError("invalid_credentials", f"credentials.{field.name} is required", param=f"credentials.{field.name}")
    deployments = public.get("deployments")
    if deployments is not None and (not isinstance(deployments, dict)
                                    or not all(isinstance(k, str) and isinstance(v, str) for k, v in deployments.items())):
        raise KeyrelayError("invalid_credentials", "deployments must map model ids to deployment names",
                            param="credentials.deployments")
    for key in ("resource_name", "location", "project_id", "api_version"):
        value = public.get(key)
        if value is not None and (not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", value)):
            raise KeyrelayError("invalid_credentials", f"credentials.{key} has an invalid value", param=f"credentials.{key}")
    return dict(public)
