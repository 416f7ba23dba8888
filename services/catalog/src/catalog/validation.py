"""Input rules: integration slugs, model slugs, custom headers and credentials.

Pure functions. Each raises `KeyrelayError` with a stable code (`invalid_slug`, `invalid_model`,
`invalid_header`, `invalid_credentials`) and a message naming the field or header at fault —
never a value, which may be a secret.

Decisions:

* Slugs have one canonical form. ASCII upper case is folded to lower case; anything else that
  would have to be *mapped* (full-width letters, Cyrillic or Greek look-alikes, zero-width or
  other invisible characters, spaces, underscores) is refused, so two slugs that look alike are
  always the same slug. Provider ids are allowed as slugs (`@openai/...` never clashes with the
  `openai/...` form); names that would shadow routing or the API (`models`, `all`, `v1`, ...) are
  reserved.
* Custom headers never override what HTTP or Keyrelay controls (hop-by-hop headers, `host`,
  `content-length`, `cookie`, `x-keyrelay-*`, ...). Provider auth headers (`authorization`,
  `x-api-key`, `api-key`, `x-goog-api-key`) are refused for known providers, whose credential
  Keyrelay sends itself, and allowed for custom hosts, where custom auth is what they are for.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from catalog.providers import CredentialField, load_provider_registry
from shared.errors import KeyrelayError

# --- slugs ---------------------------------------------------------------------------------------
SLUG_MIN: Final = 3
SLUG_MAX: Final = 64
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_VERSION_LIKE = re.compile(r"^v[0-9]+$")
RESERVED_SLUGS: Final = frozenset(
    {
        "admin",
        "all",
        "any",
        "api",
        "api-keys",
        "activity",
        "audit",
        "auth",
        "config",
        "configs",
        "custom",
        "default",
        "docs",
        "healthz",
        "integrations",
        "internal",
        "keyrelay",
        "login",
        "logout",
        "me",
        "members",
        "metrics",
        "model",
        "models",
        "new",
        "none",
        "null",
        "openapi",
        "projects",
        "providers",
        "readyz",
        "root",
        "route",
        "routing",
        "self",
        "static",
        "system",
        "undefined",
        "virtual-models",
    }
)


def _invalid_slug(message: str, param: str) -> KeyrelayError:
    return KeyrelayError("invalid_slug", message, param=param)


def canonical_slug(raw: Any, *, param: str = "slug") -> str:
    """The one canonical form of a slug: `[a-z0-9]` words joined by single hyphens, 3-64 chars."""
    if not isinstance(raw, str):
        raise _invalid_slug("slug must be a string", param)
    if not raw.isascii():
        folded = unicodedata.normalize("NFKC", raw)
        why = "full-width or compatibility" if folded.isascii() else "look-alike, accented or invisible"
        raise _invalid_slug(f"slug must use only ASCII a-z, 0-9 and hyphens ({why} characters are refused)", param)
    slug = raw.lower()
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        raise _invalid_slug(f"slug must be {SLUG_MIN}-{SLUG_MAX} characters long", param)
    if not _SLUG.fullmatch(slug):
        raise _invalid_slug(
            "slug must be a-z and 0-9 words joined by single hyphens (no spaces, underscores, leading '@' "
            "or leading, trailing or double hyphens)",
            param,
        )
    if slug in RESERVED_SLUGS or _VERSION_LIKE.fullmatch(slug):
        raise _invalid_slug("this slug is reserved", param)
    return slug


# --- model slugs ---------------------------------------------------------------------------------
MODEL_SLUG_MAX: Final = 200
_MODEL_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")


def validate_model_slug(raw: Any, *, param: str = "slug") -> str:
    """A model id as a provider takes it (`accounts/x/models/y`, `claude-opus-4-5@20251101`), kept as is.

    Case is kept (ids are case-sensitive upstream). Refused: non-ASCII, whitespace, a leading `@`
    or symbol (`@slug/model` is the routing syntax), `..`, `//` and a trailing `/`.
    """
    if (
        not isinstance(raw, str)
        or not 1 <= len(raw) <= MODEL_SLUG_MAX
        or not raw.isascii()
        or not _MODEL_SLUG.fullmatch(raw)
        or ".." in raw
        or "//" in raw
        or raw.endswith("/")
    ):
        raise KeyrelayError(
            "invalid_model",
            f"model slug must be 1-{MODEL_SLUG_MAX} ASCII letters, digits and . _ : / @ + - "
            "starting with a letter or digit",
            param=param,
        )
    return raw


# --- custom headers ------------------------------------------------------------------------------
MAX_HEADERS: Final = 32
MAX_HEADER_NAME: Final = 64
MAX_HEADER_VALUE: Final = 8192
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 7230 token
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
FORBIDDEN_HEADERS: Final = HOP_BY_HOP | frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "accept-encoding",
        "cookie",
        "set-cookie",
        "expect",
        "forwarded",
        "via",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "x-request-id",
    }
)
FORBIDDEN_PREFIXES: Final = ("proxy-", "sec-", "x-keyrelay-")
PROVIDER_AUTH_HEADERS: Final = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key"})


def _invalid_header(message: str, param: str) -> KeyrelayError:
    return KeyrelayError("invalid_header", message, param=param)


def check_header_name(name: Any, *, custom_host: bool = False, param: str = "custom_headers") -> str:
    """The lower-cased header name if a custom header may use it; else `invalid_header` naming it."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_HEADER_NAME or not _TOKEN.fullmatch(name):
        shown = repr(name[:MAX_HEADER_NAME]) if isinstance(name, str) and name.isprintable() else "a header"
        raise _invalid_header(f"{shown} is not a valid header name (an RFC 7230 token of at most 64 chars)", param)
    lower = name.lower()
    if lower in FORBIDDEN_HEADERS or lower.startswith(FORBIDDEN_PREFIXES):
        raise _invalid_header(f"header {lower!r} is controlled by HTTP or Keyrelay and cannot be set", param)
    if lower in PROVIDER_AUTH_HEADERS and not custom_host:
        raise _invalid_header(
            f"header {lower!r} carries the provider credential, which Keyrelay sends itself "
            "(custom auth headers are for custom hosts)",
            param,
        )
    return lower


def validate_custom_headers(
    headers: Mapping[str, Any], *, custom_host: bool = False, param: str = "custom_headers"
) -> dict[str, str]:
    """Custom headers with lower-cased names; values single-line printable ASCII, at most 8 KiB."""
    if not isinstance(headers, Mapping):
        raise _invalid_header("custom_headers must be an object of name -> value", param)
    if len(headers) > MAX_HEADERS:
        raise _invalid_header(f"at most {MAX_HEADERS} custom headers", param)
    out: dict[str, str] = {}
    for name, value in headers.items():
        lower = check_header_name(name, custom_host=custom_host, param=param)
        if lower in out:
            raise _invalid_header(f"header {lower!r} is given twice", param)
        if (
            not isinstance(value, str)
            or len(value) > MAX_HEADER_VALUE
            or not value.isascii()
            or any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value)
        ):
            raise _invalid_header(
                f"header {lower!r} has an invalid value (one line of printable ASCII, at most 8192 characters)", param
            )
        out[lower] = value
    return out


def validate_header_names(names: Iterable[Any], *, custom_host: bool = False) -> list[str]:
    """Sorted lower-cased names, for the catalog side, which never sees header values."""
    seen = [check_header_name(name, custom_host=custom_host) for name in names]
    if len(seen) > MAX_HEADERS or len(set(seen)) != len(seen):
        raise _invalid_header(f"at most {MAX_HEADERS} custom headers, each given once", "custom_headers")
    return sorted(seen)


# --- credentials ---------------------------------------------------------------------------------
MAX_PUBLIC_VALUE: Final = 256
MAX_DEPLOYMENTS: Final = 200
MAX_SERVICE_ACCOUNT_BYTES: Final = 64 * 1024
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELD_NAME = re.compile(r"^[a-z_]{1,40}$")
_PEM = re.compile(r"^-----BEGIN (RSA |)PRIVATE KEY-----\s+([A-Za-z0-9+/=\s]+?)\s*-----END \1PRIVATE KEY-----\s*$")
_SA_REQUIRED: Final = ("type", "project_id", "private_key", "client_email", "token_uri")
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.:-]{1,100}$")


def _invalid(message: str, param: str) -> KeyrelayError:
    return KeyrelayError("invalid_credentials", message, param=param)


def validate_service_account(value: Any, *, param: str = "credentials.service_account_json") -> dict[str, Any]:
    """A Google service-account key file (object or its JSON text), as an object; never echoes it."""
    doc = value
    if isinstance(value, str):
        if len(value) > MAX_SERVICE_ACCOUNT_BYTES:
            raise _invalid("service_account_json is too large", param)
        try:
            doc = json.loads(value)
        except ValueError:
            raise _invalid("service_account_json is not valid JSON", param) from None
    if not isinstance(doc, dict):
        raise _invalid("service_account_json must be the key file's JSON object", param)
    missing = [name for name in _SA_REQUIRED if not isinstance(doc.get(name), str) or not doc[name]]
    if missing:
        raise _invalid(f"service_account_json lacks {', '.join(missing)}", param)
    if doc["type"] != "service_account":
        raise _invalid("service_account_json must have type service_account", param)
    if not _GCP_PROJECT.fullmatch(doc["project_id"]):
        raise _invalid("service_account_json has a malformed project_id", param)
    if not _EMAIL.fullmatch(doc["client_email"]):
        raise _invalid("service_account_json has a malformed client_email", param)
    token = urlsplit(doc["token_uri"])
    if token.scheme != "https" or not token.hostname or token.username or token.password:
        raise _invalid("service_account_json token_uri must be an https URL", param)
    if not _pem_private_key(doc["private_key"]):
        raise _invalid("service_account_json private_key is not a PEM private key", param)
    return doc


def _pem_private_key(text: str) -> bool:
    match = _PEM.fullmatch(text)
    if match is None:
        return False
    try:
        return len(base64.b64decode("".join(match.group(2).split()), validate=True)) > 64
    except (binascii.Error, ValueError):
        return False


def _check_value(field: CredentialField, value: Any, param: str) -> Any:
    if field.type == "json":
        return validate_service_account(value, param=param)
    if field.type == "map":
        return _check_deployments(value, param)
    if not isinstance(value, str):
        raise _invalid(f"{param} must be a string", param)
    if field.secret:
        if not 8 <= len(value) <= 4096 or not value.isascii() or not value.isprintable() or " " in value:
            raise _invalid(f"{param} must be 8-4096 printable ASCII characters without spaces", param)
        return value
    if len(value) > MAX_PUBLIC_VALUE or (field.pattern is not None and not re.fullmatch(field.pattern, value)):
        raise _invalid(f"{param} has an invalid value ({field.description})", param)
    return value


def _check_deployments(value: Any, param: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) > MAX_DEPLOYMENTS:
        raise _invalid(f"{param} must map at most {MAX_DEPLOYMENTS} model ids to deployment names", param)
    for model, deployment in value.items():
        try:
            validate_model_slug(model, param=param)
        except KeyrelayError:
            raise _invalid(f"{param}: keys must be model ids", param) from None
        if not isinstance(deployment, str) or not _DEPLOYMENT.fullmatch(deployment):
            raise _invalid(f"{param}: deployment names are 1-64 letters, digits, '.', '_' and '-'", param)
    return dict(value)


def _unknown_field(name: Any) -> KeyrelayError:
    shown = repr(name) if isinstance(name, str) and _FIELD_NAME.fullmatch(name) else "a field"
    return _invalid(f"{shown} is not a credential setting of this provider", "credentials")


def validate_credentials(
    provider: str, creds: Mapping[str, Any], *, custom_host: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check credentials against the provider's schema; return `(public_fields, secret_fields)`.

    Public fields get their defaults (Azure `api_version`); Vertex `project_id` defaults to the key
    file's. With a custom host no field is required (the host may need no key, or custom headers).
    """
    spec = load_provider_registry().require(provider)
    if not isinstance(creds, Mapping):
        raise _invalid("credentials must be an object", "credentials")
    for name in creds:
        if spec.field(name) is None:
            raise _unknown_field(name)
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for field in spec.credentials:
        param = f"credentials.{field.name}"
        value = creds.get(field.name)
        if value is None or value == "":
            if field.required and not custom_host:
                raise _invalid(f"{param} is required", param)
            if field.default is not None and not field.secret:
                public[field.name] = field.default
            continue
        (secret if field.secret else public)[field.name] = _check_value(field, value, param)
    account = secret.get("service_account_json")
    if isinstance(account, dict) and spec.field("project_id") is not None:
        public.setdefault("project_id", account["project_id"])
    return public, secret


def validate_public_credentials(
    provider: str, public: Mapping[str, Any], secret_fields: Iterable[str], *, custom_host: bool = False
) -> dict[str, Any]:
    """Catalog's half of `validate_credentials`: it sees public settings and secret field *names* only."""
    spec = load_provider_registry().require(provider)
    secrets = set(secret_fields)
    for name in [*public, *secrets]:
        if spec.field(name) is None:
            raise _unknown_field(name)
    out: dict[str, Any] = {}
    for field in spec.credentials:
        param = f"credentials.{field.name}"
        if field.secret:
            if field.name in public:
                raise _invalid(f"{param} is a secret and must be sealed, not sent in clear", param)
            if field.required and not custom_host and field.name not in secrets:
                raise _invalid(f"{param} is required", param)
            continue
        if field.name in secrets:
            raise _invalid(f"{param} is not a secret setting", param)
        value = public.get(field.name)
        if value is None or value == "":
            if field.required and not custom_host:
                raise _invalid(f"{param} is required", param)
            if field.default is not None:
                out[field.name] = field.default
            continue
        out[field.name] = _check_value(field, value, param)
    return out
