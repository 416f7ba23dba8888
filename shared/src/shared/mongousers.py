"""MongoDB users: each service its own user and database, keyvault alone on its database.

    keyvault  readWrite on keyrelay_keyvault   (credential records)
    catalog   readWrite on keyrelay_catalog
    activity  readWrite on keyrelay_activity
    admin     root (the operator: `keyrelay doctor`, backups, tests' direct connection)

The gateway holds no database credentials. The embedded stack provisions these users once (on a
server started without `--auth`), then always runs SecantusDB with `--auth`, which enforces
SCRAM-SHA-256 and per-database roles. Production: the same users with the same roles
(`deploy/README.md`).
"""

from __future__ import annotations

import secrets
from typing import Final
from urllib.parse import quote

DATABASES: Final = {"keyvault": "keyrelay_keyvault", "catalog": "keyrelay_catalog", "activity": "keyrelay_activity"}
ADMIN: Final = "admin"
USERS: Final = (*DATABASES, ADMIN)


def password_setting(user: str) -> str:
    return f"KEYRELAY_MONGODB_PASSWORD__{user.upper()}"


def generate_passwords() -> dict[str, str]:
    return {password_setting(user): secrets.token_urlsafe(24) for user in USERS}


def uri(port: int, user: str | None = None, password: str = "") -> str:
    """A loopback URI, authenticated as `user` against its own database (admin: against `admin`)."""
    base = f"127.0.0.1:{port}/?directConnection=true"
    if user is None:
        return f"mongodb://{base}"
    source = DATABASES.get(user, "admin")
    return f"mongodb://{quote(user, safe='')}:{quote(password, safe='')}@{base}&authSource={source}"


def provision(port: int, passwords: dict[str, str]) -> None:
    """Create (or reset the password of) every user on a server running without `--auth`."""
    from pymongo import MongoClient  # noqa: PLC0415 - only the operator side needs it

    client: MongoClient[dict[str, object]]
    with MongoClient(uri(port), serverSelectionTimeoutMS=10_000) as client:
        for user in USERS:
            db = DATABASES.get(user, "admin")
            role = {"role": "root", "db": "admin"} if user == ADMIN else {"role": "readWrite", "db": db}
            existing = client[db].command("usersInfo", user)["users"]
            command = "updateUser" if existing else "createUser"
            client[db].command(command, user, pwd=passwords[password_setting(user)], roles=[role])
