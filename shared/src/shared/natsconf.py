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
* operator — the `keyrelay` CLI (bootstrap, provision, kek rotate, doctor): everything.

Replies go to private inboxes `_INBOX.<service>.>`; responders answer through `allow_responses`,
so no service can publish into another's inbox unasked, and each may subscribe to its own only.

JetStream: no service may create, update or delete a stream, a consumer or a KV bucket (they are
provisioned by the operator, `shared.provision`), so none can widen a stream to capture other
services' inboxes. A publisher needs only its subject (the ack comes back to its own inbox);
activity may only read its durable consumer's info, fetch from it and ack; the gateway may only
bind to its three KV buckets, read them (direct get) and write them (publish with expected revision).
"""

from __future__ import annotations

import secrets
from typing import Final

import msgspec

from shared import subjects as s
from shared.vault import versions

SERVICES: Final = ("gateway", "catalog", "keyvault", "activity", "operator")


def _kv_permissions(bucket: str) -> list[str]:
    """What a KV client of one provisioned bucket needs: bind (stream info), direct get, and
    put/compare-and-set (a JetStream publish to `$KV.<bucket>.<key>`). Never create or update."""
    stream = f"KV_{bucket}"
    return [f"$KV.{bucket}.>", f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.DIRECT.GET.{stream}.>"]


def _consumer_permissions(stream: str, durable: str) -> list[str]:
    """What a pull consumer bound to a provisioned durable needs: its info, fetch next, and acks
    (and naks) on the reply subjects of the messages it fetched. Never create or update."""
    return [
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
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
                s.ACTIVITY_REQUEST_BATCH,
                *_kv_permissions(s.RATE_BUCKET),
                *_kv_permissions(s.SPEND_BUCKET),
                *_kv_permissions(s.RESPONSES_BUCKET),
                *_kv_permissions(s.JOBS_BUCKET),
                f"$JS.API.DIRECT.GET.KV_{s.JOBS_BUCKET}",  # the job sweeper's scan of pending jobs (next by subject)
            ],
            "subscribe": [_inbox("gateway"), f"{s.EVENTS_PREFIX}.>"],
        },
        "catalog": {
            "publish": [
                s.KEYVAULT_PUT,
                s.KEYVAULT_DELETE,
                s.KEYVAULT_SCOPE,
                s.KEYVAULT_HOSTS,
                s.KEYVAULT_DESCRIBE,
                s.KEYVAULT_PING,
                s.EVENT_CATALOG_CHANGED,
                s.ACTIVITY_AUDIT_RECORDED,
            ],
            "subscribe": [_inbox("catalog"), "catalog.v1.>"],
            "allow_responses": True,
        },
        "keyvault": {
            "publish": [s.EVENT_CREDENTIAL_CHANGED, s.ACTIVITY_AUDIT_RECORDED, *versions.keyvault_permissions()],
            "subscribe": [_inbox("keyvault"), "keyvault.v1.>"],
            "allow_responses": True,
        },
        "activity": {
            "publish": _consumer_permissions(s.ACTIVITY_STREAM, s.ACTIVITY_DURABLE),
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
