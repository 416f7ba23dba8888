"""Management commands, one module per resource; `HANDLERS` maps each command type to its use case."""

from __future__ import annotations

from typing import Any

from catalog.commands import api_keys, configs, denied, integrations, members, models, pricing, projects, virtual_models
from catalog.results import Handler
from shared.messages import catalog as m

HANDLERS: dict[type[Any], Handler] = {
    m.ListProjects: projects.list_projects,
    m.CreateProject: projects.create_project,
    m.GetProject: projects.get_project,
    m.UpdateProject: projects.update_project,
    m.DeleteProject: projects.delete_project,
    m.ListMembers: members.list_members,
    m.CreateMember: members.create_member,
    m.UpdateMember: members.update_member,
    m.DeleteMember: members.delete_member,
    m.ListApiKeys: api_keys.list_api_keys,
    m.CreateApiKey: api_keys.create_api_key,
    m.UpdateApiKey: api_keys.update_api_key,
    m.DeleteApiKey: api_keys.delete_api_key,
    m.ListIntegrations: integrations.list_integrations,
    m.CreateIntegration: integrations.create_integration,
    m.GetIntegration: integrations.get_integration,
    m.UpdateIntegration: integrations.update_integration,
    m.DeleteIntegration: integrations.delete_integration,
    m.PutCredentials: integrations.put_credentials,
    m.ListModels: models.list_models,
    m.SetModels: models.set_models,
    m.AddCustomModel: models.add_custom_model,
    m.DeleteCustomModel: models.delete_custom_model,
    m.GetPricing: pricing.get_pricing,
    m.PutPricing: pricing.put_pricing,
    m.ListVirtualModels: virtual_models.list_virtual_models,
    m.PutVirtualModel: virtual_models.put_virtual_model,
    m.GetVirtualModel: virtual_models.get_virtual_model,
    m.DeleteVirtualModel: virtual_models.delete_virtual_model,
    m.ListConfigs: configs.list_configs,
    m.PutConfig: configs.put_config,
    m.GetConfig: configs.get_config,
    m.DeleteConfig: configs.delete_config,
    m.RecordDenied: denied.record_denied,
}
