"""Google service accounts for the Vertex fake: key files with fresh RSA keys, RS256 JWT signing/checking."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_LIFETIME_S = 3600
CLOCK_SKEW_S = 300


class InvalidGrantError(Exception):
    """The assertion was refused; `error` and `description` are what Google's token endpoint returns."""

    def __init__(self, description: str, error: str = "invalid_grant") -> None:
        super().__init__(description)
        self.error, self.description = error, description


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class NewServiceAccount:
    info: dict[str, str]  # the key file, as Google issues it
    public_key_pem: str


def generate_service_account(token_uri: str, project_id: str = "fake-project") -> NewServiceAccount:
    """A key file with a fresh 2048-bit RSA key, in Google's format."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    name = f"sa-{secrets.token_hex(4)}"
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": f"{name}@{project_id}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }
    return NewServiceAccount(info, public_pem)


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("not an RSA public key")
    return key


def make_assertion(
    info: dict[str, str],
    *,
    scope: str = CLOUD_PLATFORM,
    lifetime_s: int = 3600,
    now: float | None = None,
    audience: str | None = None,
) -> str:
    """Sign the JWT a client sends to the token endpoint (what google-auth does), for tests."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "RS256", "typ": "JWT", "kid": info["private_key_id"]}
    claims = {
        "iss": info["client_email"],
        "scope": scope,
        "aud": audience or info["token_uri"],
        "iat": issued,
        "exp": issued + lifetime_s,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("service account key is not RSA")
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _decode(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    try:
        header_b64, claims_b64, signature_b64 = assertion.split(".")
        header, claims = json.loads(_unb64url(header_b64)), json.loads(_unb64url(claims_b64))
        signature = _unb64url(signature_b64)
    except ValueError as exc:
        raise InvalidGrantError("Invalid JWT: could not be decoded.") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidGrantError("Invalid JWT: could not be decoded.")
    return header, claims, signature, f"{header_b64}.{claims_b64}".encode()


def verify_assertion(assertion: str, accounts: dict[str, rsa.RSAPublicKey], audience: str) -> str:
    """Check an RS256 JWT-bearer assertion like Google does; return the service-account email."""
    header, claims, signature, signing_input = _decode(assertion)
    if header.get("alg") != "RS256":
        raise InvalidGrantError("Invalid JWT: unsupported signing algorithm.")
    key = accounts.get(str(claims.get("iss")))
    if key is None:
        raise InvalidGrantError("Invalid grant: account not found")
    try:
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise InvalidGrantError("Invalid JWT Signature.") from exc
    if claims.get("aud") != audience:
        raise InvalidGrantError("Invalid JWT: Failed audience check.")
    if CLOUD_PLATFORM not in str(claims.get("scope", "")).split():
        raise InvalidGrantError("Invalid OAuth scope or ID token audience provided.", "invalid_scope")
    iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
    if (
        not isinstance(iat, int)
        or not isinstance(exp, int)
        or exp - iat > MAX_LIFETIME_S
        or exp <= iat
        or exp < now - CLOCK_SKEW_S
        or iat > now + CLOCK_SKEW_S
    ):
        raise InvalidGrantError(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim."
        )
    return str(claims["iss"])
