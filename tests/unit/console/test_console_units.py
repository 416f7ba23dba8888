"""Console helpers that need no stack: charts, CSRF tokens, the per-client sign-in limiter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.ui.charts import buckets, line_chart, series_from_rows
from gateway.ui.integrations import _public_values
from gateway.ui.routing import pretty_json, tree_from_form
from gateway.ui.security import ClientLimiter, csrf_for, tokens_match


def test_chart_buckets_cover_the_range_hour_by_hour() -> None:
    until = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
    labels = buckets(until - timedelta(hours=24), until, "hour")
    assert labels[0] == "2026-11-27T12:00"
    assert labels[-1] == "2026-11-28T12:00"
    assert len(labels) == 25


def test_series_are_aligned_on_buckets_and_busiest_integration_comes_first() -> None:
    labels = ["2026-11-28T10:00", "2026-11-28T11:00", "2026-11-28T12:00"]
    rows = [
        {"integration": "quiet", "bucket": "2026-11-28T11:00", "requests": 1, "p95_latency_ms": 80.0},
        {"integration": "busy", "bucket": "2026-11-28T10:00", "requests": 5, "p95_latency_ms": 40.0},
        {"integration": "busy", "bucket": "2026-11-28T12:00", "requests": 7, "p95_latency_ms": 60.0},
    ]
    requests = series_from_rows(rows, labels, "requests")
    assert [s.name for s in requests] == ["busy", "quiet"]
    assert requests[0].values == [5.0, 0.0, 7.0]  # counts: a quiet hour is zero
    latency = series_from_rows(rows, labels, "p95_latency_ms")
    assert latency[0].values == [40.0, None, 60.0]  # latency: a quiet hour is a gap, not zero


def test_a_chart_is_plain_svg_without_script_or_style_and_escapes_names() -> None:
    labels = ["2026-11-28T10:00", "2026-11-28T11:00"]
    series = series_from_rows(
        [{"integration": "<b>x</b>", "bucket": "2026-11-28T11:00", "requests": 3}], labels, "requests"
    )
    svg = str(line_chart("Requests", labels, series, lambda v: f"{v:.0f}", integer=True))
    assert svg.startswith("<svg")
    assert "<script" not in svg
    assert "style=" not in svg
    assert "<b>" not in svg
    assert "total 3" in svg


def test_the_csrf_token_is_bound_to_the_session_and_reveals_nothing_of_it() -> None:
    token = "krs_" + "a" * 43
    csrf = csrf_for(token)
    assert csrf != csrf_for("krs_" + "b" * 43)
    assert token[4:] not in csrf
    assert tokens_match(csrf, csrf)
    assert not tokens_match(csrf, None)
    assert not tokens_match(csrf, "")
    assert not tokens_match("", "")


def test_the_client_limiter_blocks_after_the_limit_of_failures() -> None:
    limiter = ClientLimiter(limit=3, window_s=60)
    for _ in range(3):
        assert not limiter.blocked("10.0.0.1")
        limiter.failed("10.0.0.1")
    assert limiter.blocked("10.0.0.1")
    assert not limiter.blocked("10.0.0.2")


def test_the_config_form_makes_the_contracts_tree() -> None:
    tree = tree_from_form(
        {"mode": "loadbalance", "attempts": "2", "integration_0": "a", "weight_0": "3", "integration_1": "b"}
    )
    assert tree == {
        "strategy": {"mode": "loadbalance"},
        "retry": {"attempts": 2},
        "targets": [{"integration": "a", "weight": 3.0}, {"integration": "b"}],
    }
    assert pretty_json({"codes": [429, 503]}) == '{\n  "codes": [429, 503]\n}'


def test_a_re_rendered_wizard_form_shows_no_credential_field_except_the_public_settings() -> None:
    form = {
        "name": "Azure prod",
        "cred_api_key": "sk-canary",
        "cred_service_account_json": "{}",
        "cred_some_future_secret": "hidden",
        "cred_resource_name": "acme",
        "custom_headers": "x-key: v",
        "csrf": "token",
    }
    assert _public_values(form) == {"name": "Azure prod", "cred_resource_name": "acme"}
