"""How the `keyrelay` CLI finds an embedded stack: `<data dir>/stack.json`, written by `keyrelay up`.

The file (mode 0600: it holds the operator's NATS password) names the stack's NATS URL, the
operator credentials, the MongoDB URI, the gateway URL, the supervising process and the state of
every child. Commands that talk to a stack (`bootstrap`, `doctor`, `kek rotate`) read it when no
`KEYRELAY_NATS_URL` is given; explicit `KEYRELAY_NATS_*` / `KEYRELAY_MONGODB_URI` settings win.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import msgspec

from shared.secret import Secret, revealing_enc_hook, secret_dec_hook
from shared.settings import PREFIX, CommonSettings, read_env_file

FILE_NAME = "stack.json"
START_HINT = "start one with `./run up` (or `keyrelay up`) in this directory"


class NoStackError(Exception):
    """Nothing to talk to: no stack file under the data dir and no `KEYRELAY_NATS_URL`."""


class ChildState(msgspec.Struct, kw_only=True):
    pid: int = 0
    state: str = "running"  # running | restarting | stopped
    restarts: int = 0
    last_exit: str = ""
    log: str = ""


class StackFile(msgspec.Struct, kw_only=True):
    pid: int  # the `keyrelay up` process that supervises the stack
    data_dir: str
    gateway_url: str
    nats_url: str
    nats_user: str
    nats_password: Secret
    nats_tls_ca: str = ""  # the CA of a cluster's TLS (`just cluster`); empty: plain TCP
    mongodb_uri: str
    logs: str
    children: dict[str, ChildState] = {}


def path_in(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def write(data_dir: Path, info: StackFile) -> None:
    """Replace the file atomically, created with mode 0600."""
    target = path_in(data_dir)
    tmp = target.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(msgspec.json.format(msgspec.json.encode(info, enc_hook=revealing_enc_hook)))
    tmp.replace(target)


def remove(data_dir: Path, pid: int) -> None:
    """Remove the file if it still belongs to `pid`."""
    found = read(data_dir)
    if found is not None and found.pid == pid:
        path_in(data_dir).unlink(missing_ok=True)


def read(data_dir: Path) -> StackFile | None:
    try:
        return msgspec.json.decode(path_in(data_dir).read_bytes(), type=StackFile, dec_hook=secret_dec_hook)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # a zombie has exited: only its parent has not collected it yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def running(data_dir: Path) -> StackFile | None:
    """The stack file, if the process that wrote it is still alive."""
    found = read(data_dir)
    return found if found is not None and alive(found.pid) else None


def given_settings() -> dict[str, str]:
    """`KEYRELAY_*` values given in the environment or `.env` (the environment wins)."""
    given = read_env_file(Path(os.environ.get("KEYRELAY_ENV_FILE", ".env")))
    given.update(os.environ)
    return {k: v for k, v in given.items() if k.startswith(PREFIX)}


def discover(settings: CommonSettings) -> CommonSettings:
    """Settings for talking to a stack: explicit NATS settings, else the stack under the data dir.

    Raises `NoStackError` (one line: what to start or which settings to give) when neither exists.
    """
    explicit = given_settings()
    found = running(Path(settings.data_dir))
    if found is None:
        if "KEYRELAY_NATS_URL" in explicit:
            return settings
        where = Path(settings.data_dir).resolve()
        raise NoStackError(
            f"no Keyrelay stack is running with data dir {where}: {START_HINT}, "
            "or set KEYRELAY_DATA_DIR to its data dir, or give KEYRELAY_NATS_URL, "
            "KEYRELAY_NATS_USER and KEYRELAY_NATS_PASSWORD"
        )
    values: dict[str, Any] = {
        "nats_url": found.nats_url,
        "nats_user": found.nats_user,
        "nats_password": found.nats_password,
        "nats_tls_ca": found.nats_tls_ca,
        "mongodb_uri": found.mongodb_uri,
    }
    for name in list(values):
        if f"{PREFIX}{name.upper()}" in explicit:
            values[name] = getattr(settings, name)
    return msgspec.structs.replace(settings, **values)
