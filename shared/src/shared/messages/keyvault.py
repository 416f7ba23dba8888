"""Keyvault bus messages. Secrets only ever travel sealed: to keyvault's public key (writes) or in a
per-request NaCl Box to the requesting gateway (reveals). Everything else here is ids and masks.

    catalog  --PutCredential/DeleteCredential/SetScope/SetModelHosts (+ owner assertion)-->  keyvault   (admin)
    catalog  --DescribeCredentials-->  keyvault  --Described (masked views)-->  catalog
    gateway  --RevealRequest (signed RevealClaims)-->  keyvault  --RevealGranted (Box)-->  gateway
    operator --RotateKeks-->  keyvault  --Rotated-->  operator
    keyvault --CredentialChanged (ids only, core NATS)-->  every gateway
"""

from __future__ import annotations

from typing import Final

from shared.messages.base import Msg, ProjectScope

REVEAL_PURPOSE: Final = "keyrelay.keyvault.reveal.v1"


class PutCredential(Msg, frozen=True, kw_only=True):
    assertion: bytes  # owner assertion signed by catalog (shared.vault.assertions)
    org_id: str
    integration_id: str
    provider: str
    base_url: str
    project_scope: ProjectScope = "all"
    sealed: bytes  # SealedBox(keyvault public key, JSON secret payload): opaque to everyone else
    # an update may keep parts of the stored payload (a new base URL or new headers, same key)
    keep_secret: bool = False
    keep_headers: bool = False


class DeleteCredential(Msg, frozen=True, kw_only=True):
    assertion: bytes
    org_id: str
    integration_id: str


class SetScope(Msg, frozen=True, kw_only=True):
    assertion: bytes
    org_id: str
    integration_id: str
    project_scope: ProjectScope = "all"


class SetModelHosts(Msg, frozen=True, kw_only=True):
    """Bind the key also to these base URLs: every custom model's own host the owner saved (the full
    set, replacing the previous one); the integration's own base URL stays bound as it is."""

    assertion: bytes
    org_id: str
    integration_id: str
    base_urls: list[str] = []


class DescribeCredentials(Msg, frozen=True, kw_only=True):
    org_id: str
    integration_ids: list[str]


class CredentialView(Msg, frozen=True, kw_only=True):
    """What anyone may see of a stored credential: never its value, never header values."""

    masked: str
    fingerprint: str
    updated_at: str
    updated_by: str
    header_names: list[str] = []
    kek_id: str = ""
    version: int = 0


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
    purpose: str  # REVEAL_PURPOSE (required): a signature over anything else is not a reveal
    request_id: str  # fresh per request: keyvault refuses a second use
    expires_at: float  # unix seconds; keyvault refuses it after this, or if it is too far ahead
    org_id: str
    project_id: str
    integration_id: str
    reply_key: bytes  # the gateway's one-time X25519 public key for this request
    project_proof: bytes = b""  # catalog's signature that project_id belongs to org_id (shared.vault.membership)
    # the host the key is asked for: empty for the integration's own base URL, else one of the custom
    # models' hosts the owner bound the key to (`SetModelHosts`); keyvault refuses any other
    base_url: str = ""


class RevealGranted(Msg, tag="granted", frozen=True, kw_only=True):
    boxed: bytes  # Box(keyvault secret key, reply_key): JSON RevealedPayload, nonce prefixed


class RevealedPayload(Msg, frozen=True, kw_only=True):
    request_id: str  # the gateway checks it is its own request
    integration_id: str = ""
    base_url: str  # the upstream base URL this secret may be sent to for this request
    fingerprint: str
    secret: dict[str, object]


class RotateKeks(Msg, frozen=True, kw_only=True):
    batch: int = 100


class Rotated(Msg, tag="rotated", frozen=True, kw_only=True):
    rewrapped: int
    remaining_on_old: int
    failed: list[str] = []  # integration ids that could not be re-wrapped (named error in keyvault's log)


class CredentialChanged(Msg, frozen=True, kw_only=True):
    org_id: str
    integration_id: str = ""  # empty: every credential of the org
