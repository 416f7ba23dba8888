"""`/__admin` routes: keys, service accounts, recorded requests, options, tokens."""

from __future__ import annotations

import dataclasses

import msgspec
from aiohttp import web

from tests.fakes.providers.families.vertex import TOKEN_PATH
from tests.fakes.providers.media import root_of
from tests.fakes.providers.recording import state_of
from tests.fakes.providers.registry import ALL_FAMILIES
from tests.fakes.providers.respond import json_response, read_json_object
from tests.fakes.providers.service_accounts import generate_service_account, load_public_key


async def add_key(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    if body is None or not isinstance(body.get("provider"), str) or not isinstance(body.get("key"), str):
        return json_response({"error": "expected {provider, key}"}, status=400)
    state_of(request).add_key(body["provider"], body["key"])
    return web.Response(status=204)


async def add_service_account(request: web.Request) -> web.Response:
    body = await read_json_object(request) or {}
    try:
        email, key = str(body["client_email"]), load_public_key(str(body["public_key_pem"]))
    except (KeyError, TypeError, ValueError):
        return json_response({"error": "expected {client_email, public_key_pem}"}, status=400)
    state_of(request).service_accounts[email] = key
    return web.Response(status=204)


async def new_service_account(request: web.Request) -> web.Response:
    """Create and register a service account; answers with its key file (demo helper)."""
    account = generate_service_account(root_of(request) + TOKEN_PATH)
    state_of(request).service_accounts[account.info["client_email"]] = load_public_key(account.public_key_pem)
    return json_response(account.info)


async def list_requests(request: web.Request) -> web.Response:
    provider = request.query.get("provider")
    records = [r for r in state_of(request).requests if provider is None or r.provider == provider]
    return web.Response(body=msgspec.json.encode(records), content_type="application/json")


async def clear_requests(request: web.Request) -> web.Response:
    state_of(request).requests.clear()
    return web.Response(status=204)


async def set_options(request: web.Request) -> web.Response:
    body = await read_json_object(request) or {}
    options = state_of(request).options
    known = {f.name for f in dataclasses.fields(options)}
    for name, value in body.items():
        if name in known:
            setattr(options, name, value)
    return json_response(dataclasses.asdict(options))


async def base_urls(request: web.Request) -> web.Response:
    """Provider id -> base URL on this server (what `KEYRELAY_PROVIDER_BASE_URLS` wants)."""
    return json_response({family.name: root_of(request) + family.base_path for family in ALL_FAMILIES})


async def expire_tokens(request: web.Request) -> web.Response:
    state_of(request).tokens.clear()
    return web.Response(status=204)


def register(router: web.UrlDispatcher) -> None:
    router.add_post("/__admin/keys", add_key)
    router.add_post("/__admin/service-accounts", add_service_account)
    router.add_post("/__admin/service-accounts/new", new_service_account)
    router.add_get("/__admin/requests", list_requests)
    router.add_delete("/__admin/requests", clear_requests)
    router.add_post("/__admin/options", set_options)
    router.add_delete("/__admin/tokens", expire_tokens)
    router.add_get("/__admin/base-urls", base_urls)
