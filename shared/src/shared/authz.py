"""Who may run which management command: one table, read by catalog and by the gateway's edge.

Rules:
* `owner`          — org owners only (credentials, integrations, members, projects).
* `project_admin`  — owners, or admins of the project the command names (API keys, virtual models).
* `project_read`   — owners, or any role in the named project (or, for org-wide lists, any member;
                      the list itself is then filtered to the caller's projects).
* `member`         — any authenticated member of the org (provider list, own-org reads).
A command missing from the table is refused, so a new command cannot ship unclassified.

catalog applies the full rule to every command (`catalog.policy.require`, against the stored
documents). The gateway applies `precheck` — the part of the rule that needs no body and no stored
document — before it reads a request body, so a caller without the right learns nothing from
validation errors.
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
    m.GetPricing: "project_admin",  # owners, and admins of a project in the integration's scope
    m.PutPricing: "owner",
    m.ListVirtualModels: "member",
    m.PutVirtualModel: "project_admin",
    m.GetVirtualModel: "member",
    m.DeleteVirtualModel: "project_admin",
    m.ListConfigs: "member",
    m.GetConfig: "member",
    m.PutConfig: "project_admin",
    m.DeleteConfig: "project_admin",
    m.RecordDenied: "member",
}


def precheck(principal: m.MemberPrincipal, command: type[Msg]) -> None:
    """The coarse rule, decided from the caller's roles alone: raise unless the command could be allowed.

    Owner-only commands refuse every non-owner; project-admin commands refuse a member who is admin
    of no project. Everything that depends on the body or a stored document stays with catalog.
    """
    rule = RULES.get(command)
    if rule is None:
        raise KeyrelayError("forbidden", "this operation is not available")
    if principal.org_role == "owner" or rule in {"member", "project_read"}:
        return
    if rule == "owner":
        raise KeyrelayError("owner_required", "only organization owners may do this")
    if "admin" not in principal.projects.values():
        raise KeyrelayError("forbidden", "your role in this project does not allow this")
