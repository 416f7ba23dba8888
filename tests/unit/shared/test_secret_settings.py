"""Key material and passwords in settings are `Secret`s: readable only through `reveal()`."""

from __future__ import annotations

import io
import os
from pathlib import Path

import msgspec
import pytest

from catalog.settings import CatalogSettings
from gateway.settings import GatewaySettings
from keyvault.settings import KeyvaultSettings, load_key_material
from shared.logging import configure_logging, get_logger
from shared.secret import Secret, secret_enc_hook
from shared.settings import CommonSettings, load_settings
from shared.vault.devkeys import generate_dev_keys

SECRET_NAMES = (
    "KEYRELAY_NATS_PASSWORD",
    "KEYRELAY_GATEWAY_SIGNING_KEY",
    "KEYRELAY_CATALOG_SIGNING_KEY",
    "KEYRELAY_KEYVAULT_KEKS",
    "KEYRELAY_KEYVAULT_PRIVATE_KEY",
)


def _env() -> dict[str, str]:
    env = generate_dev_keys()
    env["KEYRELAY_NATS_PASSWORD"] = "nats-password-never-shown"
    return env


def _secret_values(env: dict[str, str]) -> list[str]:
    values = [env[name] for name in SECRET_NAMES if name in env and not name.endswith("KEKS")]
    values += list(msgspec.json.decode(env["KEYRELAY_KEYVAULT_KEKS"]).values())
    return values


@pytest.mark.parametrize("cls", [CommonSettings, GatewaySettings, CatalogSettings, KeyvaultSettings])
def test_no_settings_object_prints_or_encodes_key_material_or_a_password(cls: type[CommonSettings]) -> None:
    env = _env()
    settings = load_settings(cls, env, env_file=Path(os.devnull))
    shown = [repr(settings), str(settings), msgspec.json.encode(settings, enc_hook=secret_enc_hook).decode()]
    for value in _secret_values(env):
        for text in shown:
            assert value not in text


def test_a_log_line_carrying_the_settings_shows_no_key_material() -> None:
    env = _env()
    settings = load_settings(KeyvaultSettings, env, env_file=Path(os.devnull))
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", cache=False, stream=stream)
    get_logger("test").info("settings.loaded", settings=settings, keks=settings.keyvault_keks)
    assert "settings.loaded" in stream.getvalue()
    for value in _secret_values(env):
        assert value not in stream.getvalue()


def test_the_key_material_is_still_there_for_the_one_reader_that_reveals_it() -> None:
    env = _env()
    settings = load_settings(KeyvaultSettings, env, env_file=Path(os.devnull))
    assert all(isinstance(v, Secret) for v in settings.keyvault_keks.values())
    assert isinstance(settings.keyvault_private_key, Secret)
    material = load_key_material(settings)
    assert material.primary in material.keks
    gateway = load_settings(GatewaySettings, env, env_file=Path(os.devnull))
    assert gateway.gateway_signing_key.reveal() == env["KEYRELAY_GATEWAY_SIGNING_KEY"]
    assert gateway.nats_password is not None
    assert gateway.nats_password.reveal() == env["KEYRELAY_NATS_PASSWORD"]
