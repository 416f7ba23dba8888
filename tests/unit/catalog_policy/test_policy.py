"""The authorisation helpers every project-owned resource goes through (issue 10, item 2)."""

from __future__ import annotations

import pytest

from catalog.policy import KEEP, in_scope, require_on_project, require_on_stored
from shared.errors import KeyrelayError
from shared.messages import catalog as m

A, B = "prj_a", "prj_b"
OWNER = m.MemberPrincipal(member_id="mem_o", org_id="org_1", email="o@example.com", org_role="owner")
ADMIN_B = m.MemberPrincipal(
    member_id="mem_b", org_id="org_1", email="b@example.com", org_role="member", projects={B: "admin"}
)
ADMIN_BOTH = m.MemberPrincipal(
    member_id="mem_ab", org_id="org_1", email="ab@example.com", org_role="member", projects={A: "admin", B: "admin"}
)
DEV_A = m.MemberPrincipal(
    member_id="mem_d", org_id="org_1", email="d@example.com", org_role="member", projects={A: "developer"}
)
PUT_VM = m.PutVirtualModel(spec=m.VirtualModelSpec(name="vm"))
DELETE_CONFIG = m.DeleteConfig(name="cfg")


def refused(call: object, *args: object) -> str:
    with pytest.raises(KeyrelayError) as exc:
        call(*args)  # type: ignore[operator]
    return exc.value.code


def test_a_project_admin_may_change_what_is_stored_in_their_project() -> None:
    require_on_stored(ADMIN_B, PUT_VM, B, B)
    require_on_stored(ADMIN_B, DELETE_CONFIG, B)


def test_the_stored_project_decides_not_the_one_the_request_names() -> None:
    assert refused(require_on_stored, ADMIN_B, PUT_VM, A, B) == "forbidden"
    assert refused(require_on_stored, ADMIN_B, DELETE_CONFIG, A) == "forbidden"


def test_moving_a_resource_between_projects_is_owner_only_even_for_an_admin_of_both() -> None:
    assert refused(require_on_stored, ADMIN_BOTH, PUT_VM, A, B) == "owner_required"
    require_on_stored(OWNER, PUT_VM, A, B)


def test_a_project_admin_cannot_turn_a_project_resource_org_wide_or_take_an_org_wide_one() -> None:
    assert refused(require_on_stored, ADMIN_B, PUT_VM, B, None) == "owner_required"
    assert refused(require_on_stored, ADMIN_B, PUT_VM, None, B) == "owner_required"
    assert refused(require_on_project, ADMIN_B, PUT_VM, None) == "owner_required"


def test_keep_means_the_request_does_not_move_the_resource() -> None:
    require_on_stored(ADMIN_B, PUT_VM, B, KEEP)
    assert refused(require_on_stored, ADMIN_B, PUT_VM, A, KEEP) == "forbidden"


def test_a_developer_cannot_change_project_resources() -> None:
    assert refused(require_on_stored, DEV_A, PUT_VM, A, A) == "forbidden"
    assert refused(require_on_project, DEV_A, PUT_VM, A) == "forbidden"


def test_a_command_missing_from_the_rules_table_is_refused_even_for_owners() -> None:
    assert refused(require_on_stored, OWNER, m.SnapshotRequest(org_id="org_1", project_id=A), A) == "forbidden"


@pytest.mark.parametrize(
    ("who", "scope", "visible"),
    [
        (OWNER, [A], True),
        (ADMIN_B, "all", True),
        (ADMIN_B, [A], False),
        (ADMIN_B, [A, B], True),
        (DEV_A, [], False),
    ],
)
def test_an_integration_is_visible_only_within_the_callers_projects(
    who: m.MemberPrincipal, scope: str | list[str], *, visible: bool
) -> None:
    assert in_scope(who, scope) is visible
