"""The provider registry as data: all providers, their schemas, base URLs and adapters."""

from __future__ import annotations

import pytest

from catalog.providers import adapter_for, load_provider_registry, resolve_base_url
from shared.errors import KeyrelayError

PROVIDERS = [
    "openai",
    "anthropic",
    "google",
    "vertex",
    "azure",
    "groq",
    "together",
    "fireworks",
    "deepinfra",
    "baseten",
    "nebius",
    "perplexity",
    "moonshot",
    "minimax",
    "xai",
    "fal",
    "pollo",
]


def test_the_registry_lists_all_seventeen_providers_in_order() -> None:
    """Every provider of the mission is there, each once."""
    assert load_provider_registry().ids() == PROVIDERS


def test_the_registry_is_loaded_once() -> None:
    """Reading the data file again would be waste: the same registry object is returned."""
    assert load_provider_registry() is load_provider_registry()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_provider_has_a_name_format_https_url_and_a_secret_credential(provider: str) -> None:
    """Display name, API format family, https default URL and at least one secret field."""
    spec = load_provider_registry().require(provider)
    assert spec.name
    assert spec.api_format in {"openai", "anthropic", "gemini", "fal", "pollo"}
    assert spec.base_url.startswith("https://")
    assert spec.capabilities
    assert any(f.secret and f.required for f in spec.credentials)


def test_most_providers_take_just_an_api_key() -> None:
    """Only Vertex, Azure and Baseten (a dedicated deployment's URL) have richer credentials."""
    registry = load_provider_registry()
    plain = [p for p in PROVIDERS if [f.name for f in registry.require(p).credentials] == ["api_key"]]
    assert sorted(set(PROVIDERS) - set(plain)) == ["azure", "baseten", "vertex"]


def test_a_baseten_deployment_url_is_the_integrations_base_url_and_selects_api_key_auth() -> None:
    """Model APIs by default; a dedicated deployment's own URL when given (the address policy still checks it)."""
    url = "https://model-abcd1234.api.baseten.co/environments/production/sync/v1/"
    assert resolve_base_url("baseten", {}, None, {}) == "https://inference.baseten.co/v1"
    public = {"deployment_url": url}
    assert resolve_base_url("baseten", public, None, {"baseten": "http://override"}) == url.rstrip("/")
    field = load_provider_registry().require("baseten").field("deployment_url")
    assert field is not None
    assert not field.secret
    assert not field.required


def test_vertex_and_azure_credential_schemas_match_the_contract() -> None:
    """Vertex: key file, project_id?, location. Azure: api_key, resource_name, deployments, api_version."""
    registry = load_provider_registry()
    vertex = {f.name: (f.secret, f.required, f.type) for f in registry.require("vertex").credentials}
    assert vertex == {
        "service_account_json": (True, True, "json"),
        "project_id": (False, False, "string"),
        "location": (False, True, "string"),
    }
    azure = {f.name: (f.secret, f.required, f.type) for f in registry.require("azure").credentials}
    assert azure == {
        "api_key": (True, True, "string"),
        "resource_name": (False, True, "string"),
        "deployments": (False, False, "map"),
        "api_version": (False, False, "string"),
    }


def test_the_public_list_carries_schemas_but_not_internal_url_variants() -> None:
    """`GET /providers` shows the credential schema and format of each provider."""
    items = {item["id"]: item for item in load_provider_registry().public_list()}
    assert items["vertex"]["credentials"][0]["name"] == "service_account_json"
    assert "base_url_variants" not in items["vertex"]
    assert items["anthropic"]["api_format"] == "anthropic"


def test_an_unknown_provider_is_an_invalid_request_naming_the_field() -> None:
    """`require` refuses ids that are not in the registry."""
    with pytest.raises(KeyrelayError) as caught:
        load_provider_registry().require("openia")
    assert (caught.value.code, caught.value.param) == ("invalid_request", "provider")
    assert load_provider_registry().get("openia") is None


def test_default_base_urls_come_from_the_data() -> None:
    """Plain providers resolve to their default URL without a trailing slash."""
    assert resolve_base_url("anthropic", {}, None, {}) == "https://api.anthropic.com"
    assert resolve_base_url("groq", {}, None, {}) == "https://api.groq.com/openai/v1"


def test_azure_and_vertex_templates_are_filled_from_public_settings() -> None:
    """`{resource_name}` and `{location}` come from the credential's public fields."""
    assert (
        resolve_base_url("azure", {"resource_name": "acme-eu"}, None, {}) == "https://acme-eu.openai.azure.com/openai"
    )
    assert resolve_base_url("vertex", {"location": "europe-west4"}, None, {}) == (
        "https://europe-west4-aiplatform.googleapis.com/v1"
    )


def test_vertex_global_and_multi_region_locations_use_their_own_hosts() -> None:
    """`global`, `us` and `eu` are not `{location}-aiplatform` hosts."""
    assert resolve_base_url("vertex", {"location": "global"}, None, {}) == "https://aiplatform.googleapis.com/v1"
    assert resolve_base_url("vertex", {"location": "eu"}, None, {}) == "https://aiplatform.eu.rep.googleapis.com/v1"


@pytest.mark.parametrize("bad", [None, "", "evil.com/x", "a.b", "UPPER", "x" * 70, "-lead", "a@b", "acme\n"])
def test_a_missing_or_unsafe_template_value_is_refused(bad: object) -> None:
    """A placeholder value can never inject a host, path or userinfo into the URL."""
    with pytest.raises(KeyrelayError) as caught:
        resolve_base_url("azure", {"resource_name": bad}, None, {})
    assert (caught.value.code, caught.value.param) == ("invalid_credentials", "credentials.resource_name")


def test_operator_overrides_win_and_may_use_placeholders() -> None:
    """`KEYRELAY_PROVIDER_BASE_URLS` replaces the default, placeholders included; other keys are ignored."""
    overrides = {"azure": "http://127.0.0.1:9000/azure/{resource_name}/openai/", "vertex-token": "http://x/token"}
    assert (
        resolve_base_url("azure", {"resource_name": "r1"}, None, overrides) == "http://127.0.0.1:9000/azure/r1/openai"
    )
    assert resolve_base_url("vertex", {"location": "global"}, None, {"vertex": "http://127.0.0.1:1/v"}) == (
        "http://127.0.0.1:1/v"
    )
    assert resolve_base_url("openai", {}, None, overrides) == "https://api.openai.com/v1"


def test_a_custom_host_url_wins_over_everything() -> None:
    """The custom host's own base URL is used, trailing slash removed."""
    host = {"base_url": "https://llm.example.com/v1/", "api_format": "openai"}
    assert resolve_base_url("openai", {}, host, {"openai": "https://other"}) == "https://llm.example.com/v1"


def test_adapter_is_the_custom_host_format_or_the_provider_id() -> None:
    """Custom hosts speak openai, anthropic or cohere; known providers have their own adapter."""
    assert adapter_for("together", None) == "together"
    assert adapter_for("openai", {"base_url": "https://x", "api_format": "cohere"}) == "cohere"
    assert adapter_for("openai", {"base_url": "https://x"}) == "openai"
    with pytest.raises(KeyrelayError) as caught:
        adapter_for("openai", {"base_url": "https://x", "api_format": "gemini"})
    assert caught.value.param == "custom_host.api_format"


@pytest.mark.parametrize("provider", ["perplexity", "azure", "minimax", "baseten", "groq", "anthropic"])
def test_a_custom_host_in_the_providers_own_format_keeps_the_providers_adapter(provider: str) -> None:
    """Only the base URL changes: Perplexity's folding, Azure's paths, MiniMax's thinking stay."""
    fmt = load_provider_registry().require(provider).api_format
    assert adapter_for(provider, {"base_url": "https://proxy.example/v1", "api_format": fmt}) == provider
    other = "cohere"
    assert adapter_for(provider, {"base_url": "https://proxy.example/v1", "api_format": other}) == other
