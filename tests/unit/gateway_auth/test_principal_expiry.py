"""The check the gateway runs on every API-key cache hit (issue 10, item 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from gateway.catalog_client import expired
from shared.messages import catalog as m

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
KEY = m.ApiKeyPrincipal(api_key_id="key_1", org_id="org_1", project_id="prj_a")


def test_a_key_without_expiry_never_expires() -> None:
    assert not expired(KEY, NOW)


def test_a_key_is_expired_from_its_expiry_instant_on() -> None:
    assert not expired(msgspec.structs.replace(KEY, expires_at=NOW + timedelta(seconds=1)), NOW)
    assert expired(msgspec.structs.replace(KEY, expires_at=NOW), NOW)


def test_a_naive_expiry_is_read_as_utc() -> None:
    naive = (NOW - timedelta(seconds=1)).replace(tzinfo=None)
    assert expired(msgspec.structs.replace(KEY, expires_at=naive), NOW)
    assert not expired(msgspec.structs.replace(KEY, expires_at=naive + timedelta(seconds=2)), NOW)
