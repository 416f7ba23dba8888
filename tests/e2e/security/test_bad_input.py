"""Issue 10 items 4, 6 and 9 (headers), issue 11 (authorisation before validation), as an attacker
would try them against the running stack: malformed bodies never answer 5xx nor write an error-level
log line, credentials and roles are checked before any body is read, metrics stay off the public port
and no header value comes back whole."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import pytest

from gateway.settings import GatewaySettings
from shared import subjects
from shared.messages import catalog as m
from shared.stack import EmbeddedStack
from shared.tokens import hash_token
from tests.conftest import Org, bootstrap

ERROR_LINE = re.compile(r'"level":\s*"(error|critical|exception)"|Traceback|^(ERROR|CRITICAL) ', re.MULTILINE)


class LogWatch:
    """What the stack's services log from now on; `errors()` are the error-level lines and tracebacks."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self._files = {path: path.stat().st_size for path in Path(stack.logs).glob("*.log")}
        self._dir = Path(stack.logs)

    def new_text(self) -> str:
        parts = []
        for path in self._dir.glob("*.log"):
            with path.open("rb") as handle:
                handle.seek(self._files.get(path, 0))
                parts.append(handle.read().decode(errors="replace"))
        return "\n".join(parts)

    def errors(self) -> list[str]:
        return [line for line in self.new_text().splitlines() if ERROR_LINE.search(line)]


def _deep(levels: int) -> bytes:
    return b'{"model": "x", "a": ' + b"[" * levels + b"]" * levels + b"}"


def _deep_objects(levels: int) -> bytes:
    return b'{"name": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}"


INVALID_UTF8 = b'{"name": "caf\xc3\x28 \xff\xfe", "model": "gpt-4o-mini\xed\xa0\x80"}'
MALFORMED = {
    "5000 levels of arrays": _deep(5000),
    "5000 levels of objects": _deep_objects(5000),
    "200 levels (under the interpreter's limit)": _deep(200),
    "invalid UTF-8 in a string": INVALID_UTF8,
    "an integer of 100 digits": b'{"name": "n", "model": "m", "rpm": ' + b"9" * 100 + b"}",
}
MANAGEMENT_BODY_ROUTES = [
    ("POST", "/projects"),
    ("PATCH", "/projects/p_any"),
    ("POST", "/members"),
    ("PATCH", "/members/m_any"),
    ("POST", "/api-keys"),
    ("PATCH", "/api-keys/k_any"),
    ("POST", "/integrations"),
    ("PATCH", "/integrations/any-slug"),
    ("PUT", "/integrations/any-slug/credentials"),
    ("PUT", "/integrations/any-slug/models"),
    ("POST", "/integrations/any-slug/custom-models"),
    ("POST", "/virtual-models"),
    ("PUT", "/virtual-models/vm-any"),
    ("POST", "/configs"),
    ("PUT", "/configs/cfg-any"),
    ("POST", "/route/explain"),
]
OWNER_ONLY_BODY_ROUTES = [
    ("POST", "/projects"),
    ("PATCH", "/projects/p_any"),
    ("POST", "/members"),
    ("PATCH", "/members/m_any"),
    ("POST", "/integrations"),
    ("PATCH", "/integrations/any-slug"),
    ("PUT", "/integrations/any-slug/credentials"),
    ("PUT", "/integrations/any-slug/models"),
    ("POST", "/integrations/any-slug/custom-models"),
]
INFERENCE_ROUTES = ["/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/images/generations"]


def _send(stack: EmbeddedStack, method: str, path: str, body: bytes, token: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    url = f"{stack.gateway_url}{path if path.startswith('/v1') else '/api/v1' + path}"
    return httpx.request(method, url, content=body, headers=headers, timeout=30)


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"message", "type", "code", "param"}, error
    return error


def _owner_token(org: Org) -> str:
    return str(org.owner.headers["authorization"])[7:]


@pytest.fixture(scope="module")
def victim(stack: EmbeddedStack) -> Org:
    org = bootstrap(stack)
    org.integration("bad-input-openai")
    return org


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_body_is_a_400_on_every_management_route_without_an_error_log(
    stack: EmbeddedStack, victim: Org, case: str
) -> None:
    """Deep nesting, invalid UTF-8 and 64-bit overflows answer 400 `invalid_request` in the contract shape."""
    watch = LogWatch(stack)
    for method, path in MANAGEMENT_BODY_ROUTES:
        response = _send(stack, method, path, MALFORMED[case], _owner_token(victim))
        assert response.status_code == 400, (method, path, response.status_code, response.text[:300])
        assert _error(response)["code"] == "invalid_request", (method, path, response.text[:300])
    assert watch.errors() == []


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_body_is_a_400_on_every_inference_route_without_an_error_log(
    stack: EmbeddedStack, victim: Org, case: str
) -> None:
    """The same bodies, with a valid API key, on every inference route."""
    key = victim.api_key()
    watch = LogWatch(stack)
    for path in INFERENCE_ROUTES:
        response = _send(stack, "POST", path, MALFORMED[case], key)
        assert response.status_code == 400, (path, response.status_code, response.text[:300])
        assert _error(response)["code"] == "invalid_request", (path, response.text[:300])
    assert watch.errors() == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/projects", {"name": "huge-rpm", "rpm": 10**30}),
        ("POST", "/projects", {"name": "huge-tpm", "tpm": 2**63}),
        ("POST", "/projects", {"name": "negative-rpm", "rpm": -1}),
        ("POST", "/projects", {"name": "huge-budget", "budget_usd": 1e300}),
        ("PATCH", "/projects/{project}", {"rpm": 10**30}),
        ("POST", "/api-keys", {"project_id": "{project}", "name": "huge", "rpm": 10**30}),
        ("POST", "/api-keys", {"project_id": "{project}", "name": "huge", "tpm": 10**19}),
        ("POST", "/integrations/bad-input-openai/custom-models", {"slug": "c1", "pricing": {"input_per_mtok": 1e200}}),
        ("POST", "/virtual-models", {"name": "vm-w", "targets": [{"model": "@x/y", "weight": 1e300}]}),
        ("POST", "/configs", {"name": "c-retry", "retry": {"attempts": 10**30}, "targets": []}),
        ("POST", "/configs", {"name": "c-time", "timeout_ms": 2**62, "targets": []}),
        ("PUT", "/configs/c-roll", {"rollback_to": 10**30}),
        ("PUT", "/configs/c-roll", {"rollback_to": 2**40}),
    ],
)
def test_a_number_out_of_range_is_a_400_and_nothing_is_stored(
    stack: EmbeddedStack, victim: Org, method: str, path: str, body: dict[str, Any]
) -> None:
    """Every number a caller sets has a range; beyond it: 400 `invalid_request`, no write, no error log."""
    raw = json.dumps(body).replace('"{project}"', json.dumps(victim.project_id)).encode()
    path = path.replace("{project}", victim.project_id)
    projects_before = victim.owner.get("/projects").json()
    watch = LogWatch(stack)
    response = _send(stack, method, path, raw, _owner_token(victim))
    assert response.status_code == 400, response.text[:300]
    assert _error(response)["code"] == "invalid_request"
    assert victim.owner.get("/projects").json() == projects_before
    assert watch.errors() == []


def test_a_huge_integer_in_an_inference_body_is_a_400_before_any_upstream_call(
    stack: EmbeddedStack, victim: Org
) -> None:
    key = victim.api_key()
    watch = LogWatch(stack)
    body = {
        "model": "@bad-input-openai/gpt-4o-mini",
        "max_tokens": 10**30,
        "messages": [{"role": "user", "content": "x"}],
    }
    response = _send(stack, "POST", "/v1/chat/completions", json.dumps(body).encode(), key)
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_request"
    assert watch.errors() == []


async def test_catalog_refuses_an_out_of_range_command_sent_straight_over_the_bus(
    stack: EmbeddedStack, victim: Org
) -> None:
    """Defence in depth: with the gateway's own NATS credentials, `rpm: 10**30` still never reaches MongoDB."""
    nc = await nats.connect(
        stack.nats_url, user="gateway", password=stack.password("gateway"), inbox_prefix=b"_INBOX.gateway"
    )
    try:
        command = m.CreateProject(name=f"bus-{secrets.token_hex(3)}", rpm=10**30)
        request = m.ManageRequest(token_hash=hash_token(_owner_token(victim)), command=command, request_id="req_x")
        reply = await nc.request(subjects.CATALOG_MANAGE, msgspec.json.encode(request), timeout=5)
    finally:
        await nc.close()
    answer = msgspec.json.decode(reply.data)
    assert answer["type"] == "failed", answer
    assert answer["code"] == "invalid_request"
    assert command.name not in json.dumps(victim.owner.get("/projects").json())


@pytest.mark.parametrize("token", [None, "not-a-token", "kr-not-a-key"])
def test_without_valid_credentials_every_body_route_answers_401_before_reading_the_body(
    stack: EmbeddedStack, token: str | None
) -> None:
    """A malformed (and a deeply nested) body from an anonymous caller is never parsed: 401, not 400."""
    watch = LogWatch(stack)
    for body in (b"{not json", _deep(5000), INVALID_UTF8):
        for method, path in MANAGEMENT_BODY_ROUTES:
            response = _send(stack, method, path, body, token)
            assert response.status_code == 401, (method, path, response.text[:300])
            assert _error(response)["code"] in {"unauthorized", "invalid_api_key"}
        for path in INFERENCE_ROUTES:
            response = _send(stack, "POST", path, body, token)
            assert response.status_code == 401, (path, response.text[:300])
            assert _error(response)["code"] in {"unauthorized", "invalid_api_key"}
    for query in ("limit=99999999999999999999999", "status=abc", "since=yesterday"):
        response = httpx.get(
            f"{stack.gateway_url}/api/v1/activity?{query}",
            headers={"authorization": f"Bearer {token}"} if token else {},
            timeout=30,
        )
        assert response.status_code == 401, (query, response.text[:300])
    assert watch.errors() == []


def test_a_non_owner_sending_an_invalid_body_to_an_owner_only_route_gets_403_not_400(
    stack: EmbeddedStack, victim: Org
) -> None:
    """A project admin and a developer learn nothing from validation: 403 `owner_required`, audited."""
    tokens = {}
    for role in ("admin", "developer"):
        created = victim.owner.post(
            "/members",
            json={"email": f"{role}-{secrets.token_hex(3)}@example.com", "projects": {victim.project_id: role}},
        )
        tokens[role] = created.json()["token"]
    watch = LogWatch(stack)
    for role, token in tokens.items():
        for body in (b"{not json", b'{"unknown_field": 1, "rpm": "x"}', _deep(5000)):
            for method, path in OWNER_ONLY_BODY_ROUTES:
                response = _send(stack, method, path, body, token)
                assert response.status_code == 403, (role, method, path, response.text[:300])
                assert _error(response)["code"] == "owner_required"
    # a developer is admin of no project: project-admin routes refuse it before the body too
    for method, path in [("POST", "/api-keys"), ("POST", "/virtual-models"), ("POST", "/configs")]:
        response = _send(stack, method, path, b"{not json", tokens["developer"])
        assert response.status_code == 403, (method, path, response.text[:300])
        assert _error(response)["code"] == "forbidden"
    response = httpx.get(
        f"{stack.gateway_url}/api/v1/audit?limit=abc",
        headers={"authorization": f"Bearer {tokens['admin']}"},
        timeout=30,
    )
    assert (response.status_code, _error(response)["code"]) == (403, "owner_required")
    assert watch.errors() == []
    audit = victim.owner.get("/audit", params={"limit": 200}).json()["data"]
    assert any(event["action"] == "CreateIntegration.denied" for event in audit), audit[:5]


def test_a_project_admin_still_gets_validation_errors_where_it_has_the_right(stack: EmbeddedStack, victim: Org) -> None:
    """The pre-check refuses only callers who can never run the route; an admin's bad body is a 400."""
    admin = victim.owner.post(
        "/members",
        json={"email": f"pa-{secrets.token_hex(3)}@example.com", "projects": {victim.project_id: "admin"}},
    ).json()["token"]
    response = _send(stack, "POST", "/api-keys", b'{"project_id": 1}', admin)
    assert (response.status_code, _error(response)["code"]) == (400, "invalid_request")


def test_metrics_are_not_served_on_the_public_port_but_on_the_loopback_metrics_listener(
    stack: EmbeddedStack, victim: Org
) -> None:
    """`/metrics` names every org's integrations: 404 on the gateway's port, served on its own listener."""
    watch = LogWatch(stack)
    public = httpx.get(f"{stack.gateway_url}/metrics", timeout=10)
    assert public.status_code == 404
    assert _error(public)["code"] == "not_found"
    assert "keyrelay_gateway" not in public.text
    private = httpx.get(f"http://127.0.0.1:{stack.metrics_ports['gateway']}/metrics", timeout=10)
    assert private.status_code == 200
    assert "keyrelay_gateway_snapshot_hits" in private.text
    assert GatewaySettings().metrics_host == "127.0.0.1"
    assert watch.errors() == []


def test_a_60_kb_header_is_refused_and_never_echoed(stack: EmbeddedStack, victim: Org) -> None:
    """A 60 KB `x-keyrelay-config` is a 400 `invalid_header` with a short message; a long but allowed
    config or model name comes back cut to a few dozen characters."""
    key = victim.api_key()
    marker = "Q" * 200
    body = {"model": "@bad-input-openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    watch = LogWatch(stack)
    huge = (marker * 300)[:60_000]
    for path in ("/v1/chat/completions", "/api/v1/projects"):
        response = httpx.post(
            f"{stack.gateway_url}{path}",
            json=body,
            headers={"authorization": f"Bearer {key}", "x-keyrelay-config": huge},
            timeout=30,
        )
        assert response.status_code == 400, response.text[:300]
        assert _error(response)["code"] == "invalid_header"
        assert len(response.content) < 500
        assert marker[:64] not in response.text
    allowed = (marker * 40)[:7000]
    response = httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}", "x-keyrelay-config": allowed},
        timeout=30,
    )
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"
    assert len(_error(response)["message"]) < 200
    assert marker[:100] not in response.text
    assert watch.errors() == []
    assert huge[:1000] not in watch.new_text()
