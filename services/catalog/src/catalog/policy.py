"""Who may run which management command: one table, checked in catalog for every command.

Rules:
* `owner`          — org owners only (credentials, integrations, members, projects).
* `project_admin`  — owners, or admins of the project the command names (API keys, virtual models).
* `project_read`   — owners, or any role in the named project (or, for org-wide lists, any member;
                      the list itself is then filtered to the caller's projects).
* `member`         — any authenticated member of the org (provider list, own-org reads).
A command missing from the table is refused, so a new command cannot ship unclassified.
"""

from __future__ import annotations

from typing import Final, Literal

from shared.errors import KeyrelayError
from shared.messages import catalog as m
from shared.messages.base import Msg

Rule = Literal["owner", "project_admin", "project_read", "member"]

RULES: Final[dict[type[Msg], Rule]] = {
    m.ListProviders: "member",
    m.ListProjects: "member",
    m.CreateProject: "owner",
    m.GetProject: "project_read",
    m.UpdateProject: "owner",
    m.DeleteProject: "owner",
    m.ListMembers: "member",
    m.CreateMember: "owner",
    m.UpdateMember: "owner",
    m.DeleteMember: "owner",
    m.ListApiKeys: "project_read",
    m.CreateApiKey: "project_admin",
    m.UpdateApiKey: "project_admin",
    m.DeleteApiKey: "project_admin",
    m.ListIntegrations: "member",
    m.CreateIntegration: "owner",
    m.GetIntegration: "member",
    m.UpdateIntegration: "owner",
    m.DeleteIntegration: "owner",
    m.PutCredentials: "owner",
    m.ListModels: "member",
    m.SetModels: "owner",
    m.AddCustomModel: "owner",
    m.DeleteCustomModel: "owner",
    m.ListVirtualModels: "member",
    m.PutVirtualModel: "project_admin",
    m.GetVirtualModel: "member",
    m.DeleteVirtualModel: "project_admin",
    m.ListConfigs: "member",
    m.GetConfig: "member",
    m.PutConfig: "project_admin",
    m.DeleteConfig: "project_admin",
}


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


def visible_projects(principal: m.MemberPrincipal) -> set[str] | None:
    """None means every project of the org (owners)."""
    return None if principal.org_role == "owner" else set(principal.projects)
