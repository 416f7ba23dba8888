"""Management command handlers, one module per resource; `HANDLERS` maps command type to handler."""

from __future__ import annotations

from typing import Any

from catalog.commands import api_keys, configs, denied, integrations, members, models, projects, virtual_models
from catalog.context import Handler

HANDLERS: dict[type[Any], Handler] = {
    **projects.HANDLERS,
    **members.HANDLERS,
    **api_keys.HANDLERS,
    **integrations.HANDLERS,
    **models.HANDLERS,
    **virtual_models.HANDLERS,
    **configs.HANDLERS,
    **denied.HANDLERS,
}
