"""Azure OpenAI (providers.md 6): `api-key` header, deployment path + `api-version`, or the v1 API.

`Target.base_url` is `https://{resource}.openai.azure.com/openai` (resource already filled in);
`Target.options` carries `deployment` (default: the model id) and `api_version` (`v1` selects
the version-less v1 surface, where the body's `model` is the deployment name; `latest` and
`preview` select the same surface with `?api-version=latest|preview`, as Azure's v1 preview asks).
The choices' content-filter results are not OpenAI fields, so the typed chunks leave them out.
"""

from __future__ import annotations

from gateway.providers.base import Target
from gateway.providers.openai_compat import OpenAICompatAdapter
from gateway.wire.chat_body import ChatPayload
from gateway.wire.openai import ChatChunk

DEFAULT_API_VERSION = "2024-10-21"
V1_VERSIONS = ("latest", "preview")  # the v1 surface, with these as its `api-version`


class AzureAdapter(OpenAICompatAdapter):
    name = "azure"
    auth_header = "api-key"
    auth_scheme = ""

    def url(self, target: Target, path: str) -> str:
        base = target.base_url.rstrip("/")
        version = target.options.get("api_version") or DEFAULT_API_VERSION
        if version == "v1":
            return f"{base}/v1{path}"
        if version in V1_VERSIONS:
            return f"{base}/v1{path}?api-version={version}"
        deployment = target.options.get("deployment") or target.model
        return f"{base}/deployments/{deployment}{path}?api-version={version}"

    def prepare(self, payload: ChatPayload, target: Target, stream: bool) -> ChatPayload:
        payload = super().prepare(payload, target, stream)
        payload.set("model", target.options.get("deployment") or target.model)
        return payload

    def normalize_chunk(self, chunk: ChatChunk) -> ChatChunk:
        chunk.drop_extra("prompt_filter_results")
        return chunk
