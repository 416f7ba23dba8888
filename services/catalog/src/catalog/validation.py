"""Input rules: integration slugs, model slugs and public credential settings.

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
* Custom headers and secret credential values follow `shared.vault.rules`, the one set of rules
  keyvault applies to the values it unseals; catalog applies the same rules to header names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, Final

from catalog.providers import CredentialField, load_provider_registry
from shared.errors import KeyrelayError
from shared.vault import rules

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


# --- custom headers and secret values: one set of rules, shared with keyvault (shared.vault.rules) --
# Catalog sees header names only (`rules.validate_header_names`); keyvault checks the values.

# --- credentials (catalog's half: public settings and the names of the sealed fields) -----------
MAX_PUBLIC_VALUE: Final = 256
MAX_DEPLOYMENTS: Final = 200
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _invalid(message: str, param: str) -> KeyrelayError:
    return KeyrelayError("invalid_credentials", message, param=param)


def _check_public_value(field: CredentialField, value: Any, param: str) -> Any:
    if field.type == "map":
        return _check_deployments(value, param)
    if not isinstance(value, str):
        raise _invalid(f"{param} must be a string", param)
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


def validate_public_credentials(
    provider: str, public: Mapping[str, Any], secret_fields: Iterable[str], *, custom_host: bool = False
) -> dict[str, Any]:
    """Check the public settings and the sealed field *names* against the provider's schema.

    Catalog never sees secret values: keyvault checks those when it unseals them (`shared.vault.rules`).
    Public fields get their defaults (Azure `api_version`). With a custom host no field is required.
    """
    spec = load_provider_registry().require(provider)
    secrets = set(secret_fields)
    for name in [*public, *secrets]:
        if spec.field(name) is None:
            raise rules.unknown_field(name)
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
        out[field.name] = _check_public_value(field, value, param)
    return out
