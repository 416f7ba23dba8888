"""`docs/providers.md`, generated from the catalog data: one row per provider and custom-host format.

`python -m catalog.providers_doc` prints the page; `--write PATH` writes it (`just providers-doc`).
A test renders it again and fails when the committed page drifts from the data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from catalog.providers import ProviderSpec, load_model_catalog, load_provider_registry

MATRIX = "`tests/e2e/test_provider_matrix.py`"
QUIRKS = "`tests/e2e/test_provider_quirks.py`"
CHAT_TESTED = f"e2e through the gateway ({MATRIX}): JSON, stream, streamed tool-call round trip; usage and cost"
# how a provider is proven beyond (or instead of) the chat matrix
TESTED_EXTRA = {
    "openai": "; embeddings and custom-host format row",
    "anthropic": "; `/v1/messages` pass-through; custom-host format row",
    "google": "; `/v1/messages` with the anthropic SDK",
    "vertex": "; Claude via rawPredict / streamRawPredict in the same matrix",
    "azure": f"; `api_version` latest/preview ({QUIRKS})",
    "perplexity": f" (no tools: agent turns folded into text); its own `usage.cost` ({QUIRKS})",
    "minimax": f"; `reasoning_split` / `reasoning_details` ({QUIRKS})",
    "together": "; `/v1/messages` with the anthropic SDK",
    "baseten": f"; a dedicated `deployment_url` with `Authorization: Api-Key` ({QUIRKS})",
}
MEDIA_TESTED = {
    "fal": "e2e image generation (queue job awaited, priced per image): `tests/e2e/test_sdk_providers.py`",
    "pollo": f"e2e video task awaited, its credits in the record's usage ({QUIRKS})",
}
CUSTOM_FORMATS = {
    "openai": "OpenAI Chat Completions",
    "anthropic": "Anthropic Messages",
    "cohere": "Cohere v2 Chat",
}
AUTH = {
    "bearer": "`Authorization: Bearer <key>`",
    "x-api-key": "`x-api-key: <key>`",
    "x-goog-api-key": "`x-goog-api-key: <key>`",
    "service-account": "service-account JSON → OAuth token (Bearer)",
    "api-key": "`api-key: <key>`",
    "key": "`Authorization: Key <key>`",
}


def _models(spec: ProviderSpec) -> str:
    kinds: dict[str, int] = {}
    for model in load_model_catalog().for_provider(spec.id):
        kinds[model.kind] = kinds.get(model.kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in kinds.items())


def _tested(spec: ProviderSpec) -> str:
    if spec.id in MEDIA_TESTED:
        return MEDIA_TESTED[spec.id]
    return CHAT_TESTED + TESTED_EXTRA.get(spec.id, "")


def render() -> str:
    registry = load_provider_registry()
    lines = [
        "# Providers",
        "",
        "<!-- Generated from services/catalog/src/catalog/data/providers.json and models.json by",
        "     `python -m catalog.providers_doc --write docs/providers.md` (`just providers-doc`).",
        "     Do not edit by hand: tests/unit/catalog_data/test_providers_doc.py fails when it drifts. -->",
        "",
        "Every provider Keyrelay speaks to, with how it authenticates, the wire format its adapter",
        "speaks, what it serves and how that is proven. Fakes of every provider (`tests/fakes/providers`)",
        "follow each vendor's wire format; only the providers are faked.",
        "",
        "| provider | id | auth | wire format | capabilities | catalog models | how it is tested |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in registry.all():
        auth = AUTH.get(spec.auth, f"`{spec.auth}`")
        row = [spec.name, f"`{spec.id}`", auth, spec.api_format, ", ".join(spec.capabilities), _models(spec)]
        lines.append("| " + " | ".join([*row, _tested(spec)]) + " |")
    lines += [
        "",
        "## Custom hosts",
        "",
        "An integration may point at a custom host (`custom_host: {base_url, api_format}`, checked by the",
        "outbound address policy). On a host speaking the provider's own format the provider's adapter and",
        "quirks stay (only the base URL changes); otherwise the format's generic adapter speaks to it.",
        "",
        "| api_format | wire format | how it is tested |",
        "|---|---|---|",
    ]
    for fmt in registry.custom_host_formats:
        lines.append(f"| `{fmt}` | {CUSTOM_FORMATS.get(fmt, fmt)} | {CHAT_TESTED} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", metavar="PATH", help="write the page there instead of printing it")
    args = parser.parse_args(argv)
    page = render()
    if args.write:
        Path(args.write).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
