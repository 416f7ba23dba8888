"""The one set of rules for credential values and custom headers.

Used where the data enters: keyvault checks the secret values and header values right after it
unseals them (it is the only component that ever sees them in clear), and catalog checks header
names (it sees names only) with the same rules. Pure standard library, so keyvault's dependency
set does not grow. Each function raises `KeyrelayError` (`invalid_header`, `invalid_credentials`)
with a message naming the field or header at fault, never a value, which may be a secret.

* Custom headers never override what HTTP or Keyrelay controls (hop-by-hop headers, `host`,
  `content-length`, `cookie`, `x-keyrelay-*`, ...). Provider auth headers (`authorization`,
  `x-api-key`, `api-key`, `x-goog-api-key`) are refused for known providers, whose credential
  Keyrelay sends itself, and allowed for custom hosts, where custom auth is what they are for.
  Values are one line of printable ASCII (tab allowed), at most 8 KiB.
* Secret strings (API keys) are 8-4096 printable ASCII characters without spaces.
* A Google service-account key file must look like one, down to a decodable PEM private key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from shared.errors import KeyrelayError

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


# --- credential fields ---------------------------------------------------------------------------
# Every credential setting that is not secret, across all providers (catalog's `providers.json`; a
# unit test keeps the two in step). The edge sends these in clear, for catalog to bind the base URL;
# it seals every other field, known or not, so a misplaced secret never travels in clear.
PUBLIC_CREDENTIAL_FIELDS: Final = frozenset(
    {"resource_name", "deployments", "api_version", "project_id", "location", "deployment_url"}
)

# --- secret credential values --------------------------------------------------------------------
SECRET_MIN: Final = 8
SECRET_MAX: Final = 4096
MAX_SERVICE_ACCOUNT_BYTES: Final = 64 * 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELD_NAME = re.compile(r"^[a-z_]{1,40}$")
_PEM = re.compile(r"^-----BEGIN (RSA |)PRIVATE KEY-----\s+([A-Za-z0-9+/=\s]+?)\s*-----END \1PRIVATE KEY-----\s*$")
_SA_REQUIRED: Final = ("type", "project_id", "private_key", "client_email", "token_uri")
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.:-]{1,100}$")


def invalid_credentials(message: str, param: str) -> KeyrelayError:
    return KeyrelayError("invalid_credentials", message, param=param)


def unknown_field(name: Any) -> KeyrelayError:
    """A credential setting the provider does not have; named only if it looks like a field name."""
    shown = repr(name) if isinstance(name, str) and _FIELD_NAME.fullmatch(name) else "a field"
    return invalid_credentials(f"{shown} is not a credential setting of this provider", "credentials")


def check_secret_string(value: Any, param: str) -> str:
    """An API key or similar: 8-4096 printable ASCII characters without spaces."""
    if (
        not isinstance(value, str)
        or not SECRET_MIN <= len(value) <= SECRET_MAX
        or not value.isascii()
        or not value.isprintable()
        or " " in value
    ):
        raise invalid_credentials(
            f"{param} must be {SECRET_MIN}-{SECRET_MAX} printable ASCII characters without spaces", param
        )
    return value


def validate_service_account(value: Any, *, param: str = "credentials.service_account_json") -> dict[str, Any]:
    """A Google service-account key file (object or its JSON text), as an object; never echoes it."""
    doc = value
    if isinstance(value, str):
        if len(value) > MAX_SERVICE_ACCOUNT_BYTES:
            raise invalid_credentials("service_account_json is too large", param)
        try:
            doc = json.loads(value)
        except ValueError:
            raise invalid_credentials("service_account_json is not valid JSON", param) from None
    if not isinstance(doc, dict):
        raise invalid_credentials("service_account_json must be the key file's JSON object", param)
    missing = [name for name in _SA_REQUIRED if not isinstance(doc.get(name), str) or not doc[name]]
    if missing:
        raise invalid_credentials(f"service_account_json lacks {', '.join(missing)}", param)
    if doc["type"] != "service_account":
        raise invalid_credentials("service_account_json must have type service_account", param)
    if not _GCP_PROJECT.fullmatch(doc["project_id"]):
        raise invalid_credentials("service_account_json has a malformed project_id", param)
    if not _EMAIL.fullmatch(doc["client_email"]):
        raise invalid_credentials("service_account_json has a malformed client_email", param)
    token = urlsplit(doc["token_uri"])
    if token.scheme != "https" or not token.hostname or token.username or token.password:
        raise invalid_credentials("service_account_json token_uri must be an https URL", param)
    if not _pem_private_key(doc["private_key"]):
        raise invalid_credentials("service_account_json private_key is not a PEM private key", param)
    return doc


def _pem_private_key(text: str) -> bool:
    match = _PEM.fullmatch(text)
    if match is None:
        return False
    try:
        return len(base64.b64decode("".join(match.group(2).split()), validate=True)) > 64
    except (binascii.Error, ValueError):
        return False
