"""The logging chain never prints a secret: not as a field, not as a Secret, not in a traceback."""

from __future__ import annotations

import io

import pytest

from shared.logging import configure_logging, get_logger
from shared.secret import Secret, without_credentials


@pytest.fixture
def logs() -> io.StringIO:
    """The service logging chain, JSON at DEBUG, written where the test can read it."""
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", cache=False, stream=stream)
    return stream


def _boom(password: str) -> None:
    local_copy = f"copy-{password}"
    raise ValueError(f"failed with {len(local_copy)} chars")


def test_tracebacks_never_include_frame_locals(logs: io.StringIO) -> None:
    """A crash inside a function holding a key logs the traceback without the key."""
    try:
        _boom("sk-canary-traceback-0123456789")
    except ValueError as exc:
        get_logger().error("crashed", exc_info=exc)
    err = logs.getvalue()
    assert "crashed" in err
    assert "ValueError" in err
    assert "canary-traceback" not in err


def test_secret_values_and_secret_named_fields_are_redacted(logs: io.StringIO) -> None:
    """A `Secret` anywhere and any field named like a credential render as `[redacted]`."""
    get_logger().info(
        "event",
        key=Secret("sk-canary-secret-0123"),
        api_key="sk-canary-named-0123",
        nested={"authorization": "Bearer sk-canary-nested-0123"},
        api_key_id="key_visible",
    )
    err = logs.getvalue()
    assert "canary" not in err
    assert "key_visible" in err
    assert "[redacted]" in err


def test_a_secret_never_reveals_itself_by_accident() -> None:
    """repr, str and format of a Secret are redacted; only reveal() returns the value."""
    secret = Secret("sk-canary-repr-0123")
    assert "canary" not in repr(secret) + str(secret) + f"{secret}"
    assert secret.reveal() == "sk-canary-repr-0123"


def test_a_url_is_shown_without_the_credentials_it_carries() -> None:
    shown = without_credentials("nats://operator:hunter2-secret@10.0.0.5:4222,nats://10.0.0.6:4222")
    assert "hunter2-secret" not in shown
    assert "operator" not in shown
    assert shown == "nats://[redacted]@10.0.0.5:4222,nats://10.0.0.6:4222"
    assert without_credentials("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
