"""Azure OpenAI (providers.md 6): `api-key` header, deployment path + `api-version`, or the v1 API.

`Target.base_url` is `https://{resource}.openai.azure.com/openai` (resource already filled in);
`Target.options` carries `deployment` (default: the model id) and `api_version` (`v1` selects
the version-less v1 surface, where the body's `model` is the deployment name).
"""

from __future__ import annotations

from typing import Any

from gateway.providers.base import Credential, Target
from gateway.providers.openai_compat import OpenAICompatAdapter

DEFAULT_API_VERSION = "2024-10-21"
_FILTER_FIELDS = ("content_filter_results", "content_filter_offsets")


class AzureAdapter(OpenAICompatAdapter):
    name = "azure"

    def auth_headers(self, cred: Credential, target: Target) -> dict[str, str]:
        del target
        return {"api-key": cred.api_key.reveal()} if cred.api_key is not None else {}

    def url(self, target: Target, path: str) -> str:
        base = target.base_url.rstrip("/")
        version = target.options.get("api_version") or DEFAULT_API_VERSION
        if version == "v1":
            return f"{base}/v1{path}"
        deployment = target.options.get("deployment") or target.model
        return f"{base}/deployments/{deployment}{path}?api-version={version}"

    def prepare(self, body: dict[str, Any], target: Target, stream: bool) -> dict[str, Any]:
        payload = super().prepare(body, target, stream)
        payload["model"] = target.options.get("deployment") or target.model
        return payload

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        chunk.pop("prompt_filter_results", None)
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict):
                for field in _FILTER_FIELDS:
                    choice.pop(field, None)
        return chunk
