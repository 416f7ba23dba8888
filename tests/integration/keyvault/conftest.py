"""Keyvault integration fixtures: a real nats-server (JetStream on), a real SecantusDB, keyvault as a
real process (`python -m keyvault`, DEBUG JSON logs in a file), and the clients its callers use.

Names are prefixed `kv_` so they cannot collide with the session fixtures in `tests/conftest.py`.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from nacl.public import PublicKey
from nacl.signing import SigningKey
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient

from catalog.vault_admin import VaultAdminClient
from gateway.keyvault_client import KeyvaultClient, RevealedCredential
from shared import subjects
from shared.bus import BusClient
from shared.embedded import executable, free_port, wait_for_port
from shared.messages import keyvault as kvm
from shared.messages.activity import AuditEvent
from shared.provision import ProvisionSettings, provision_with
from shared.tokens import new_id
from shared.vault import seal_for_keyvault
from shared.vault.assertions import sign_assertion, write_digest
from shared.vault.devkeys import generate_dev_keys
from shared.vault.membership import sign_membership

REPO_ROOT = Path(__file__).resolve().parents[3]
OPENAI_BASE = "https://api.openai.com/v1"


@dataclass
class KvServers:
    nats_url: str
    nats_store: Path
    mongo_uri: str


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def kv_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KvServers]:
    """One nats-server (JetStream, no auth) and one SecantusDB for all keyvault integration tests."""
    root = tmp_path_factory.mktemp("kv-servers")
    nats_port, mongo_port = free_port(), free_port()
    store = root / "jetstream"
    nats_log = (root / "nats.log").open("wb")
    mongo_log = (root / "mongo.log").open("wb")
    nats_proc = subprocess.Popen(
        [executable("nats-server"), "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd", str(store)],
        stdout=nats_log,
        stderr=subprocess.STDOUT,
    )
    mongo_proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            "127.0.0.1",
            "--port",
            str(mongo_port),
            "--storage-path",
            str(root / "mongo"),
            "--sync-on-commit",
            "--log-level",
            "WARNING",
        ],
        stdout=mongo_log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(nats_port, proc=nats_proc)
        wait_for_port(mongo_port, proc=mongo_proc, timeout_s=30)
        yield KvServers(
            nats_url=f"nats://127.0.0.1:{nats_port}",
            nats_store=store,
            mongo_uri=f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
        )
    finally:
        _stop(nats_proc)
        _stop(mongo_proc)
        nats_log.close()
        mongo_log.close()


@pytest.fixture(scope="session")
def kv_keys() -> dict[str, str]:
    """Fresh key material for the whole session (never the sample values)."""
    return generate_dev_keys()


@dataclass
class KeyvaultProcess:
    """`python -m keyvault` with its own database and a DEBUG JSON log file."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> KeyvaultProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        before = self.log_text().count("service.started")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "keyvault"], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
            )
        if wait:
            self.wait_started(before)
        return self

    def wait_started(self, before: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.log_text().count("service.started") > before:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"keyvault exited with {self.proc.returncode}:\n{self.log_text()[-2000:]}")
            time.sleep(0.05)
        raise TimeoutError("keyvault did not start")

    def wait_exit(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            _stop(self.proc)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def keyvault_env(servers: KvServers, keys: dict[str, str], db: str, **overrides: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEYRELAY_")}
    env = {
        **base,
        "KEYRELAY_ENV_FILE": os.devnull,
        "KEYRELAY_NATS_URL": servers.nats_url,
        "KEYRELAY_MONGODB_URI": servers.mongo_uri,
        "KEYRELAY_KEYVAULT_DB": db,
        "KEYRELAY_LOG_FORMAT": "json",
        "KEYRELAY_LOG_LEVEL": "debug",
        **{k: v for k, v in keys.items() if k.startswith("KEYRELAY_KEYVAULT_")},
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.fixture
def kv_spawn(kv_servers: KvServers, kv_keys: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """Start keyvault processes with custom settings; every one is stopped after the test."""
    started: list[KeyvaultProcess] = []

    def spawn(*, db: str | None = None, wait: bool = True, **overrides: str) -> KeyvaultProcess:
        name = db or f"kv_{secrets.token_hex(4)}"
        env = keyvault_env(kv_servers, kv_keys, name, **overrides)
        process = KeyvaultProcess(env=env, log_path=tmp_path / f"keyvault-{len(started)}.log")
        started.append(process)
        return process.start(wait=wait)

    yield spawn
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def kv_keyvault(
    kv_servers: KvServers, kv_keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyvaultProcess]:
    """One keyvault for a test module (stopped at the module's end, so modules never share subjects)."""
    db = f"kv_{secrets.token_hex(4)}"
    process = KeyvaultProcess(
        env=keyvault_env(kv_servers, kv_keys, db), log_path=tmp_path_factory.mktemp("keyvault") / "keyvault.log"
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
async def kv_stream(kv_servers: KvServers) -> None:
    """The activity stream keyvault's audit events go to and keyvault's version-floor bucket, made
    as the operator side makes them (`shared.provision`)."""
    nc = await nats.connect(kv_servers.nats_url)
    try:
        await provision_with(nc, ProvisionSettings(stream_max_bytes=256 * 1024**2))
    finally:
        await nc.close()


@dataclass
class Kv:
    """What keyvault's callers hold: catalog's admin client and signing key, the gateway's client."""

    nc: NatsClient
    keys: dict[str, str]
    mongo: AsyncMongoClient[dict[str, Any]]
    db: str
    catalog_key: SigningKey = field(init=False)
    admin: VaultAdminClient = field(init=False)
    gateway: KeyvaultClient = field(init=False)

    def __post_init__(self) -> None:
        self.catalog_key = SigningKey(base64.b64decode(self.keys["KEYRELAY_CATALOG_SIGNING_KEY"]))
        self.bus = BusClient(self.nc, default_timeout_s=5.0)
        self.admin = VaultAdminClient(self.bus)
        self.gateway = self.new_gateway()

    def new_gateway(self, **kwargs: Any) -> KeyvaultClient:
        return KeyvaultClient(
            self.bus,
            SigningKey(base64.b64decode(self.keys["KEYRELAY_GATEWAY_SIGNING_KEY"])),
            PublicKey(base64.b64decode(self.keys["KEYRELAY_KEYVAULT_PUBLIC_KEY"])),
            timeout_s=5.0,
            **kwargs,
        )

    @property
    def collection(self) -> Any:
        return self.mongo[self.db]["credentials"]

    def assertion(
        self,
        org_id: str,
        integration_id: str,
        operation: str,
        *,
        role: str = "owner",
        member_id: str = "mem_owner",
        key: SigningKey | None = None,
        ttl_s: float = 60.0,
        now: float | None = None,
        provider: str = "",
        base_url: str = "",
        project_scope: kvm.Scope | None = None,
        sealed: bytes = b"",
    ) -> bytes:
        """Catalog's assertion for one write; the content arguments must be what the write carries."""
        digest = write_digest(
            operation, provider=provider, base_url=base_url, project_scope=project_scope, sealed=sealed
        )
        return sign_assertion(
            key or self.catalog_key,
            member_id=member_id,
            org_id=org_id,
            org_role=role,
            operation=operation,
            integration_id=integration_id,
            digest=digest,
            ttl_s=ttl_s,
            now=now,
        )

    def seal(self, payload: dict[str, Any]) -> bytes:
        return seal_for_keyvault(payload, self.keys["KEYRELAY_KEYVAULT_PUBLIC_KEY"])

    async def put(
        self,
        org_id: str,
        integration_id: str,
        payload: dict[str, Any],
        *,
        operation: str = "create",
        role: str = "owner",
        provider: str = "openai",
        base_url: str = OPENAI_BASE,
        scope: kvm.Scope = "all",
        assertion: bytes | None = None,
    ) -> kvm.CredentialView:
        sealed = self.seal(payload)
        blob = assertion
        if blob is None:
            blob = self.assertion(
                org_id,
                integration_id,
                operation,
                role=role,
                provider=provider,
                base_url=base_url,
                project_scope=scope,
                sealed=sealed,
            )
        return await self.admin.put(
            kvm.PutCredential(
                assertion=blob,
                org_id=org_id,
                integration_id=integration_id,
                provider=provider,
                base_url=base_url,
                project_scope=scope,
                sealed=sealed,
            )
        )

    async def create(self, payload: dict[str, Any] | None = None, **kwargs: Any) -> tuple[str, str]:
        """A new credential in a new org; returns (org_id, integration_id)."""
        org_id, integration_id = new_id("org"), new_id("int")
        await self.put(org_id, integration_id, payload or {"api_key": "sk-test-" + secrets.token_hex(12)}, **kwargs)
        return org_id, integration_id

    def project_proof(self, org_id: str, project_id: str) -> bytes:
        """What catalog attaches to an API key's principal: its word that the project is the org's."""
        return sign_membership(self.catalog_key, org_id=org_id, project_id=project_id)

    async def reveal(self, org_id: str, integration_id: str, project_id: str = "prj_1") -> RevealedCredential:
        return await self.new_gateway(ttl_s=0.0).reveal(
            org_id=org_id,
            project_id=project_id,
            integration_id=integration_id,
            project_proof=self.project_proof(org_id, project_id),
        )

    async def audit_events(self, target_id: str, *, expect: int = 1, timeout_s: float = 10.0) -> list[AuditEvent]:
        """Audit events about `target_id` stored in the activity stream (waits for at least `expect`)."""
        js = self.nc.jetstream()
        deadline = time.monotonic() + timeout_s
        found: list[AuditEvent] = []
        while time.monotonic() < deadline:
            sub = await js.subscribe(subjects.ACTIVITY_AUDIT_RECORDED, ordered_consumer=True)
            found = []
            try:
                while True:
                    try:
                        msg = await sub.next_msg(timeout=0.3)
                    except TimeoutError:
                        break
                    event = msgspec.json.decode(msg.data, type=AuditEvent)
                    if event.target_id == target_id:
                        found.append(event)
            finally:
                await sub.unsubscribe()
            if len(found) >= expect:
                return found
        return found


@pytest.fixture
async def kv(kv_servers: KvServers, kv_keys: dict[str, str], kv_stream: None) -> AsyncIterator[Kv]:
    """Clients for whichever keyvault the test started (module fixture `kv_keyvault` or `kv_spawn`)."""
    nc = await nats.connect(kv_servers.nats_url)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(kv_servers.mongo_uri, tz_aware=True)
    try:
        yield Kv(nc=nc, keys=kv_keys, mongo=mongo, db="")
    finally:
        await nc.close()
        await mongo.close()


@pytest.fixture
async def kv_live(kv: Kv, kv_keyvault: KeyvaultProcess) -> Kv:
    """`kv`, pointed at the module's keyvault and its database."""
    kv.db = db_of(kv_keyvault)
    return kv


def db_of(process: KeyvaultProcess) -> str:
    return process.env["KEYRELAY_KEYVAULT_DB"]


def kek_env(keks: dict[str, bytes], primary: str, retired: list[str] | None = None) -> dict[str, str]:
    return {
        "KEYRELAY_KEYVAULT_KEKS": json.dumps({k: base64.b64encode(v).decode() for k, v in keks.items()}),
        "KEYRELAY_KEYVAULT_PRIMARY_KEK": primary,
        "KEYRELAY_KEYVAULT_RETIRED_KEKS": json.dumps(retired or []),
    }
