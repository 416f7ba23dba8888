"""Issue 10, item 2: another project's admin, with a real member token, attacks project A.

Org with projects A and B; a member who is admin of B only. Project A holds a virtual model, a
gateway config, an API key and an integration scoped to A alone (with a custom model). Every
write the attacker tries is refused (403, or 404 where the object is outside what they may see)
and, read back as the owner, every stored document is exactly as it was.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shared.stack import EmbeddedStack
from tests.conftest import Org, bootstrap

REFUSED = {403, 404}


def _client(stack: EmbeddedStack, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{stack.gateway_url}/api/v1", headers={"authorization": f"Bearer {token}"}, timeout=30
    )


@dataclass
class World:
    org: Org
    a: str  # the victim project
    b: str  # the attacker's project
    attacker: httpx.Client  # admin of B only
    attacker_id: str
    both: httpx.Client  # admin of A and of B, still not an owner
    a_only: str  # integration scoped to project A only
    shared: str  # integration scoped to every project
    vm: str
    config: str
    key_id: str

    @property
    def owner(self) -> httpx.Client:
        return self.org.owner


def _member(org: Org, projects: dict[str, str]) -> tuple[httpx.Client, str]:
    email = f"m-{secrets.token_hex(4)}@example.com"
    created = org.owner.post("/members", json={"email": email, "org_role": "member", "projects": projects})
    assert created.status_code == 201, created.text
    return _client(org.stack, created.json()["token"]), created.json()["id"]


@pytest.fixture(scope="module")
def world(stack: EmbeddedStack) -> World:
    org = bootstrap(stack)
    a = org.project_id
    b = org.owner.post("/projects", json={"name": "attacker-b"}).json()["id"]
    attacker, attacker_id = _member(org, {b: "admin"})
    both, _ = _member(org, {a: "admin", b: "admin"})
    a_only, shared = f"a-only-{secrets.token_hex(3)}", f"shared-{secrets.token_hex(3)}"
    org.integration(a_only, project_scope=[a])
    org.integration(shared)
    custom = org.owner.post(f"/integrations/{a_only}/custom-models", json={"slug": "ft-a", "base_model": "gpt-4o-mini"})
    assert custom.status_code == 201, custom.text
    vm, config = f"vm-{secrets.token_hex(3)}", f"cfg-{secrets.token_hex(3)}"
    made = org.owner.post(
        "/virtual-models", json={"name": vm, "project_id": a, "targets": [{"model": f"@{a_only}/gpt-4o-mini"}]}
    )
    assert made.status_code == 201, made.text
    made = org.owner.post("/configs", json={"name": config, "project_id": a, "targets": [{"integration": a_only}]})
    assert made.status_code == 201, made.text
    key = org.owner.post("/api-keys", json={"project_id": a, "name": "a-key", "rpm": 100})
    assert key.status_code == 201, key.text
    return World(org, a, b, attacker, attacker_id, both, a_only, shared, vm, config, key.json()["id"])


def _snapshot(world: World) -> dict[str, Any]:
    """Everything the attacks could touch, as the owner reads it."""
    owner = world.owner
    return {
        "vm": owner.get(f"/virtual-models/{world.vm}").json(),
        "config": owner.get(f"/configs/{world.config}").json(),
        "key": next(k for k in owner.get("/api-keys").json()["data"] if k["id"] == world.key_id),
        "integration": owner.get(f"/integrations/{world.a_only}").json(),
        "models": owner.get(f"/integrations/{world.a_only}/models").json(),
        "project": owner.get(f"/projects/{world.a}").json(),
        "attacker": next(m for m in owner.get("/members").json()["data"] if m["id"] == world.attacker_id),
    }


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code in REFUSED, (response.request.method, response.request.url, response.text)
    assert "error" in response.json()


def test_a_project_admin_cannot_move_another_projects_virtual_model(world: World) -> None:
    before = _snapshot(world)
    takeover = {"project_id": world.b, "targets": [{"model": f"@{world.shared}/gpt-4o-mini"}]}
    _assert_refused(world.attacker.put(f"/virtual-models/{world.vm}", json=takeover))
    in_place = {"project_id": world.a, "targets": [{"model": f"@{world.shared}/gpt-4o-mini"}]}
    _assert_refused(world.attacker.put(f"/virtual-models/{world.vm}", json=in_place))
    _assert_refused(world.attacker.put(f"/virtual-models/{world.vm}", json={"targets": takeover["targets"]}))
    _assert_refused(world.attacker.delete(f"/virtual-models/{world.vm}"))
    _assert_refused(world.attacker.get(f"/virtual-models/{world.vm}"))
    squat = world.attacker.post("/virtual-models", json={"name": world.vm, **takeover})
    assert squat.status_code == 409, squat.text
    assert _snapshot(world) == before


def test_a_project_admin_cannot_change_or_delete_another_projects_config(world: World) -> None:
    before = _snapshot(world)
    node = {"targets": [{"integration": world.shared}]}
    _assert_refused(world.attacker.put(f"/configs/{world.config}", json={"project_id": world.b, **node}))
    _assert_refused(world.attacker.put(f"/configs/{world.config}", json={"project_id": world.a, **node}))
    _assert_refused(world.attacker.put(f"/configs/{world.config}", json=node))
    _assert_refused(world.attacker.put(f"/configs/{world.config}", json={"rollback_to": 1}))
    _assert_refused(world.attacker.delete(f"/configs/{world.config}"))
    _assert_refused(world.attacker.get(f"/configs/{world.config}"))
    assert _snapshot(world) == before
    assert before["config"]["version"] == 1
    assert before["config"]["project_id"] == world.a


def test_a_project_admin_cannot_change_or_revoke_another_projects_api_key(world: World) -> None:
    before = _snapshot(world)
    _assert_refused(world.attacker.patch(f"/api-keys/{world.key_id}", json={"name": "pwned", "rpm": 1}))
    _assert_refused(world.attacker.delete(f"/api-keys/{world.key_id}"))
    _assert_refused(world.attacker.get("/api-keys", params={"project_id": world.a}))
    assert world.key_id not in {k["id"] for k in world.attacker.get("/api-keys").json()["data"]}
    _assert_refused(world.attacker.post("/api-keys", json={"project_id": world.a, "name": "mine-now"}))
    after = _snapshot(world)
    assert after == before
    assert after["key"]["revoked"] is False


def test_a_project_admin_cannot_touch_the_models_of_an_integration_outside_their_scope(world: World) -> None:
    before = _snapshot(world)
    slug = world.a_only
    _assert_refused(world.attacker.get(f"/integrations/{slug}"))
    listing = world.attacker.get(f"/integrations/{slug}/models")
    assert listing.status_code == 404, listing.text
    assert listing.json()["error"]["code"] == "integration_not_found"
    assert "ft-a" not in listing.text
    _assert_refused(world.attacker.post(f"/integrations/{slug}/custom-models", json={"slug": "ft-evil"}))
    _assert_refused(world.attacker.delete(f"/integrations/{slug}/custom-models/ft-a"))
    _assert_refused(world.attacker.put(f"/integrations/{slug}/models", json={"none": True}))
    _assert_refused(world.attacker.patch(f"/integrations/{slug}", json={"project_scope": [world.b]}))
    assert slug not in {i["slug"] for i in world.attacker.get("/integrations").json()["data"]}
    assert _snapshot(world) == before


def test_the_integration_model_list_still_answers_within_the_scope(world: World) -> None:
    assert world.attacker.get(f"/integrations/{world.shared}/models").status_code == 200
    assert world.both.get(f"/integrations/{world.a_only}/models").status_code == 200


def test_a_project_admin_cannot_grant_themselves_a_role_in_another_project(world: World) -> None:
    before = _snapshot(world)
    raise_self = {"projects": {world.a: "admin", world.b: "admin"}}
    _assert_refused(world.attacker.patch(f"/members/{world.attacker_id}", json=raise_self))
    _assert_refused(world.attacker.patch(f"/members/{world.attacker_id}", json={"org_role": "owner"}))
    invite = {"email": f"sock-{secrets.token_hex(3)}@example.com", "projects": {world.a: "admin"}}
    _assert_refused(world.attacker.post("/members", json=invite))
    _assert_refused(world.attacker.patch(f"/projects/{world.a}", json={"name": "pwned", "rpm": 1}))
    _assert_refused(world.attacker.delete(f"/projects/{world.a}"))
    assert _snapshot(world) == before
    assert before["attacker"]["projects"] == {world.b: "admin"}


def test_moving_a_virtual_model_between_projects_is_for_owners_only(world: World) -> None:
    name = f"vm-move-{secrets.token_hex(3)}"
    targets = [{"model": f"@{world.shared}/gpt-4o-mini"}]
    made = world.both.post("/virtual-models", json={"name": name, "project_id": world.a, "targets": targets})
    assert made.status_code == 201, made.text
    moved = world.both.put(f"/virtual-models/{name}", json={"project_id": world.b, "targets": targets})
    assert moved.status_code == 403, moved.text
    assert moved.json()["error"]["code"] == "owner_required"
    assert world.owner.get(f"/virtual-models/{name}").json()["project_id"] == world.a
    moved = world.owner.put(f"/virtual-models/{name}", json={"project_id": world.b, "targets": targets})
    assert moved.status_code == 200, moved.text
    assert world.owner.get(f"/virtual-models/{name}").json()["project_id"] == world.b


def test_moving_a_config_between_projects_is_for_owners_only(world: World) -> None:
    name = f"cfg-move-{secrets.token_hex(3)}"
    node = {"targets": [{"integration": world.shared}]}
    made = world.both.post("/configs", json={"name": name, "project_id": world.a, **node})
    assert made.status_code == 201, made.text
    assert world.both.put(f"/configs/{name}", json=node).status_code == 200  # a new version, same project
    moved = world.both.put(f"/configs/{name}", json={"project_id": world.b, **node})
    assert moved.status_code == 403, moved.text
    stored = world.owner.get(f"/configs/{name}").json()
    assert (stored["project_id"], stored["version"]) == (world.a, 2)
    moved = world.owner.put(f"/configs/{name}", json={"project_id": world.b, **node})
    assert moved.status_code == 200, moved.text
    assert world.owner.get(f"/configs/{name}").json()["project_id"] == world.b
