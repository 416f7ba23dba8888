"""Virtual models and gateway configs: list, create, edit. A config is edited as a structured form
(strategy, retries, timeouts, targets) or as JSON, and every save is a new immutable version;
the page shows the version history with rollback. Trees go through the API's own `config_node()`."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from litestar import Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from gateway.api.configs import config_node
from gateway.ui.context import Console, FieldError, action_route, field_error
from gateway.ui.render import data_of, listing_page
from shared.errors import KeyrelayError
from shared.messages import catalog as m

TARGET_ROWS = 5
MODES = ("fallback", "loadbalance", "single", "conditional")


def _scope_choice(form: dict[str, Any], console: Console) -> str | None:
    """`org` (owners) or the current project."""
    return None if form.get("scope") == "org" else console.project_id


# --- virtual models -------------------------------------------------------------------------------
def _vm_targets(form: dict[str, Any]) -> list[m.VirtualTarget]:
    targets = []
    for i in range(TARGET_ROWS):
        model = str(form.get(f"target_{i}") or "").strip()
        if not model:
            continue
        raw = str(form.get(f"weight_{i}") or "").strip() or "1"
        try:
            weight = float(raw)
        except ValueError:
            raise KeyrelayError(
                "invalid_request", "a weight is a number such as 1 or 0.5", param=f"weight_{i}"
            ) from None
        targets.append(m.VirtualTarget(model=model, weight=weight))
    return targets


async def _routing_page(
    console: Console, name: str | None, listing: m.Command, section: str, items_as: str, **context: Any
) -> Template:
    """The list and the new item's form (`configs.html`), or (`name`) one item's page (the singular,
    `config.html`), each with `TARGET_ROWS` target rows in its form."""
    return await listing_page(
        console,
        f"{items_as}.html" if name is None else f"{items_as.removesuffix('s')}.html",
        section=section,
        items_as=items_as,
        command=listing if name is None else None,
        name=name,
        rows=range(TARGET_ROWS),
        **context,
    )


async def _vm_page(console: Console, name: str | None, configs: list[Any] | None = None, **context: Any) -> Template:
    """The list of virtual models and the new one's form, or (`name`) one virtual model's form
    (the configs are read with the list, unless the caller has them)."""
    if configs is None:
        context["reads"] = {"configs": data_of(console.run(m.ListConfigs()))}
    else:
        context["configs"] = configs
    return await _routing_page(console, name, m.ListVirtualModels(), "virtual-models", "virtual_models", **context)


@get("/virtual-models")
async def virtual_models(console: Console, page_number: int = Parameter(query="page", default=1)) -> Template:
    return await _vm_page(console, None, values={"strategy": "fallback"}, page_number=page_number)


def _vm_spec(form: dict[str, Any], name: str, project_id: str | None) -> m.VirtualModelSpec:
    strategy = form.get("strategy") if form.get("strategy") in {"fallback", "loadbalance"} else "fallback"
    return m.VirtualModelSpec(
        name=name,
        strategy=strategy,  # type: ignore[arg-type]
        targets=_vm_targets(form),
        project_id=project_id,
        config=str(form.get("config") or "") or None,
    )


def _vm_error(exc: KeyrelayError) -> FieldError:
    error = field_error(exc)
    if error.param and error.param.startswith("targets"):
        error.param = "targets"
    elif exc.code == "conflict" or error.param == "spec.name":
        error.param = "name"
    return error


def _form_values(form: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in form.items() if k != "csrf"}


@post("/virtual-models")
async def virtual_model_create(console: Console) -> Response[Any]:
    form = await console.form()
    name = str(form.get("name") or "").strip()
    try:
        spec = _vm_spec(form, name, _scope_choice(form, console))
        await console.run(m.PutVirtualModel(spec=spec, create_only=True))
    except KeyrelayError as exc:
        return await _vm_page(console, None, values=_form_values(form), error=_vm_error(exc), status=exc.status)
    return Redirect(f"/ui/virtual-models/{name}")


def _vm_values(item: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "strategy": item.get("strategy", "fallback"),
        "config": item.get("config") or "",
        "scope": "org" if item.get("project_id") is None else "project",
        "project_id": item.get("project_id"),
    }
    for i, target in enumerate(item.get("targets", [])[:TARGET_ROWS]):
        values[f"target_{i}"] = target.get("model", "")
        values[f"weight_{i}"] = target.get("weight", 1)
    return values


@get("/virtual-models/{name:str}")
async def virtual_model(console: Console, name: str) -> Template:
    item, configs = await asyncio.gather(
        console.run(m.GetVirtualModel(name=name)), data_of(console.run(m.ListConfigs()))
    )
    return await _vm_page(console, name, configs, values=_vm_values(item))


@post("/virtual-models/{name:str}")
async def virtual_model_save(console: Console, name: str) -> Response[Any]:
    form = await console.form()
    current = await console.run(m.GetVirtualModel(name=name))
    try:
        await console.run(m.PutVirtualModel(spec=_vm_spec(form, name, current.get("project_id"))))
    except KeyrelayError as exc:
        return await _vm_page(console, name, values=_form_values(form), error=_vm_error(exc), status=exc.status)
    return Redirect(f"/ui/virtual-models/{name}?saved=1")


virtual_model_delete = action_route(
    "/virtual-models/{name:str}/delete", m.DeleteVirtualModel, "/ui/virtual-models", "virtual_model_delete"
)


# --- gateway configs ------------------------------------------------------------------------------
def _codes(raw: str, param: str) -> list[int]:
    try:
        return [int(part) for part in raw.replace(",", " ").split()]
    except ValueError:
        raise KeyrelayError("invalid_request", "status codes are numbers such as 429 503", param=param) from None


def _opt_int(form: dict[str, Any], name: str) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise KeyrelayError("invalid_request", "enter a whole number of milliseconds", param=name)
    return int(raw)


def tree_from_form(form: dict[str, Any]) -> dict[str, Any]:
    """The contract's config tree from the structured form (or the JSON box, when it is used)."""
    raw_json = str(form.get("json") or "").strip()
    if form.get("editor") == "json" and raw_json:
        try:
            parsed: Any = json.loads(raw_json)
        except ValueError:
            raise KeyrelayError("invalid_json", "the JSON is not valid", param="json") from None
        if not isinstance(parsed, dict):
            raise KeyrelayError("invalid_request", "a config is a JSON object", param="json")
        return parsed
    mode = form.get("mode") if form.get("mode") in MODES else "fallback"
    strategy: dict[str, Any] = {"mode": mode}
    if str(form.get("on_status_codes") or "").strip():
        strategy["on_status_codes"] = _codes(str(form["on_status_codes"]), "on_status_codes")
    attempts = _opt_int(form, "attempts")
    tree: dict[str, Any] = {"strategy": strategy, "retry": {"attempts": attempts or 1}, "targets": []}
    for key in ("timeout_ms", "first_byte_timeout_ms", "total_timeout_ms"):
        value = _opt_int(form, key)
        if value is not None:
            tree[key] = value
    for i in range(TARGET_ROWS):
        integration = str(form.get(f"integration_{i}") or "").strip()
        if not integration:
            continue
        target: dict[str, Any] = {"integration": integration}
        model = str(form.get(f"model_{i}") or "").strip()
        if model:
            target["model"] = model
        weight = str(form.get(f"weight_{i}") or "").strip()
        if weight:
            try:
                target["weight"] = float(weight)
            except ValueError:
                raise KeyrelayError("invalid_request", "a weight is a number", param=f"weight_{i}") from None
        tree["targets"].append(target)
    return tree


def _form_from_config(config: dict[str, Any]) -> dict[str, Any]:
    strategy = config.get("strategy", {})
    values: dict[str, Any] = {
        "mode": strategy.get("mode", "fallback"),
        "on_status_codes": " ".join(str(c) for c in strategy.get("on_status_codes", [])),
        "attempts": (config.get("retry") or {}).get("attempts", 1),
        "timeout_ms": config.get("timeout_ms") or "",
        "first_byte_timeout_ms": config.get("first_byte_timeout_ms") or "",
        "total_timeout_ms": config.get("total_timeout_ms") or "",
    }
    nested = False
    for i, target in enumerate(config.get("targets", [])[:TARGET_ROWS]):
        if target.get("node"):
            nested = True
            continue
        values[f"integration_{i}"] = target.get("integration") or ""
        values[f"model_{i}"] = target.get("model") or ""
        values[f"weight_{i}"] = target.get("weight", 1)
    values["nested"] = nested or len(config.get("targets", [])) > TARGET_ROWS
    return values


async def _config_page(
    console: Console,
    name: str | None,
    item: dict[str, Any] | None = None,
    integrations: list[Any] | None = None,
    **context: Any,
) -> Template:
    """The list of configs and the new one's form, or (`name`) one config's versions and form (the
    integrations are read with the list, unless the caller has them)."""
    if integrations is None:
        context["reads"] = {"integrations": console.integration_choices()}
    else:
        context["integrations"] = integrations
    pretty = pretty_json(_contract_tree(item["config"])) if item else ""
    return await _routing_page(
        console, name, m.ListConfigs(), "configs", "configs", item=item, modes=MODES, pretty=pretty, **context
    )


@get("/configs")
async def configs(console: Console, page_number: int = Parameter(query="page", default=1)) -> Template:
    return await _config_page(console, None, values={"mode": "fallback", "attempts": 1}, page_number=page_number)


def _config_error(exc: KeyrelayError, form: dict[str, Any]) -> FieldError:
    error = field_error(exc)
    if exc.code == "conflict":
        error.param = "name"
    elif error.param in {"config", "node"} or (error.param or "").startswith(("config", "node")):
        error.param = "json" if form.get("editor") == "json" else "_"
    return error


@post("/configs")
async def config_create(console: Console) -> Response[Any]:
    form = await console.form()
    name = str(form.get("name") or "").strip()
    try:
        node = config_node(tree_from_form(form))
        await console.run(m.PutConfig(name=name, node=node, project_id=_scope_choice(form, console), create_only=True))
    except KeyrelayError as exc:
        return await _config_page(
            console, None, values=_form_values(form), error=_config_error(exc, form), status=exc.status
        )
    return Redirect(f"/ui/configs/{name}")


@get("/configs/{name:str}")
async def config(console: Console, name: str) -> Template:
    item, integrations = await asyncio.gather(console.run(m.GetConfig(name=name)), console.integration_choices())
    values = _form_from_config(item["config"])
    values["json"] = pretty_json(_contract_tree(item["config"]))
    return await _config_page(console, name, item, integrations, values=values)


_FLAT_LIST = re.compile(r"\[\s+([^\[\]{}]*?)\s+\]")


def pretty_json(value: Any) -> str:
    """Indented JSON with short lists of numbers or strings kept on one line."""
    return _FLAT_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", json.dumps(value, indent=2))


def _contract_tree(node: dict[str, Any]) -> dict[str, Any]:
    """Stored node -> the contract's tree (a nested config stands in its target's place)."""
    out = {k: v for k, v in node.items() if k != "targets"}
    targets = []
    for target in node.get("targets", []):
        if target.get("node"):
            targets.append({**_contract_tree(target["node"]), "weight": target.get("weight", 1.0)})
        else:
            targets.append({k: v for k, v in target.items() if k != "node" and v is not None})
    out["targets"] = targets
    return out


@post("/configs/{name:str}")
async def config_save(console: Console, name: str) -> Response[Any]:
    form = await console.form()
    current = await console.run(m.GetConfig(name=name))
    try:
        node = config_node(tree_from_form(form))
        await console.run(m.PutConfig(name=name, node=node, project_id=current.get("project_id")))
    except KeyrelayError as exc:
        return await _config_page(
            console, name, values=_form_values(form), item=current, error=_config_error(exc, form), status=exc.status
        )
    return Redirect(f"/ui/configs/{name}")


@post("/configs/{name:str}/rollback")
async def config_rollback(console: Console, name: str) -> Response[Any]:
    form = await console.form()
    try:
        version = int(str(form.get("version") or ""))
    except ValueError:
        raise KeyrelayError("invalid_request", "choose a version", param="version") from None
    await console.run(m.PutConfig(name=name, rollback_to=version))
    return Redirect(f"/ui/configs/{name}")


config_delete = action_route("/configs/{name:str}/delete", m.DeleteConfig, "/ui/configs", "config_delete")


ROUTING_ROUTES = [
    virtual_models,
    virtual_model_create,
    virtual_model,
    virtual_model_save,
    virtual_model_delete,
    configs,
    config_create,
    config,
    config_save,
    config_rollback,
    config_delete,
]
