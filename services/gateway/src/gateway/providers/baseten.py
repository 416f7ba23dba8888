"""Baseten (providers.md 11): Bearer for Model APIs, `Api-Key` scheme for dedicated deployments.

A dedicated deployment is recognised by its host (`model-<id>.api.baseten.co`), by an
`/environments/` path, or by `Target.options["auth_scheme"] == "Api-Key"`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.providers.base import Credential, Target
from gateway.providers.openai_compat import OpenAICompatAdapter


def is_dedicated(target: Target) -> bool:
    parts = urlsplit(target.base_url)
    host = parts.hostname or ""
    return (
        target.options.get("auth_scheme") == "Api-Key"
        or (host.startswith("model-") and host.endswith(".api.baseten.co"))
        or "/environments/" in parts.path
    )


class BasetenAdapter(OpenAICompatAdapter):
    name = "baseten"

    def auth_headers(self, cred: Credential, target: Target) -> dict[str, str]:
        if cred.api_key is None:
            return {}
        scheme = "Api-Key" if is_dedicated(target) else "Bearer"
        return {"authorization": f"{scheme} {cred.api_key.reveal()}"}
