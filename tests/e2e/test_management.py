"""The management API as an owner and every other role would use it (issue 4's journey and matrix)."""

from __future__ import annotations

import concurrent.futures
import json
import secrets
from typing import Any

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.stack import EmbeddedStack
from tests.conftest import PROVIDER_KEY, Org, bootstrap


def client(stack: EmbeddedStack, token: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{stack.gateway_url}/api/v1", headers=headers, timeout=30)


def test_the_owner_journey_from_bootstrap_to_a_completion_through_a_custom_model(stack: EmbeddedStack) -> None:
    """Bootstrap, project, member, API key, scoped integration with models, custom model with pricing,
    a completion through it, and the models listing."""
    org = bootstrap(stack)
    project = org.owner.post("/projects", json={"name": "payments"}).json()
    member = org.owner.post(
        "/members", json={"email": "dev@example.com", "org_role": "member", "projects": {project["id"]: "developer"}}
    )
    assert member.status_code == 201
    assert member.json()["token"].startswith("krm_")
    created = org.owner.post(
        "/integrations",
        json={
            "provider": "openai",
            "name": "Payments OpenAI",
            "slug": "pay-openai",
            "project_scope": [project["id"]],
            "credentials": {"api_key": PROVIDER_KEY},
            "models": {"enabled": ["gpt-4o-mini"]},
        },
    )
    assert created.status_code == 201, created.text
    assert "api_key" not in created.text
    assert created.json()["credential"]["masked"].startswith("sk-")
    custom = org.owner.post(
        "/integrations/pay-openai/custom-models",
        json={
            "slug": "ft:gpt-4o-mini:acme",
            "base_model": "gpt-4o-mini",
            "pricing": {"input_per_mtok": 3, "output_per_mtok": 12},
        },
    )
    assert custom.status_code == 201, custom.text
    key = org.api_key(project["id"])
    sdk = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=key, max_retries=0)
    answer = sdk.chat.completions.create(
        model="@pay-openai/ft:gpt-4o-mini:acme", messages=[{"role": "user", "content": "custom model"}]
    )
    assert answer.choices[0].message.content == "echo: custom model"
    ids = {m.id for m in sdk.models.list()}
    assert {"@pay-openai/gpt-4o-mini", "@pay-openai/ft:gpt-4o-mini:acme", "openai/gpt-4o-mini"} <= ids
    other_project_key = org.api_key()  # the default project is out of the integration's scope
    other = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=other_project_key, max_retries=0)
    with pytest.raises(openai.NotFoundError) as refused:
        other.chat.completions.create(model="@pay-openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert refused.value.status_code == 404
    assert "@pay-openai/gpt-4o-mini" not in {m.id for m in other.models.list()}


def test_a_revoked_api_key_stops_working_at_once(org: Org) -> None:
    """Revocation is broadcast: the very next request with the key is refused (no cache grace)."""
    key = org.api_key()
    sdk = openai.OpenAI(base_url=f"{org.stack.gateway_url}/v1", api_key=key, max_retries=0)
    sdk.models.list()
    key_id = next(k["id"] for k in org.owner.get("/api-keys").json()["data"] if key.startswith(k["prefix"]))
    assert org.owner.delete(f"/api-keys/{key_id}").status_code == 204
    with pytest.raises(openai.AuthenticationError):
        sdk.models.list()


# --- the authorization matrix -------------------------------------------------------------------------
# rule per route: which roles may use it. "read" = any member of the org (lists filtered to their projects)
RULES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/providers"): "read",
    ("GET", "/api/v1/projects"): "read",
    ("POST", "/api/v1/projects"): "owner",
    ("GET", "/api/v1/projects/{project_id:str}"): "project",
    ("PATCH", "/api/v1/projects/{project_id:str}"): "owner",
    ("DELETE", "/api/v1/projects/{project_id:str}"): "owner",
    ("GET", "/api/v1/members"): "read",
    ("POST", "/api/v1/members"): "owner",
    ("PATCH", "/api/v1/members/{member_id:str}"): "owner",
    ("DELETE", "/api/v1/members/{member_id:str}"): "owner",
    ("GET", "/api/v1/api-keys"): "read",
    ("POST", "/api/v1/api-keys"): "admin",
    ("PATCH", "/api/v1/api-keys/{api_key_id:str}"): "admin",
    ("DELETE", "/api/v1/api-keys/{api_key_id:str}"): "admin",
    ("GET", "/api/v1/integrations"): "read",
    ("POST", "/api/v1/integrations"): "owner",
    ("GET", "/api/v1/integrations/{slug:str}"): "read",
    ("PATCH", "/api/v1/integrations/{slug:str}"): "owner",
    ("DELETE", "/api/v1/integrations/{slug:str}"): "owner",
    ("PUT", "/api/v1/integrations/{slug:str}/credentials"): "owner",
    ("GET", "/api/v1/integrations/{slug:str}/models"): "read",
    ("PUT", "/api/v1/integrations/{slug:str}/models"): "owner",
    ("POST", "/api/v1/integrations/{slug:str}/custom-models"): "owner",
    ("DELETE", "/api/v1/integrations/{slug:str}/custom-models/{model_slug:str}"): "owner",
    ("GET", "/api/v1/integrations/{slug:str}/pricing"): "admin",
    ("PUT", "/api/v1/integrations/{slug:str}/pricing"): "owner",
    ("GET", "/api/v1/virtual-models"): "read",
    ("POST", "/api/v1/virtual-models"): "admin",
    ("GET", "/api/v1/virtual-models/{name:str}"): "read",
    ("PUT", "/api/v1/virtual-models/{name:str}"): "admin",
    ("DELETE", "/api/v1/virtual-models/{name:str}"): "admin",
    ("GET", "/api/v1/activity"): "read",
    ("GET", "/api/v1/activity/summary"): "read",
    ("GET", "/api/v1/activity/{request_id_:str}"): "read",
    ("GET", "/api/v1/audit"): "owner",
    ("GET", "/api/v1/configs"): "read",
    ("POST", "/api/v1/configs"): "admin",
    ("GET", "/api/v1/configs/{name:str}"): "read",
    ("PUT", "/api/v1/configs/{name:str}"): "admin",
    ("DELETE", "/api/v1/configs/{name:str}"): "admin",
    ("POST", "/api/v1/route/explain"): "project",
}
ROLES = ("owner", "admin", "developer", "other_org", "anonymous")


def registered_routes() -> list[tuple[str, str]]:
    app = create_app(GatewaySettings())
    found = []
    for route in app.routes:
        if (
            not route.path.startswith("/api/v1")
            or route.path.startswith("/api/v1/schema")
            or route.path.endswith(".json")
        ):
            continue
        for method in getattr(route, "methods", set()):
            if method not in {"HEAD", "OPTIONS"}:
                found.append((method, route.path))
    return sorted(found)


def test_every_management_route_is_classified_in_the_matrix() -> None:
    """A new route without a rule here fails the build, so nothing ships unclassified."""
    unclassified = [r for r in registered_routes() if r not in RULES]
    assert unclassified == []


class World:
    """Org A with a project, an admin and a developer of it, an integration, a key, a virtual model;
    org B's owner; fresh objects are made per mutating request so every call has something to act on."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.a = bootstrap(stack)
        self.b = bootstrap(stack)
        self.project = self.a.project_id
        self.tokens: dict[str, str | None] = {
            "owner": str(self.a.owner.headers["authorization"])[7:],
            "other_org": str(self.b.owner.headers["authorization"])[7:],
            "anonymous": None,
        }
        for role in ("admin", "developer"):
            created = self.a.owner.post(
                "/members",
                json={"email": f"{role}-{secrets.token_hex(3)}@example.com", "projects": {self.project: role}},
            )
            self.tokens[role] = created.json()["token"]

    def fresh(self) -> dict[str, str]:
        owner = self.a.owner
        slug = f"int-{secrets.token_hex(4)}"
        self.a.integration(slug)
        owner.post(f"/integrations/{slug}/custom-models", json={"slug": "cm-1"})
        project = owner.post("/projects", json={"name": f"p-{secrets.token_hex(4)}"}).json()["id"]
        member = owner.post("/members", json={"email": f"m-{secrets.token_hex(4)}@example.com"}).json()["id"]
        key = owner.post("/api-keys", json={"project_id": self.project, "name": "k"}).json()["id"]
        vm = f"vm-{secrets.token_hex(4)}"
        owner.post(
            "/virtual-models",
            json={"name": vm, "project_id": self.project, "targets": [{"model": f"@{slug}/gpt-4o-mini"}]},
        )
        owner.post("/configs", json={"name": vm, "project_id": self.project, "targets": [{"integration": slug}]})
        return {
            "slug": slug,
            "project_id": project if True else self.project,
            "member_id": member,
            "api_key_id": key,
            "name": vm,
            "model_slug": "cm-1",
            "request_id_": "req_missing",
        }

    def body(self, method: str, path: str, ids: dict[str, str]) -> dict[str, Any] | None:
        bodies: dict[tuple[str, str], dict[str, Any]] = {
            ("POST", "/api/v1/projects"): {"name": f"p-{secrets.token_hex(4)}"},
            ("PATCH", "/api/v1/projects/{project_id:str}"): {"name": f"p-{secrets.token_hex(4)}"},
            ("POST", "/api/v1/members"): {"email": f"x-{secrets.token_hex(4)}@example.com"},
            ("PATCH", "/api/v1/members/{member_id:str}"): {"org_role": "member"},
            ("POST", "/api/v1/api-keys"): {"project_id": self.project, "name": "k"},
            ("PATCH", "/api/v1/api-keys/{api_key_id:str}"): {"name": "renamed"},
            ("POST", "/api/v1/integrations"): {
                "provider": "openai",
                "name": "n",
                "slug": f"n-{secrets.token_hex(4)}",
                "credentials": {"api_key": PROVIDER_KEY},
            },
            ("PATCH", "/api/v1/integrations/{slug:str}"): {"name": "renamed"},
            ("PUT", "/api/v1/integrations/{slug:str}/credentials"): {"credentials": {"api_key": PROVIDER_KEY}},
            ("PUT", "/api/v1/integrations/{slug:str}/models"): {"all": True},
            ("POST", "/api/v1/integrations/{slug:str}/custom-models"): {"slug": f"c-{secrets.token_hex(3)}"},
            ("PUT", "/api/v1/integrations/{slug:str}/pricing"): {"discount_pct": 10},
            ("POST", "/api/v1/virtual-models"): {
                "name": f"v-{secrets.token_hex(4)}",
                "project_id": self.project,
                "targets": [{"model": f"@{ids.get('slug', 'none')}/gpt-4o-mini"}],
            },
            ("POST", "/api/v1/configs"): {
                "name": f"c-{secrets.token_hex(4)}",
                "project_id": self.project,
                "targets": [{"integration": ids.get("slug", "none")}],
            },
            ("PUT", "/api/v1/configs/{name:str}"): {"targets": [{"integration": ids.get("slug", "none")}]},
            ("POST", "/api/v1/route/explain"): {
                "model": f"@{ids.get('slug', 'none')}/gpt-4o-mini",
                "project_id": self.project,
            },
            ("PUT", "/api/v1/virtual-models/{name:str}"): {
                "project_id": self.project,
                "targets": [{"model": f"@{ids.get('slug', 'none')}/gpt-4o-mini"}],
            },
        }
        return bodies.get((method, path))


def _allowed(rule: str, role: str) -> bool:
    return {
        "read": role in {"owner", "admin", "developer"},
        "project": role in {"owner", "admin", "developer"},
        "owner": role == "owner",
        "admin": role in {"owner", "admin"},
    }[rule]


@pytest.fixture(scope="module")
def world(stack: EmbeddedStack) -> World:
    return World(stack)


@pytest.mark.parametrize("route", sorted(RULES))
def test_each_role_gets_exactly_what_the_matrix_says(world: World, route: tuple[str, str]) -> None:
    """Owner, project admin, developer, another org's owner and no token, on every route."""
    method, template = route
    rule = RULES[route]
    for role in ROLES:
        ids = world.fresh() if method != "GET" or "{" in template else {}
        if rule == "project" or template.startswith("/api/v1/projects/{"):
            ids["project_id"] = world.project if method == "GET" else ids.get("project_id", world.project)
        path = template
        for name, value in ids.items():
            path = path.replace(f"{{{name}:str}}", value)
        body = world.body(method, template, ids)
        response = client(world.stack, world.tokens[role]).request(method, path.removeprefix("/api/v1"), json=body)
        status = response.status_code
        assert status < 500, (role, method, path, response.text)
        if role == "anonymous":
            assert status == 401, (role, method, path, status)
        elif role == "other_org":
            # another org never reaches org A's objects: 404 (no existence leak); lists show only its own
            if "{" in template:
                assert status in {403, 404}, (role, method, path, status, response.text)
            assert "pay-openai" not in response.text
        elif _allowed(rule, role):
            assert status not in {401, 403}, (role, method, path, status, response.text)
        else:
            assert status in {403, 404}, (role, method, path, status, response.text)


# --- input handling -----------------------------------------------------------------------------------
def _integration(**overrides: object) -> bytes:
    body = {"provider": "openai", "name": "x", "slug": "good-slug", "credentials": {"api_key": "sk-12345678"}}
    return json.dumps({**body, **overrides}).encode()


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/projects", b"{oops", "invalid_json"),
        ("/projects", b'{"name": {"$ne": null}}', "invalid_request"),
        ("/integrations", _integration(slug="\u0430pi-prod"), "invalid_slug"),  # Cyrillic a
        ("/integrations", _integration(slug="\uff41pi-prod"), "invalid_slug"),  # fullwidth
        ("/integrations", _integration(slug="api\u200bprod"), "invalid_slug"),  # zero-width space
        ("/integrations", _integration(slug="ab"), "invalid_slug"),
        ("/integrations", _integration(slug="admin"), "invalid_slug"),
        ("/integrations", _integration(provider="nope"), "invalid_request"),
        ("/integrations", _integration(slug="hdr-a", custom_headers={"Host": "evil"}), "invalid_header"),
        ("/integrations", _integration(slug="hdr-b", custom_headers={"x-org": "a\r\nb"}), "invalid_header"),
        (
            "/integrations",
            _integration(slug="ssrf-a", custom_host={"base_url": "https://169.254.169.254/v1"}),
            "upstream_not_allowed",
        ),
        (
            "/integrations",
            _integration(slug="ssrf-b", custom_host={"base_url": "https://0xa.1/v1"}),
            "upstream_not_allowed",
        ),
        (
            "/integrations",
            _integration(slug="ssrf-c", custom_host={"base_url": "https://x@[::ffff:10.0.0.1]/v1"}),
            "upstream_not_allowed",
        ),
    ],
)
def test_bad_management_input_gets_a_stable_4xx_code(org: Org, path: str, body: bytes, code: str) -> None:
    """Malformed JSON, operator injection, confusable or reserved slugs, bad headers and SSRF hosts."""
    response = org.owner.post(path, content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] == code, response.text


@pytest.mark.parametrize("raw_id", ['{"$ne": null}', "../../etc/passwd", "..%2F..%2Fx", "a" * 300, "%00"])
def test_path_like_and_operator_ids_are_just_unknown_ids(org: Org, raw_id: str) -> None:
    """Ids are opaque strings: a Mongo operator or a path in them finds nothing and never errors."""
    response = org.owner.get(f"/projects/{raw_id}")
    assert response.status_code in {404, 400}, response.text
    assert response.json()["error"]["code"] in {"not_found", "invalid_request"}


def test_an_oversize_body_is_refused_with_413(org: Org) -> None:
    """A body over the limit is refused before it is read (413, contract error shape)."""
    response = org.owner.post(
        "/projects", content=b"x" * (21 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_fifty_concurrent_creates_of_one_slug_have_exactly_one_winner(org: Org) -> None:
    """The unique (org, slug) index decides: one 201, forty-nine 409 `slug_taken`."""
    slug = f"race-{secrets.token_hex(4)}"
    body = {"provider": "openai", "name": "race", "slug": slug, "credentials": {"api_key": PROVIDER_KEY}}

    def create(_: int) -> int:
        with client(org.stack, str(org.owner.headers["authorization"])[7:]) as c:
            response = c.post("/integrations", json=body)
            if response.status_code not in (201, 409):
                raise AssertionError(response.text)
            if response.status_code == 409:
                assert response.json()["error"]["code"] == "slug_taken"
            return response.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(create, range(50)))
    assert statuses.count(201) == 1
    assert statuses.count(409) == 49
