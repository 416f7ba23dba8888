"""Keyvault bus messages. Secrets only ever travel sealed: to keyvault's public key (writes) or in a
per-request NaCl Box to the requesting gateway (reveals)."""

from __future__ import annotations

from typing import Literal

from shared.messages.base import Msg


class PutCredential(Msg, frozen=True, kw_only=True):
    assertion: bytes  # owner assertion signed by catalog
    org_id: str
    integration_id: str
    provider: str
    base_url: str
    project_scope: Literal["all"] | list[str] = "all"
    sealed: bytes  # SealedBox(keyvault public key, JSON secret payload)


class DeleteCredential(Msg, frozen=True, kw_only=True):
    assertion: bytes
    org_id: str
    integration_id: str


class SetScope(Msg, frozen=True, kw_only=True):
    assertion: bytes
    org_id: str
    integration_id: str
    project_scope: Literal["all"] | list[str] = "all"


class DescribeCredentials(Msg, frozen=True, kw_only=True):
    org_id: str
    integration_ids: list[str]


class CredentialView(Msg, frozen=True, kw_only=True):
    masked: str
    fingerprint: str
    updated_at: str
    updated_by: str
    header_names: list[str] = []
    kek_id: str = ""


class Described(Msg, tag="described", frozen=True, kw_only=True):
    credentials: dict[str, CredentialView] = {}


class Stored(Msg, tag="stored", frozen=True, kw_only=True):
    view: CredentialView


class Done(Msg, tag="done", frozen=True, kw_only=True):
    pass


class RevealRequest(Msg, frozen=True, kw_only=True):
    """`signed` is an Ed25519-signed (by the gateway) JSON `RevealClaims`."""

    signed: bytes


class RevealClaims(Msg, frozen=True, kw_only=True):
    request_id: str
    expires_at: float
    org_id: str
    project_id: str
    integration_id: str
    reply_key: bytes  # gateway's ephemeral X25519 public key for this request


class RevealGranted(Msg, tag="granted", frozen=True, kw_only=True):
    boxed: bytes  # Box(keyvault sk, reply_key): JSON RevealedPayload


class RevealedPayload(Msg, frozen=True, kw_only=True):
    request_id: str
    base_url: str
    fingerprint: str
    secret: dict[str, object]


class RotateKeks(Msg, frozen=True, kw_only=True):
    batch: int = 100


class Rotated(Msg, tag="rotated", frozen=True, kw_only=True):
    rewrapped: int
    remaining_on_old: int


class CredentialChanged(Msg, frozen=True, kw_only=True):
    org_id: str
    integration_id: str
