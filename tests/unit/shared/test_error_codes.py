"""Error codes are data: one `ErrorCode` enum, complete, with the wire format of before."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import msgspec
import pytest

from gateway.providers.base import ProviderError
from shared.errors import DependencyUnavailable, ErrorCode, KeyrelayError, error_body, wire_code

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "shared" / "src", *sorted((ROOT / "services").glob("*/src"))]
_CODE_CALLS = {"KeyrelayError", "ProviderError", "error_body"}  # the code is their first argument
_CODE_KEYWORDS = {"code", "conflict_code", "error_code"}
_API_CODE = re.compile(r"\b([1-5]\d\d) `([a-z]+(?:_[a-z]+)+)`")  # "answer 404 `model_not_found`"


def _code_strings(tree: ast.AST) -> set[str]:
    """Every string literal used as an error code: the code argument of an error constructor, a
    `code=` keyword, a `.code == "..."` comparison, or a value of a `..._CODES = {...}` table."""
    found: set[str] = set()

    def literal(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in _CODE_CALLS and node.args:
                literal(node.args[0])
            for keyword in node.keywords:
                if keyword.arg in _CODE_KEYWORDS:
                    literal(keyword.value)
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr == "code":
            for right in node.comparators:
                literal(right)
                if isinstance(right, (ast.Set, ast.Tuple, ast.List)):
                    for item in right.elts:
                        literal(item)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Dict)
            and any(isinstance(t, ast.Name) and "CODE" in t.id for t in node.targets)  # `_STATUS_CODES = {...}`
        ):
            for value in node.value.values:
                literal(value)
    return found


def _production_code_strings() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            for code in _code_strings(ast.parse(path.read_text(encoding="utf-8"))):
                used.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return used


# --- completeness ---------------------------------------------------------------------------------
def test_every_error_code_string_in_production_code_is_an_enum_member() -> None:
    used = _production_code_strings()
    known = {member.value for member in ErrorCode}
    # the scan itself must see the codes, or an empty result would pass for the wrong reason
    assert {"invalid_request", "upstream_error", "model_not_found", "slug_taken", "forbidden"} <= set(used)
    unknown = {code: paths for code, paths in used.items() if code not in known}
    assert unknown == {}


def test_every_status_and_code_the_api_handbook_documents_is_what_the_enum_says() -> None:
    handbook = ROOT.parent / "shared" / "API.md"
    if not handbook.exists():
        pytest.skip("the handbook lives beside the checkout, not in it")
    documented = {(code, int(status)) for status, code in _API_CODE.findall(handbook.read_text(encoding="utf-8"))}
    assert ("model_not_found", 404) in documented
    assert {(code, ErrorCode.of(code).status) for code, _ in documented} == documented


def test_the_scan_recognises_each_way_a_code_is_written() -> None:
    sample = """
raise KeyrelayError("a_code", "m")
raise ProviderError(code, "m")
Failed(code="b_code", message="m")
if exc.code == "c_code": pass
if exc.code in {"d_code", "e_code"}: pass
_STATUS_CODES = {400: "f_code"}
_NAMES = {400: "Bad request"}
insert(doc, conflict_code="g_code")
"""
    assert _code_strings(ast.parse(sample)) == {"a_code", "b_code", "c_code", "d_code", "e_code", "f_code", "g_code"}


# --- the enum's data ------------------------------------------------------------------------------
def test_an_error_code_compares_and_serialises_as_its_plain_string() -> None:
    code = ErrorCode.UPSTREAM_TIMEOUT
    assert code == "upstream_timeout"
    assert f"{code}" == "upstream_timeout"
    assert json.dumps({"code": code}) == '{"code": "upstream_timeout"}'
    assert msgspec.json.encode({"code": code}) == b'{"code":"upstream_timeout"}'
    assert ErrorCode.of("upstream_timeout") is code


def test_each_code_carries_its_http_status_and_openai_type() -> None:
    table = {code.value: (code.status, code.error_type) for code in ErrorCode}
    assert table["invalid_request"] == (400, "invalid_request_error")
    assert table["unauthorized"] == (401, "authentication_error")
    assert table["budget_exceeded"] == (402, "insufficient_quota")
    assert table["owner_required"] == (403, "permission_error")
    assert table["model_not_found"] == (404, "not_found_error")
    assert table["slug_taken"] == (409, "conflict_error")
    assert table["rate_limited"] == (429, "rate_limit_error")
    assert table["overloaded"] == (503, "server_error")
    assert table["invalid_header"] == (400, "invalid_request_error")
    assert table["upstream_auth_failed"] == (502, "upstream_error")
    assert table["upstream_timeout"] == (504, "upstream_error")


def test_only_upstream_faults_count_for_the_circuit_breaker() -> None:
    assert {c.value for c in ErrorCode if c.breaker} == {"upstream_error", "upstream_timeout", "upstream_overloaded"}


def test_upstream_faults_and_rate_limits_are_retryable_and_rejections_are_not() -> None:
    upstream = {c.value for c in ErrorCode if c.retryable and c.value.startswith("upstream_")}
    assert upstream == {"upstream_error", "upstream_timeout", "upstream_overloaded", "upstream_rate_limited"}
    assert not ErrorCode.UPSTREAM_AUTH_FAILED.retryable
    assert not ErrorCode.UPSTREAM_INSUFFICIENT_QUOTA.retryable
    assert not ErrorCode.CONTEXT_LENGTH_EXCEEDED.retryable


def test_an_error_the_request_itself_caused_may_never_fall_back() -> None:
    may = {c.value for c in ErrorCode if c.fallback}
    # `model_not_found` falls back only when an upstream said it (a 404 there: another target may have it)
    assert all(code.startswith("upstream_") for code in may - {"model_not_found"})
    assert "context_length_exceeded" not in may
    assert "content_filtered" not in may
    assert {"upstream_error", "upstream_auth_failed", "upstream_insufficient_quota", "upstream_bad_request"} <= may


def test_each_upstream_failure_names_what_it_says_about_the_integrations_health() -> None:
    health = {c.value: c.health for c in ErrorCode if c.health is not None}
    assert health == {
        "upstream_auth_failed": "auth",
        "upstream_rate_limited": "rate_limit",
        "upstream_timeout": "timeout",
        "upstream_error": "server",
        "upstream_overloaded": "server",
    }


# --- errors built from codes ----------------------------------------------------------------------
def test_an_error_accepts_a_member_or_its_string_and_always_holds_the_member() -> None:
    assert KeyrelayError(ErrorCode.CONFLICT, "m").code is ErrorCode.CONFLICT
    assert KeyrelayError("conflict", "m").code is ErrorCode.CONFLICT
    assert ProviderError("upstream_overloaded", "m").retryable


def test_a_string_that_is_no_code_is_refused_when_the_error_is_built() -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        KeyrelayError("no_such_code", "m")


def test_the_error_body_on_the_wire_is_unchanged() -> None:
    body = msgspec.json.encode(error_body(ErrorCode.MODEL_NOT_FOUND, "model 'x' is not available", param="model"))
    assert json.loads(body) == {
        "error": {
            "message": "model 'x' is not available",
            "type": "not_found_error",
            "code": "model_not_found",
            "param": "model",
        }
    }
    assert KeyrelayError(ErrorCode.UPSTREAM_RATE_LIMITED, "m").status == 429
    assert DependencyUnavailable("catalog did not answer").status == 503


def test_a_code_from_a_newer_service_on_the_bus_reads_as_an_internal_error() -> None:
    assert wire_code("forbidden") is ErrorCode.FORBIDDEN
    assert wire_code("a_code_from_the_future") is ErrorCode.INTERNAL_ERROR
