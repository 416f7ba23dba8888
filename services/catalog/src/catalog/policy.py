"""Who may run which management command: one table (`shared.authz.RULES`, also read by the
gateway's edge for its pre-check before a body is read), checked in catalog for every command.

Rules:
* `owner`          — org owners only (credentials, integrations, members, projects).
* `project_admin`  — owners, or admins of the project the command names (API keys, virtual models).
* `project_read`   — owners, or any role in the named project (or, for org-wide lists, any member;
                      the list itself is then filtered to the caller's projects).
* `member`         — any authenticated member of the org (provider list, own-org reads).
A command missing from the table is refused, so a new command cannot ship unclassified.

Project-owned resources (virtual models, configs, API keys) are authorised with
`require_on_project` when created and `require_on_stored` when changed or deleted: the project
that decides is the one the STORED document is in, never the one the request names; a request
that names another project is checked against that one too, and moving a resource between
projects (or between a project and org-wide) is for owners only. Org-wide resources are the
owners'. Reads of integrations and their models go through `in_scope`.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from shared.authz import RULES
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages.base import Msg


def require(principal: m.MemberPrincipal, command: Msg, project_id: str | None = None) -> None:
    """Raise `forbidden` unless `principal` may run `command` (on `project_id` when it names one)."""
    rule = RULES.get(type(command))
    if rule is None:
        raise KeyrelayError("forbidden", "this operation is not available")
    if principal.org_role == "owner" or rule == "member":
        return
    if rule == "owner":
        raise KeyrelayError("owner_required", "only organization owners may do this")
    if project_id is None:
        if rule == "project_read":
            return  # org-wide list: the caller filters to the member's projects
        raise KeyrelayError("forbidden", "this operation needs a project")
    role = principal.projects.get(project_id)
    if rule == "project_read" and role is not None:
        return
    if rule == "project_admin" and role == "admin":
        return
    raise KeyrelayError("forbidden", "your role in this project does not allow this")


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""`require_on_stored(..., new_project_id=KEEP)`: the request does not move the resource."""


def require_on_project(principal: m.MemberPrincipal, command: Msg, project_id: str | None) -> None:
    """Create (or act on) a project-owned resource in `project_id`; None is org-wide, the owners' alone."""
    if project_id is None and principal.org_role != "owner":
        raise KeyrelayError("owner_required", "only organization owners manage org-wide resources")
    require(principal, command, project_id)


def require_on_stored(
    principal: m.MemberPrincipal,
    command: Msg,
    stored_project_id: str | None,
    new_project_id: str | _Keep | None = KEEP,
) -> None:
    """Change or delete a stored project-owned resource.

    `stored_project_id` is the project of the document as read from the database: that project
    decides, whatever the request says. When the request names another project (`new_project_id`),
    the caller must be allowed there too, and only owners move resources between projects.
    """
    require_on_project(principal, command, stored_project_id)
    if new_project_id is KEEP or new_project_id == stored_project_id:
        return
    require_on_project(principal, command, new_project_id)
    if principal.org_role != "owner":
        raise KeyrelayError("owner_required", "only organization owners move a resource to another project")


def in_scope(principal: m.MemberPrincipal, project_scope: str | list[str]) -> bool:
    """Whether an integration with this `project_scope` is visible to the principal at all."""
    if principal.org_role == "owner" or project_scope == "all":
        return True
    return bool(set(principal.projects) & set(project_scope))


def visible_projects(principal: m.MemberPrincipal) -> set[str] | None:
    """None means every project of the org (owners)."""
    return None if principal.org_role == "owner" else set(principal.projects)
