"""NATS identities and permissions: each service connects as its own user with only its subjects.

`render_config()` writes a nats-server configuration (used by the embedded stack and the tests;
`deploy/nats/README.md` shows the same rules for a production cluster). Permissions are derived
from `shared.subjects`, so a subject is granted where it is declared:

* gateway  — may request decryption and catalog/activity reads, publish request events; may NOT
  reach keyvault's admin subjects or publish audit events.
* catalog  — serves catalog subjects; may call keyvault's admin subjects; publishes change and
  audit events.
* keyvault — serves keyvault subjects; publishes credential-changed and audit events; alone (with
  the operator) reads and writes its version floors (`shared.vault.versions`).
* activity — consumes the activity stream and serves activity queries.
* operator — the `keyrelay` CLI (bootstrap, kek rotate, doctor): everything.

Replies go to private inboxes `_INBOX.<service>.>`; responders answer through `allow_responses`,
so no service can publish into another's inbox unasked.
"""

from __future__ import annotations

import secrets
from typing import Final

import msgspec

from shared import subjects as s
from shared.vault import versions

SERVICES: Final = ("gateway", "catalog", "keyvault", "activity", "operator")

_JS_STREAM_INFO: Final = f"$JS.API.STREAM.INFO.{s.ACTIVITY_STREAM}"
_JS_CONSUMER: Final = f"$JS.API.CONSUMER.*.{s.ACTIVITY_STREAM}.>"
RATE_BUCKET: Final = "keyrelay_rate"
SPEND_BUCKET: Final = "keyrelay_spend"


def _kv_permissions(bucket: str) -> list[str]:
    """What a KV client needs for one bucket: create it, read (direct get) and compare-and-set."""
    stream = f"KV_{bucket}"
    return [
        f"$KV.{bucket}.>",
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.STREAM.CREATE.{stream}",
        f"$JS.API.DIRECT.GET.{stream}.>",
        f"$JS.API.STREAM.MSG.GET.{stream}",
    ]


def _inbox(service: str) -> str:
    return f"_INBOX.{service}.>"


def permissions() -> dict[str, dict[str, object]]:
    """Publish/subscribe allow lists per service user."""
    return {
        "gateway": {
            "publish": [
                s.KEYVAULT_REVEAL,
                s.KEYVAULT_PING,
                s.CATALOG_AUTH_API_KEY,
                s.CATALOG_AUTH_MEMBER,
                s.CATALOG_SNAPSHOT,
                s.CATALOG_MANAGE,
                s.CATALOG_REPORT,
                s.CATALOG_PING,
                s.CATALOG_PASSWORD_PARAMS,
                s.CATALOG_PASSWORD_SET,
                s.CATALOG_SESSION_START,
                s.CATALOG_SESSION_END,
                s.ACTIVITY_QUERY,
                s.ACTIVITY_PING,
                s.ACTIVITY_REQUEST_FINISHED,
                _JS_STREAM_INFO,
                *_kv_permissions(RATE_BUCKET),
                *_kv_permissions(SPEND_BUCKET),
                "$JS.API.INFO",
            ],
            "subscribe": [_inbox("gateway"), f"{s.EVENTS_PREFIX}.>"],
        },
        "catalog": {
            "publish": [
                s.KEYVAULT_PUT,
                s.KEYVAULT_DELETE,
                s.KEYVAULT_SCOPE,
                s.KEYVAULT_DESCRIBE,
                s.KEYVAULT_PING,
                s.EVENT_CATALOG_CHANGED,
                s.ACTIVITY_AUDIT_RECORDED,
                _JS_STREAM_INFO,
                "$JS.API.INFO",
            ],
            "subscribe": [_inbox("catalog"), "catalog.v1.>"],
            "allow_responses": True,
        },
        "keyvault": {
            "publish": [
                s.EVENT_CREDENTIAL_CHANGED,
                s.ACTIVITY_AUDIT_RECORDED,
                _JS_STREAM_INFO,
                "$JS.API.INFO",
                *versions.keyvault_permissions(),
            ],
            "subscribe": [_inbox("keyvault"), "keyvault.v1.>"],
            "allow_responses": True,
        },
        "activity": {
            "publish": [
                f"$JS.API.STREAM.CREATE.{s.ACTIVITY_STREAM}",
                f"$JS.API.STREAM.UPDATE.{s.ACTIVITY_STREAM}",
                _JS_STREAM_INFO,
                _JS_CONSUMER,
                f"$JS.API.CONSUMER.MSG.NEXT.{s.ACTIVITY_STREAM}.>",
                f"$JS.API.CONSUMER.DURABLE.CREATE.{s.ACTIVITY_STREAM}.>",
                "$JS.ACK.>",
                "$JS.API.INFO",
                f"$JS.API.CONSUMER.INFO.{s.ACTIVITY_STREAM}.>",
            ],
            "subscribe": [_inbox("activity"), s.ACTIVITY_QUERY, s.ACTIVITY_PING],
            "allow_responses": True,
        },
        "operator": {"publish": [">"], "subscribe": [">"]},
    }


def generate_passwords() -> dict[str, str]:
    return {name: secrets.token_urlsafe(24) for name in SERVICES}


def render_config(*, host: str, port: int, store_dir: str, passwords: dict[str, str], http_port: int = 0) -> str:
    """A nats-server config (JSON is valid NATS config syntax) with JetStream and per-service users."""
    perms = permissions()
    users = [{"user": name, "password": passwords[name], "permissions": _perm_block(perms[name])} for name in SERVICES]
    conf: dict[str, object] = {
        "host": host,
        "port": port,
        "jetstream": {"store_dir": store_dir, "sync_interval": "always"},
        "authorization": {"users": users},
        "max_payload": 8 * 1024 * 1024,
    }
    if http_port:
        conf["http_port"] = http_port
    return msgspec.json.encode(conf).decode()


def _perm_block(perm: dict[str, object]) -> dict[str, object]:
    block: dict[str, object] = {"publish": {"allow": perm["publish"]}, "subscribe": {"allow": perm["subscribe"]}}
    if perm.get("allow_responses"):
        block["allow_responses"] = True
    return block
