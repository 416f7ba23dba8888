"""The bus contract as data: which message travels on each subject of `shared.subjects`, who answers
or consumes it, who sends it. `shared.asyncapi` renders it (with the msgspec schemas) as the AsyncAPI
3.0 document `docs/asyncapi.yaml`; a test holds every subject and every message to it."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from shared import subjects as s
from shared.messages import activity as a
from shared.messages import catalog as c
from shared.messages import keyvault as kv
from shared.messages.base import Ping, Pong


@dataclass(frozen=True, slots=True)
class RequestReply:
    """Core NATS request-reply: `responder` answers `request` with one of `replies`, or `Failed`."""

    subject: str
    request: type[msgspec.Struct]
    replies: tuple[type[msgspec.Struct], ...]
    responder: str
    callers: tuple[str, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class Event:
    """Published `message`, no reply: on JetStream (stored, acknowledged) or core NATS (broadcast)."""

    subject: str
    message: type[msgspec.Struct]
    publishers: tuple[str, ...]
    consumers: tuple[str, ...]
    jetstream: bool
    summary: str


GW, CAT, KV, ACT, OP = "gateway", "catalog", "keyvault", "activity", "operator"

REQUESTS: tuple[RequestReply, ...] = (
    RequestReply(
        s.KEYVAULT_REVEAL,
        kv.RevealRequest,
        (kv.RevealGranted,),
        KV,
        (GW,),
        "Reveal a credential, boxed to the requesting gateway",
    ),
    RequestReply(
        s.KEYVAULT_PUT, kv.PutCredential, (kv.Stored,), KV, (CAT,), "Store a sealed credential (owner assertion)"
    ),
    RequestReply(
        s.KEYVAULT_DELETE, kv.DeleteCredential, (kv.Done,), KV, (CAT,), "Delete a credential (owner assertion)"
    ),
    RequestReply(s.KEYVAULT_SCOPE, kv.SetScope, (kv.Done,), KV, (CAT,), "Set the projects a credential may serve"),
    RequestReply(
        s.KEYVAULT_HOSTS, kv.SetModelHosts, (kv.Done,), KV, (CAT,), "Set the custom-model hosts a key may go to"
    ),
    RequestReply(
        s.KEYVAULT_DESCRIBE, kv.DescribeCredentials, (kv.Described,), KV, (CAT,), "Masked views of credentials"
    ),
    RequestReply(
        s.KEYVAULT_ROTATE, kv.RotateKeks, (kv.Rotated,), KV, (OP,), "Re-wrap every data key under the current KEK"
    ),
    RequestReply(s.KEYVAULT_PING, Ping, (Pong,), KV, (GW, CAT, OP), "Liveness"),
    RequestReply(
        s.CATALOG_BOOTSTRAP,
        c.BootstrapRequest,
        (c.BootstrapReply,),
        CAT,
        (OP,),
        "Create an org, its owner and default project",
    ),
    RequestReply(
        s.CATALOG_AUTH_API_KEY,
        c.AuthenticateApiKey,
        (c.ApiKeyPrincipal,),
        CAT,
        (GW,),
        "Authenticate an API key by its hash",
    ),
    RequestReply(
        s.CATALOG_AUTH_MEMBER,
        c.AuthenticateMember,
        (c.MemberPrincipal,),
        CAT,
        (GW,),
        "Authenticate a member token or console session",
    ),
    RequestReply(
        s.CATALOG_SNAPSHOT, c.SnapshotRequest, (c.RoutingSnapshot,), CAT, (GW,), "A project's routing snapshot"
    ),
    RequestReply(
        s.CATALOG_MANAGE, c.ManageRequest, (c.ManageReply,), CAT, (GW,), "A management command, authorised by catalog"
    ),
    RequestReply(
        s.CATALOG_REPORT, c.IntegrationReport, (c.Ack,), CAT, (GW,), "How real traffic to an integration went"
    ),
    RequestReply(s.CATALOG_PING, Ping, (Pong,), CAT, (GW, OP), "Liveness"),
    RequestReply(
        s.CATALOG_PASSWORD_PARAMS, c.GetPasswordParams, (c.PasswordParams,), CAT, (GW,), "Console sign-in salt"
    ),
    RequestReply(s.CATALOG_PASSWORD_SET, c.SetPassword, (c.Ack,), CAT, (GW,), "Set a member's first console password"),
    RequestReply(s.CATALOG_SESSION_START, c.StartSession, (c.SessionStarted,), CAT, (GW,), "Console sign-in"),
    RequestReply(s.CATALOG_SESSION_END, c.EndSession, (c.Ack,), CAT, (GW,), "Console sign-out"),
    RequestReply(
        s.ACTIVITY_QUERY, a.ActivityQueryRequest, (a.QueryResult,), ACT, (GW,), "Activity and audit reads, scoped"
    ),
    RequestReply(s.ACTIVITY_PING, Ping, (Pong,), ACT, (GW, OP), "Liveness"),
)

EVENTS: tuple[Event, ...] = (
    Event(
        s.EVENT_CATALOG_CHANGED, c.CatalogChanged, (CAT,), (GW,), False, "Catalog data changed (ids only): drop caches"
    ),
    Event(
        s.EVENT_CREDENTIAL_CHANGED,
        kv.CredentialChanged,
        (KV,),
        (GW,),
        False,
        "A credential changed (ids only): drop cached keys",
    ),
    Event(
        s.ACTIVITY_REQUEST_FINISHED,
        a.RequestFinished,
        (GW,),
        (ACT,),
        True,
        "One request's record (Nats-Msg-Id = request id)",
    ),
    Event(
        s.ACTIVITY_REQUEST_BATCH,
        a.RequestBatch,
        (GW,),
        (ACT,),
        True,
        "Several request records in one message (Nats-Msg-Id = a hash of their request ids); each stored by its id",
    ),
    Event(s.ACTIVITY_AUDIT_RECORDED, a.AuditEvent, (CAT, KV), (ACT,), True, "One audit event (Nats-Msg-Id = event id)"),
)
