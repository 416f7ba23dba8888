"""How the CLI finds a stack: the data dir's stack file, unless explicit settings say otherwise."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shared import connection
from shared.secret import REDACTED, Secret
from shared.settings import CommonSettings, load_settings


def _write(data_dir: Path, pid: int) -> None:
    connection.write(
        data_dir,
        connection.StackFile(
            pid=pid,
            data_dir=str(data_dir),
            gateway_url="http://127.0.0.1:18080",
            nats_url="nats://127.0.0.1:14222",
            nats_user="operator",
            nats_password=Secret("from-the-file"),
            mongodb_uri="mongodb://127.0.0.1:17017/",
            logs=str(data_dir / "logs"),
        ),
    )


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("KEYRELAY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEYRELAY_ENV_FILE", os.devnull)
    monkeypatch.setenv("KEYRELAY_DATA_DIR", str(tmp_path))
    return tmp_path


def test_the_stack_file_of_a_live_stack_gives_the_nats_url_and_operator_credentials(settings_env: Path) -> None:
    _write(settings_env, os.getpid())
    assert stat.S_IMODE(connection.path_in(settings_env).stat().st_mode) == 0o600
    found = connection.discover(load_settings(CommonSettings))
    assert (found.nats_url, found.nats_user, found.nats_password) == (
        "nats://127.0.0.1:14222",
        "operator",
        Secret("from-the-file"),
    )
    assert found.mongodb_uri == "mongodb://127.0.0.1:17017/"


def test_explicit_nats_settings_win_over_the_stack_file(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(settings_env, os.getpid())
    monkeypatch.setenv("KEYRELAY_NATS_URL", "nats://10.0.0.5:4222")
    monkeypatch.setenv("KEYRELAY_NATS_PASSWORD", "given")
    found = connection.discover(load_settings(CommonSettings))
    assert (found.nats_url, found.nats_user, found.nats_password) == (
        "nats://10.0.0.5:4222",
        "operator",
        Secret("given"),
    )


def test_the_operator_password_is_in_the_stack_file_but_never_in_the_settings_repr(settings_env: Path) -> None:
    _write(settings_env, os.getpid())
    assert "from-the-file" in connection.path_in(settings_env).read_text()
    found = connection.discover(load_settings(CommonSettings))
    assert "from-the-file" not in repr(found)
    assert REDACTED in repr(found)
    assert "from-the-file" not in repr(connection.read(settings_env))


def test_a_stack_file_left_by_a_dead_process_is_ignored(settings_env: Path) -> None:
    _write(settings_env, 2**22 + 1)  # above the kernel's pid_max default: no such process
    with pytest.raises(connection.NoStackError, match="no Keyrelay stack is running"):
        connection.discover(load_settings(CommonSettings))


def test_with_only_an_explicit_nats_url_there_is_no_stack_file_needed(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYRELAY_NATS_URL", "nats://10.0.0.5:4222")
    assert connection.discover(load_settings(CommonSettings)).nats_url == "nats://10.0.0.5:4222"
    assert not connection.path_in(settings_env).exists()
