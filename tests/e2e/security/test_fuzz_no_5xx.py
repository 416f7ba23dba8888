"""Property test: no request answers 5xx (issue 10, "what it must show").

Management: for every operation of the served OpenAPI document (`/api/v1/openapi.json`), bodies,
path and query parameters are generated from the operation's own schema, then mutated (hostile
values in any field, huge and negative numbers, deep nesting, truncated or non-UTF-8 bytes).
Inference: OpenAI and Anthropic shaped bodies with the same mutations. Sent as the org owner (the
caller who gets furthest into the code) against the real stack; every answer must be < 500 in the
contract's error shape, and no service may log an error-level line meanwhile.

Bounded: a few examples per operation, derandomised (the same inputs on every run), no example
database; the whole module runs in well under a minute.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.stack import EmbeddedStack
from tests.conftest import FakeServer, Org, bootstrap
from tests.e2e.security.test_bad_input import LogWatch

MANAGEMENT_EXAMPLES = 8
INFERENCE_EXAMPLES = 20
FUZZ = settings(
    max_examples=MANAGEMENT_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
HOSTILE = st.sampled_from(
    [
        10**30,
        -(10**30),
        2**63,
        -1,
        0,
        1e308,
        -1e308,
        "",
        "x" * 5000,
        None,
        True,
        [],
        {},
        {"$ne": None},
        {"$where": "sleep(1000)"},
        "\x00",
        "../../etc/passwd",
        "@",
        "@/",
        "a/b/c/d",
        "\u202e\u0430pi",
        "\ud7ff\ue000\U0010ffff",
        [[[[[[[[[[[]]]]]]]]]]],
    ]
)


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every management operation, known before the stack starts (for test ids)."""
    schema = create_app(GatewaySettings()).openapi_schema.to_schema()
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )


def from_schema(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A JSON value matching `schema` (the subset of JSON Schema Litestar emits)."""
    if depth > 6:
        return JSON_SCALARS
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[-1]], components, depth + 1)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([from_schema(s, components, depth + 1) for s in schema[key]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, components, depth) for k in kind])
    if kind == "object":
        props = schema.get("properties", {})
        if not props:
            return st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4)
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, components, depth + 1) for k, v in props.items() if k in required},
            optional={k: from_schema(v, components, depth + 1) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), components, depth + 1), max_size=3)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string":
        return st.text(max_size=30) | st.sampled_from(["openai", "all", "gpt-4o-mini", "2026-01-01T00:00:00Z"])
    return JSON_VALUES


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> bytes:
    """A schema-valid body, or one with a hostile value somewhere, or broken bytes."""
    body = draw(valid)
    mode = draw(st.sampled_from(["valid", "field", "field", "new_field", "wrap", "bytes"]))
    if mode in {"field", "new_field"} and isinstance(body, dict):
        keys = sorted(body) if body and mode == "field" else [draw(st.text(min_size=1, max_size=10))]
        body = {**body, draw(st.sampled_from(keys)): draw(HOSTILE | JSON_VALUES)}
    elif mode == "wrap":
        levels = draw(st.sampled_from([70, 300, 3000]))
        body = {"x": json.loads("[" * min(levels, 900) + "]" * min(levels, 900))} if levels < 1000 else body
        if levels >= 1000:
            return b"[" * levels + json.dumps(body).encode() + b"]" * levels
    raw = json.dumps(body).encode()
    if mode == "bytes":
        cut = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from([b"", b"\xff", b"\xc3\x28", b'"\\ud800"', b"\x00", b"}", b"1e999"]))
        raw = raw[:cut] + junk + raw[cut:]
    return raw


def _assert_contract(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
        assert "error" in response.json(), (what, response.text[:300])


@pytest.fixture(scope="module")
def fuzz_org(stack: EmbeddedStack) -> Org:
    org = bootstrap(stack)
    org.integration("fuzz-openai")
    return org


@pytest.fixture(scope="module")
def inference_org(stack: EmbeddedStack, fake: FakeServer) -> Org:
    """Its own org (the management fuzz may delete the other one's project), with an OpenAI, an
    Anthropic and a Gemini integration, so requests are translated to each wire format."""
    org = bootstrap(stack)
    org.integration("fuzz-openai")
    for provider, model in (("anthropic", "claude-sonnet-4-6"), ("google", "gemini-2.5-flash")):
        key = f"sk-{provider}-{secrets.token_hex(12)}"
        fake.add_key(provider, key)
        response = org.owner.post(
            "/integrations",
            json={
                "provider": provider,
                "name": provider,
                "slug": f"fuzz-{provider}",
                "credentials": {"api_key": key},
                "models": {"enabled": [model]},
            },
        )
        assert response.status_code == 201, response.text
    return org


@pytest.fixture(scope="module")
def openapi(stack: EmbeddedStack) -> dict[str, Any]:
    response = httpx.get(f"{stack.gateway_url}/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def watch(stack: EmbeddedStack) -> LogWatch:
    return LogWatch(stack)


@pytest.mark.parametrize(("method", "path"), _operations())
def test_no_management_operation_answers_5xx(
    stack: EmbeddedStack, fuzz_org: Org, openapi: dict[str, Any], watch: LogWatch, method: str, path: str
) -> None:
    operation = openapi["paths"][path][method.lower()]
    components = openapi.get("components", {}).get("schemas", {})
    params = operation.get("parameters", [])
    real = {
        "project_id": fuzz_org.project_id,
        "slug": "fuzz-openai",
        "name": "fuzz-vm",
        "model_slug": "cm",
        "member_id": "m_none",
        "api_key_id": "k_none",
        "request_id_": "req_none",
    }
    body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    bodies = mutated(from_schema(body_schema, components)) if body_schema else st.none()
    token = str(fuzz_org.owner.headers["authorization"])

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        url = path
        query: dict[str, str] = {}
        for param in params:
            name = param["name"]
            hostile_text = HOSTILE.map(lambda v: v if isinstance(v, str) else json.dumps(v))
            value = data.draw(
                st.sampled_from([real.get(name, "x")])
                | from_schema(param.get("schema", {}), components).map(str)
                | hostile_text
            )
            if param["in"] == "path":
                url = url.replace("{" + name + "}", quote(str(value) or "x", safe=""))
            elif param["in"] == "query":
                query[name] = str(value)
        body = data.draw(bodies)
        response = httpx.request(
            method,
            f"{stack.gateway_url}{url}",
            params=query,
            content=body,
            headers={"authorization": token, "content-type": "application/json"},
            timeout=30,
        )
        _assert_contract(response, f"{method} {url} {body[:200] if body else b''!r}")

    run()
    assert watch.errors() == []


CHAT_MODELS = ["@fuzz-openai/gpt-4o-mini", "@fuzz-anthropic/claude-sonnet-4-6", "@fuzz-google/gemini-2.5-flash"]


def _chat_body() -> st.SearchStrategy[Any]:
    content = st.text(max_size=40) | st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "image_url", "input_audio", "file", "unknown"])},
            optional={"text": st.text(max_size=20), "image_url": JSON_VALUES},
        ),
        max_size=2,
    )
    message = st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool", "developer", "nobody"]), "content": content}
    )
    return st.fixed_dictionaries(
        {
            "model": st.sampled_from([*CHAT_MODELS, "gpt-4o-mini", "openai/gpt-4o-mini", "nope"]),
            "messages": st.lists(message, min_size=1, max_size=3),
        },
        optional={
            "stream": st.booleans(),
            "max_tokens": st.integers(-5, 10**6),
            "temperature": st.floats(-1, 3, allow_nan=False),
            "models": st.lists(st.sampled_from(["gpt-4o-mini", "@fuzz-openai/gpt-4o-mini", "x"]), max_size=2),
            "stream_options": JSON_VALUES,
            "tools": JSON_VALUES,
        },
    )


def _messages_body() -> st.SearchStrategy[Any]:
    block = st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "document", "x"])},
        optional={"text": st.text(max_size=20), "source": JSON_VALUES, "content": JSON_VALUES, "input": JSON_VALUES},
    )
    message = st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", "x"]),
            "content": st.text(max_size=40) | st.lists(block, max_size=2),
        }
    )
    return st.fixed_dictionaries(
        {
            "model": st.sampled_from([*CHAT_MODELS, "claude-x"]),
            "max_tokens": st.integers(-5, 10**6),
            "messages": st.lists(message, min_size=1, max_size=3),
        },
        optional={"stream": st.booleans(), "system": JSON_VALUES, "tools": JSON_VALUES, "thinking": JSON_VALUES},
    )


INFERENCE = {
    "/v1/chat/completions": _chat_body(),
    "/v1/messages": _messages_body(),
    "/v1/messages/count_tokens": _messages_body(),
    "/v1/embeddings": st.fixed_dictionaries(
        {
            "model": st.sampled_from(["@fuzz-openai/gpt-4o-mini", "text-embedding-3-small", "x"]),
            "input": JSON_VALUES,
        },
        optional={"dimensions": st.integers(-5, 10**5), "encoding_format": st.text(max_size=8)},
    ),
    "/v1/images/generations": st.fixed_dictionaries(
        {"model": st.sampled_from(["@fuzz-openai/gpt-4o-mini", "dall-e-3", "x"]), "prompt": JSON_VALUES},
        optional={"n": st.integers(-5, 100), "size": st.text(max_size=10), "response_format": JSON_VALUES},
    ),
}


@pytest.mark.parametrize("route", sorted(INFERENCE))
def test_no_inference_request_answers_5xx(
    stack: EmbeddedStack, inference_org: Org, watch: LogWatch, route: str
) -> None:
    key = inference_org.api_key()

    @settings(FUZZ, max_examples=INFERENCE_EXAMPLES)
    @given(body=mutated(INFERENCE[route]))
    def run(body: bytes) -> None:
        response = httpx.post(
            f"{stack.gateway_url}{route}",
            content=body,
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
            timeout=30,
        )
        _assert_contract(response, f"{route} {body[:300]!r}")

    run()
    assert watch.errors() == []
