"""Documents to public JSON: the only place catalog shapes what callers see. Never a secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

Doc = dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _limits(doc: Doc) -> Doc:
    return {key: doc.get(key) for key in ("rpm", "tpm", "budget_usd", "budget_period")}


def _resource(doc: Doc, **fields: Any) -> Doc:
    """A resource as callers see it: its id, its fields, when it was made."""
    return {"id": doc["_id"], **fields, "created_at": _iso(doc.get("created_at"))}


def project(doc: Doc) -> Doc:
    return _resource(doc, name=doc["name"], content_logging=doc.get("content_logging", False), **_limits(doc))


def member(doc: Doc) -> Doc:
    return _resource(doc, email=doc["email"], org_role=doc["org_role"], projects=doc.get("projects", {}))


def api_key(doc: Doc) -> Doc:
    return _resource(
        doc,
        project_id=doc["project_id"],
        name=doc["name"],
        prefix=doc.get("prefix", ""),
        models=doc.get("models"),
        **_limits(doc),
        expires_at=_iso(doc.get("expires_at")),
        revoked=doc.get("revoked_at") is not None,
    )


def integration(doc: Doc, credential: Doc | None = None) -> Doc:
    return {
        "id": doc["_id"],
        "slug": doc["slug"],
        "provider": doc["provider"],
        "name": doc["name"],
        "description": doc.get("description", ""),
        "project_scope": doc.get("project_scope", "all"),
        "custom_host": doc.get("custom_host"),
        "custom_headers": doc.get("header_names", []),
        "credential_settings": doc.get("credential_public", {}),
        "credential": credential or {"masked": None, "fingerprint": None, "updated_at": None, "updated_by": None},
        "status": doc.get("status", "active"),
        "last_error": doc.get("last_error_class"),
        "last_used_at": _iso(doc.get("last_used_at")),
        "models": {
            "enabled": doc.get("enabled_models", []),
            "custom": [custom_model(c) for c in doc.get("custom_models", [])],
        },
        "created_at": _iso(doc.get("created_at")),
        "updated_at": _iso(doc.get("updated_at")),
    }


def custom_model(doc: Doc) -> Doc:
    return {
        "slug": doc["slug"],
        "base_model": doc.get("base_model"),
        "custom_host": doc.get("custom_host"),
        "pricing": doc.get("pricing", {}),
    }


def virtual_model(doc: Doc) -> Doc:
    return {
        "name": doc["name"],
        "config": doc.get("config"),
        "project_id": doc.get("project_id"),
        "strategy": doc["strategy"],
        "targets": doc.get("targets", []),
        "created_at": _iso(doc.get("created_at")),
        "updated_at": _iso(doc.get("updated_at")),
    }
