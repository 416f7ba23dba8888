"""Keyvault's policy: who may write, who may read, what is revealed, and to whom.

* Writes (put, delete, scope) need an owner assertion signed by catalog for this org, this
  integration, this operation and exactly this content (a digest of provider, base URL, scope and
  sealed blob), fresh and never used before; anything else is refused with `owner_required` and
  audited. The secret arrives sealed to keyvault's own public key and is validated here, the one
  place that sees it in clear (`keyvault.payloads`).
* Reveals need a request signed by the gateway, fresh, never seen before, carrying catalog's
  statement that the caller's project belongs to the caller's org, for an integration of that org
  whose scope includes that project, and for a host the key is bound to: the integration's base URL
  or one of its custom models' own hosts the owner bound (`set_model_hosts`, owner-only like every
  write); the answer is boxed to the request's one-time key.
* Nothing read from MongoDB is trusted as is: the record must authenticate under its KEK (every
  field keyvault decides on is bound into the envelope) and its version must not be below the
  floor keyvault keeps outside the database (`keyvault.floors`). Anything else is refused and audited.
* Describe returns masked views only.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import msgspec
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import Box, PrivateKey, PublicKey, SealedBox
from nacl.signing import VerifyKey

from keyvault import payloads
from keyvault.audit import Auditor, credential_event
from keyvault.crypto import Identity, MalformedEnvelope, Sealer, VaultCryptoError
from keyvault.floors import VersionFloors
from keyvault.metrics import REVEALS, WRITES
from keyvault.replay import ReplayCache
from keyvault.repository import CredentialRecord, CredentialRepository
from shared.errors import KeyrelayError
from shared.logging import get_logger
from shared.messages import keyvault as kv
from shared.messages.activity import Outcome
from shared.vault.assertions import OwnerAssertion, kept_parts, verify_assertion, write_digest
from shared.vault.membership import membership_holds

log = get_logger("keyrelay.keyvault")
_claims = msgspec.json.Decoder(kv.RevealClaims)
_payload_dict = msgspec.json.Decoder(dict[str, object])
_NOT_FOUND = "integration not found"
MAX_MODEL_HOSTS = 64


def _not_found() -> KeyrelayError:
    return KeyrelayError("integration_not_found", _NOT_FOUND)


def check_base_url(base_url: str) -> str:
    """An absolute http(s) origin + path, without credentials, query or fragment."""
    parts = urlsplit(base_url)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or len(base_url) > 2048
    ):
        raise KeyrelayError(
            "invalid_request", "base_url must be an http(s) URL without credentials or query", param="base_url"
        )
    return base_url


def checked_hosts(base_urls: list[str]) -> list[str]:
    """The custom-model hosts to bind: each a valid base URL (no trailing slash), sorted, unique, at most 64."""
    hosts = sorted({check_base_url(url).rstrip("/") for url in base_urls})
    if len(hosts) > MAX_MODEL_HOSTS:
        raise KeyrelayError("invalid_request", f"at most {MAX_MODEL_HOSTS} custom model hosts", param="base_urls")
    return hosts


def in_scope(scope: str | list[str], project_id: str) -> bool:
    return scope == "all" or (isinstance(scope, list) and project_id in scope)


def view(record: CredentialRecord) -> kv.CredentialView:
    return kv.CredentialView(
        masked=record.masked,
        fingerprint=record.fingerprint,
        updated_at=record.updated_at.isoformat(),
        updated_by=record.updated_by,
        header_names=record.header_names,
        kek_id=record.envelope.kek_id,
        version=record.version,
    )


class Vault:
    def __init__(
        self,
        repo: CredentialRepository,
        sealer: Sealer,
        private_key: PrivateKey,
        *,
        floors: VersionFloors,
        gateway_key: VerifyKey,
        catalog_key: VerifyKey,
        auditor: Auditor,
        max_age_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.sealer = sealer
        self.floors = floors
        self._private = private_key
        self._unseal = SealedBox(private_key)
        self._gateway_key = gateway_key
        self._catalog_key = catalog_key
        self._audit = auditor
        self._max_age = max_age_s
        self._clock = clock
        self._reveal_ids = ReplayCache(clock=clock)
        self._assertion_nonces = ReplayCache(10_000, clock=clock)

    # --- writes ---------------------------------------------------------------------------------
    def _deny(
        self, org_id: str, integration_id: str, operation: str, reason: str, claims: OwnerAssertion | None
    ) -> KeyrelayError:
        WRITES.labels(operation=operation, outcome="denied").inc()
        log.warning(
            "keyvault.write_denied",
            org_id=org_id,
            integration_id=integration_id,
            operation=operation,
            reason=reason,
            member_id=claims.member_id if claims else None,
        )
        self._audit.record(
            credential_event(
                org_id=org_id,
                actor_id=claims.member_id if claims else "unknown",
                actor_role=claims.org_role if claims else "",
                action=f"credential.{operation}",
                target_id=integration_id,
                outcome="denied",
                detail={"reason": reason},
            )
        )
        return KeyrelayError("owner_required", reason)

    def authorize(self, blob: bytes, org_id: str, integration_id: str, operation: str, digest: str) -> OwnerAssertion:
        """The verified owner assertion for exactly this write, or `owner_required` (audited)."""
        try:
            claims = verify_assertion(self._catalog_key, blob, now=self._clock())
        except KeyrelayError as exc:
            raise self._deny(org_id, integration_id, operation, exc.message, None) from None
        if (claims.org_id, claims.integration_id, claims.operation) != (org_id, integration_id, operation):
            raise self._deny(org_id, integration_id, operation, "owner assertion is for another write", claims)
        if claims.org_role != "owner":
            raise self._deny(
                org_id, integration_id, operation, "only organization owners may change credentials", claims
            )
        if not hmac.compare_digest(claims.digest, digest):
            raise self._deny(org_id, integration_id, operation, "owner assertion is for other content", claims)
        verdict = self._assertion_nonces.check(claims.nonce, claims.expires_at)
        if verdict != "first_use":
            reason = "owner assertion already used" if verdict == "replayed" else "too many writes at once: retry"
            raise self._deny(org_id, integration_id, operation, reason, claims)
        return claims

    def _audited(self, claims: OwnerAssertion, detail: dict[str, str] | None = None) -> None:
        """An owner's write, done: audited as `credential.<operation>` under the member the
        (verified, exactly matching) assertion names."""
        self._audit.record(
            credential_event(
                org_id=claims.org_id,
                actor_id=claims.member_id,
                actor_role=claims.org_role,
                action=f"credential.{claims.operation}",
                target_id=claims.integration_id,
                detail=detail,
            )
        )

    async def _owned(self, org_id: str, integration_id: str) -> CredentialRecord | None:
        try:
            record = await self.repo.get(integration_id)
        except MalformedEnvelope:
            return None
        if record is not None and record.org_id != org_id:
            raise _not_found()
        return record

    async def put(self, req: kv.PutCredential) -> kv.CredentialView:
        floor = await self.floors.get(req.integration_id)
        try:
            existing = await self.repo.get(req.integration_id)
        except MalformedEnvelope:
            raise KeyrelayError("internal_error", "the stored credential is unreadable: delete it first") from None
        operation = "create" if existing is None else "update"
        digest = write_digest(
            operation,
            provider=req.provider,
            base_url=req.base_url,
            project_scope=req.project_scope,
            sealed=req.sealed,
            keep=kept_parts(keep_secret=req.keep_secret, keep_headers=req.keep_headers),
        )
        claims = self.authorize(req.assertion, req.org_id, req.integration_id, operation, digest)
        if existing is not None and existing.org_id != req.org_id:
            raise self._deny(req.org_id, req.integration_id, operation, "integration belongs to another org", claims)
        if existing is not None and existing.provider != req.provider:
            raise KeyrelayError("invalid_request", "an integration's provider cannot change", param="provider")
        check_base_url(req.base_url)
        payload = self._unsealed(req.sealed) if req.sealed else payloads.SecretPayload()
        if req.keep_secret or req.keep_headers:
            if existing is None:
                raise _not_found()
            payload = self._kept(existing, payload, keep_secret=req.keep_secret, keep_headers=req.keep_headers)
        payloads.validate(req.provider, payload)
        version = max(existing.version if existing is not None else 0, floor) + 1
        fingerprint = self.sealer.fingerprint(req.org_id, payload.canonical())
        # bound to the write's own fields of the same names (as a record's is to its own: `.identity`);
        # an update keeps the custom-model hosts the owner bound (changed only by `set_model_hosts`)
        fields = {
            **msgspec.structs.asdict(req),
            "version": version,
            "fingerprint": fingerprint,
            "model_base_urls": existing.model_base_urls if existing is not None else [],
        }
        ident = msgspec.convert(fields, Identity)
        record = CredentialRecord.sealed_as(
            ident,
            envelope=self.sealer.seal(msgspec.json.encode(payload), ident),
            masked=payloads.mask(payload),
            header_names=payload.header_names,
            updated_by=claims.member_id,
        )
        stored = await (
            self.repo.insert(record)
            if existing is None
            else self.repo.replace(record, expected_version=existing.version)
        )
        if not stored:
            raise KeyrelayError("conflict", "the credential changed concurrently: retry")
        await self.floors.follow(req.integration_id, version)
        WRITES.labels(operation=operation, outcome="ok").inc()
        log.info(
            "keyvault.credential_stored",
            org_id=req.org_id,
            integration_id=req.integration_id,
            operation=operation,
            version=version,
            kek_id=record.envelope.kek_id,
        )
        self._audited(claims, {"fingerprint": record.fingerprint, "version": str(version)})
        return view(record)

    def _unsealed(self, sealed: bytes) -> payloads.SecretPayload:
        try:
            raw = self._unseal.decrypt(sealed)
        except (CryptoError, ValueError, TypeError):
            raise KeyrelayError("invalid_credentials", "credentials were not sealed to this keyvault") from None
        return payloads.parse_payload(raw)

    def _kept(
        self, existing: CredentialRecord, new: payloads.SecretPayload, *, keep_secret: bool, keep_headers: bool
    ) -> payloads.SecretPayload:
        """The stored payload's secret and/or headers combined with the new parts (re-bound by `put`)."""
        try:
            stored = payloads.parse_payload(self.sealer.open(existing.envelope, existing.identity))
        except VaultCryptoError as exc:
            raise KeyrelayError("internal_error", f"credential cannot be decrypted ({type(exc).__name__})") from None
        secret = stored if keep_secret else new
        return payloads.SecretPayload(
            api_key=secret.api_key,
            service_account_json=secret.service_account_json,
            headers=stored.headers if keep_headers else new.headers,
        )

    async def delete(self, req: kv.DeleteCredential) -> None:
        claims = self.authorize(req.assertion, req.org_id, req.integration_id, "delete", write_digest("delete"))
        floor = await self.floors.get(req.integration_id)
        existing = await self._owned(req.org_id, req.integration_id)
        deleted = await self.repo.delete(req.org_id, req.integration_id)
        # past the deleted version: the deleted record can never be put back
        await self.floors.follow(req.integration_id, max(existing.version if existing else 0, floor) + 1)
        WRITES.labels(operation="delete", outcome="ok").inc()
        log.info("keyvault.credential_deleted", org_id=req.org_id, integration_id=req.integration_id, existed=deleted)
        self._audited(claims)

    async def set_scope(self, req: kv.SetScope) -> None:
        """Re-bind the record to the new scope at a new version (the data key is re-wrapped, the secret stays)."""
        digest = write_digest("scope", project_scope=req.project_scope)
        claims = self.authorize(req.assertion, req.org_id, req.integration_id, "scope", digest)
        floor = await self.floors.get(req.integration_id)
        record = await self._owned(req.org_id, req.integration_id)
        if record is None:
            raise _not_found()
        self._check_current(record, floor, actor_id=claims.member_id, action="credential.scope")
        new = record.rebound(
            self.sealer,
            version=max(record.version, floor) + 1,
            project_scope=req.project_scope,
            updated_by=claims.member_id,
        )
        if not await self.repo.swap(record, new):
            raise KeyrelayError("conflict", "the credential changed concurrently: retry")
        await self.floors.follow(req.integration_id, new.version)
        WRITES.labels(operation="scope", outcome="ok").inc()
        self._audited(
            claims,
            {
                "project_scope": "all" if req.project_scope == "all" else ",".join(req.project_scope),
                "version": str(new.version),
            },
        )

    async def set_model_hosts(self, req: kv.SetModelHosts) -> None:
        """Re-bind the record to the custom models' own hosts at a new version (the data key is re-wrapped)."""
        digest = write_digest("hosts", base_urls=req.base_urls)
        claims = self.authorize(req.assertion, req.org_id, req.integration_id, "hosts", digest)
        hosts = checked_hosts(req.base_urls)
        floor = await self.floors.get(req.integration_id)
        record = await self._owned(req.org_id, req.integration_id)
        if record is None:
            raise _not_found()
        if record.model_base_urls == hosts:
            self._audited(claims, {"model_hosts": str(len(hosts)), "version": str(record.version)})
            return
        self._check_current(record, floor, actor_id=claims.member_id, action="credential.hosts")
        new = record.rebound(
            self.sealer, version=max(record.version, floor) + 1, model_base_urls=hosts, updated_by=claims.member_id
        )
        if not await self.repo.swap(record, new):
            raise KeyrelayError("conflict", "the credential changed concurrently: retry")
        await self.floors.follow(req.integration_id, new.version)
        WRITES.labels(operation="hosts", outcome="ok").inc()
        self._audited(claims, {"model_hosts": str(len(hosts)), "version": str(new.version)})

    def _check_current(self, record: CredentialRecord, floor: int, *, actor_id: str, action: str) -> None:
        """Refuse (and audit) a record that does not authenticate or is older than keyvault's last write."""
        try:
            self.sealer.open(record.envelope, record.identity)
        except VaultCryptoError as exc:
            self._audit_inconsistent(record, type(exc).__name__, actor_id=actor_id, action=action)
            raise KeyrelayError("internal_error", f"credential cannot be decrypted ({type(exc).__name__})") from None
        if record.version < floor:
            self._audit_inconsistent(record, "RolledBack", actor_id=actor_id, action=action, floor=floor)
            raise KeyrelayError("internal_error", "credential record is older than keyvault's last write (RolledBack)")

    def _audit_inconsistent(
        self, record: CredentialRecord, error: str, *, actor_id: str, action: str, floor: int = 0, project_id: str = ""
    ) -> None:
        log.error(
            "keyvault.rolled_back" if error == "RolledBack" else "keyvault.decrypt_failed",
            error=error,
            integration_id=record.integration_id,
            kek_id=record.envelope.kek_id,
            version=record.version,
            floor=floor,
        )
        detail = {"error": error, "version": str(record.version)}
        if floor:
            detail["floor"] = str(floor)
        if project_id:
            detail["project_id"] = project_id
        self._audit.record(
            credential_event(
                org_id=record.org_id,
                actor_id=actor_id,
                action=action,
                target_id=record.integration_id,
                outcome="failed",
                detail=detail,
            )
        )

    async def describe(self, req: kv.DescribeCredentials) -> kv.Described:
        records = await self.repo.many(req.org_id, req.integration_ids[:1000])
        return kv.Described(credentials={r.integration_id: view(r) for r in records})

    # --- reveal ---------------------------------------------------------------------------------
    def _refuse(self, reason: str, claims: kv.RevealClaims | None, code: str = "forbidden") -> KeyrelayError:
        REVEALS.labels(outcome=reason).inc()
        log.warning("keyvault.reveal_refused", reason=reason, integration_id=claims.integration_id if claims else None)
        if claims is not None:  # signed by the gateway: the org is trustworthy, so it is audited there
            self._audit_reveal(claims, "denied", {"reason": reason})
        return KeyrelayError(
            code,
            "integration not found" if code == "integration_not_found" else f"decryption request refused ({reason})",
        )

    def _audit_reveal(self, claims: kv.RevealClaims, outcome: Outcome, detail: dict[str, str]) -> None:
        """A reveal (the gateway's `credential.decrypt`), granted or refused: audited in the claimed org,
        which is the record's when granted."""
        self._audit.record(
            credential_event(
                org_id=claims.org_id,
                actor_id="gateway",
                action="credential.decrypt",
                target_id=claims.integration_id,
                outcome=outcome,
                detail={**detail, "project_id": claims.project_id},
            )
        )

    def verify_request(self, req: kv.RevealRequest) -> kv.RevealClaims:
        """Signed by the gateway, for a reveal, unexpired, not too far ahead, never seen before."""
        try:
            claims = _claims.decode(self._gateway_key.verify(req.signed))
        except (BadSignatureError, msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
            raise self._refuse("bad_signature", None) from None
        if claims.purpose != kv.REVEAL_PURPOSE or len(claims.reply_key) != PublicKey.SIZE:
            raise self._refuse("bad_signature", None)
        now = self._clock()
        if claims.expires_at < now:
            raise self._refuse("expired", claims)
        if claims.expires_at > now + self._max_age:
            raise self._refuse("lifetime_too_long", claims)
        verdict = self._reveal_ids.check(claims.request_id, claims.expires_at)
        if verdict == "replayed":
            raise self._refuse("replayed", claims)
        if verdict == "full":
            raise self._refuse("busy", claims, code="rate_limited")
        if not membership_holds(
            self._catalog_key, claims.project_proof, org_id=claims.org_id, project_id=claims.project_id
        ):
            raise self._refuse("project_not_in_org", claims, code="integration_not_found")
        return claims

    async def _current(self, claims: kv.RevealClaims) -> tuple[CredentialRecord, dict[str, object]]:
        """The record and its opened secret, only if it authenticates and is not older than its floor."""
        floor = await self.floors.get(claims.integration_id)  # before the record: a legitimate record is never below it
        try:
            record = await self.repo.get(claims.integration_id)
        except MalformedEnvelope:
            REVEALS.labels(outcome="undecryptable").inc()
            raise KeyrelayError("internal_error", "credential cannot be decrypted (MalformedEnvelope)") from None
        if record is None or record.org_id != claims.org_id:
            raise self._refuse("not_found", claims, code="integration_not_found")
        try:
            secret = _payload_dict.decode(self.sealer.open(record.envelope, record.identity))
        except VaultCryptoError as exc:
            REVEALS.labels(outcome="undecryptable").inc()
            self._audit_inconsistent(
                record,
                type(exc).__name__,
                actor_id="gateway",
                action="credential.decrypt",
                project_id=claims.project_id,
            )
            raise KeyrelayError("internal_error", f"credential cannot be decrypted ({type(exc).__name__})") from None
        if record.version < floor:
            REVEALS.labels(outcome="rolled_back").inc()
            self._audit_inconsistent(
                record,
                "RolledBack",
                actor_id="gateway",
                action="credential.decrypt",
                floor=floor,
                project_id=claims.project_id,
            )
            raise KeyrelayError("internal_error", "credential record is older than keyvault's last write (RolledBack)")
        if record.version > floor:
            await self.floors.follow(record.integration_id, record.version)
        return record, secret

    async def reveal(self, req: kv.RevealRequest) -> kv.RevealGranted:
        claims = self.verify_request(req)
        record, secret = await self._current(claims)
        if not in_scope(record.project_scope, claims.project_id):
            raise self._refuse("project_out_of_scope", claims, code="integration_not_found")
        base_url = claims.base_url.rstrip("/") or record.base_url
        if base_url not in (record.base_url.rstrip("/"), record.base_url, *record.model_base_urls):
            raise self._refuse("host_not_bound", claims)
        payload = kv.RevealedPayload(
            request_id=claims.request_id,
            integration_id=record.integration_id,
            base_url=base_url,
            fingerprint=record.fingerprint,
            secret=secret,
        )
        boxed = Box(self._private, PublicKey(claims.reply_key)).encrypt(msgspec.json.encode(payload))
        REVEALS.labels(outcome="ok").inc()
        log.debug(
            "keyvault.revealed",
            org_id=record.org_id,
            integration_id=record.integration_id,
            project_id=claims.project_id,
            kek_id=record.envelope.kek_id,
        )
        self._audit_reveal(claims, "ok", {})
        return kv.RevealGranted(boxed=bytes(boxed))
