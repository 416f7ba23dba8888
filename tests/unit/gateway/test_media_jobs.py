"""Media job helpers: the client's `Prefer` wait, and job ids that only fit their own project's key."""

from __future__ import annotations

import pytest

from gateway.jobs import JobStore, new_job_id, prefer_wait_s
from shared.messages.catalog import ApiKeyPrincipal


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        (None, None),
        ("", None),
        ("respond-async", 0.0),
        ("wait=5, respond-async", 0.0),
        ("Respond-Async", 0.0),
        ("wait=2.5", 2.5),
        ('wait="3"', 3.0),
        ("wait=-1", None),
        ("wait=soon", None),
        ("return=minimal", None),
    ],
)
def test_prefer_asks_for_a_handle_at_once_or_caps_the_wait(header: str | None, wait: float | None) -> None:
    assert prefer_wait_s(header) == wait


def test_a_job_key_is_built_from_the_callers_project_and_refuses_anything_but_our_ids() -> None:
    principal = ApiKeyPrincipal(api_key_id="k", org_id="org_a", project_id="prj_a")
    job_id = new_job_id()
    assert JobStore.key(principal, job_id) == f"org_a.prj_a.{job_id}"
    for forged in ("job_x", "org_b.prj_b.job_" + "A" * 32, "job_" + "A" * 31 + ".", "*", ">", ""):
        assert JobStore.key(principal, forged) is None


def test_job_ids_do_not_repeat() -> None:
    ids = {new_job_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 36 for i in ids)
