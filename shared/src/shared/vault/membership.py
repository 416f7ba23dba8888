"""Project membership statements: catalog's signed word that a project belongs to an org.

Catalog signs `(org, project)` when it authenticates an API key; the gateway forwards the statement
inside its signed reveal request, and keyvault checks it with catalog's pinned public key. So an
all-scoped credential of one org is never revealed for another org's project, even if the
gateway's (org, project) pair were wrong: keyvault needs both the gateway's and catalog's word.
A project never changes org, so the statement needs no expiry (Ed25519 is deterministic: the
same pair always gets the same signature).
"""

from __future__ import annotations

from typing import Final

import msgspec
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

MEMBERSHIP_PURPOSE: Final = "keyrelay.catalog.project-membership.v1"


def _statement(org_id: str, project_id: str) -> bytes:
    return msgspec.json.encode([MEMBERSHIP_PURPOSE, org_id, project_id])


def sign_membership(key: SigningKey, *, org_id: str, project_id: str) -> bytes:
    """Catalog's side: the detached signature over (purpose, org, project)."""
    return bytes(key.sign(_statement(org_id, project_id)).signature)


def membership_holds(key: VerifyKey, proof: bytes, *, org_id: str, project_id: str) -> bool:
    """Keyvault's side: True only for catalog's signature over exactly this org and project."""
    try:
        key.verify(_statement(org_id, project_id), proof)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True
