"""Custom header rules (`shared.vault.rules`, applied by keyvault to values and by catalog to names): RFC 7230
names, nothing HTTP or Keyrelay controls, single-line values."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.vault.rules import validate_custom_headers, validate_header_names


def refused(headers: dict[str, object], *, custom_host: bool = False) -> KeyrelayError:
    with pytest.raises(KeyrelayError) as caught:
        validate_custom_headers(headers, custom_host=custom_host)
    assert (caught.value.code, caught.value.param) == ("invalid_header", "custom_headers")
    return caught.value


def test_ordinary_custom_headers_pass_with_lower_cased_names() -> None:
    """Vendor extras such as OpenAI-Organization are allowed and normalised."""
    assert validate_custom_headers({"OpenAI-Organization": "org-1", "anthropic-beta": "a,b", "X-Team": "x\ty"}) == {
        "openai-organization": "org-1",
        "anthropic-beta": "a,b",
        "x-team": "x\ty",
    }


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "keep-alive",
        "Proxy-Authorization",
        "proxy-foo",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
        "Cookie",
        "Set-Cookie",
        "X-Keyrelay-Config",
        "Sec-Fetch-Mode",
        "X-Forwarded-For",
        "Content-Type",
    ],
)
def test_headers_http_or_keyrelay_controls_are_refused(name: str) -> None:
    """Hop-by-hop, framing, cookie and Keyrelay's own headers cannot be set."""
    error = refused({name: "v"}, custom_host=True)
    assert name.lower() in error.message


@pytest.mark.parametrize("name", ["Authorization", "x-api-key", "api-key", "x-goog-api-key"])
def test_auth_headers_are_only_for_custom_hosts(name: str) -> None:
    """Known providers get their credential from Keyrelay; custom hosts may bring their own auth."""
    refused({name: "Bearer abc"})
    assert validate_custom_headers({name: "Bearer abc"}, custom_host=True) == {name.lower(): "Bearer abc"}


@pytest.mark.parametrize("name", ["bad header", "bad:header", "x\r\ny", "", "ü-header", "x" * 65, "(x)"])
def test_names_that_are_not_rfc7230_tokens_are_refused(name: str) -> None:
    """Spaces, separators, control characters and non-ASCII make no header name."""
    refused({name: "v"})


@pytest.mark.parametrize("value", ["line\r\nX-Injected: 1", "a\nb", "nul\x00", "del\x7f", "ünïcode", 5, "x" * 8193])
def test_invalid_values_are_refused_without_echoing_them(value: object) -> None:
    """Header injection and oversized values are refused; the message names the header, not the value."""
    error = refused({"X-Secret-Token": value})
    assert "x-secret-token" in error.message
    assert str(value)[:8] not in error.message


def test_duplicate_names_differing_in_case_are_refused() -> None:
    """`X-A` and `x-a` would be one header upstream."""
    refused({"X-A": "1", "x-a": "2"})


def test_too_many_headers_are_refused() -> None:
    """At most 32 custom headers."""
    refused({f"x-h{i}": "v" for i in range(33)})


def test_header_names_alone_can_be_checked_for_the_catalog_side() -> None:
    """Catalog never sees values: names are checked and returned sorted, lower-cased."""
    assert validate_header_names(["X-B", "x-a"]) == ["x-a", "x-b"]
    with pytest.raises(KeyrelayError):
        validate_header_names(["authorization"])
    assert validate_header_names(["authorization"], custom_host=True) == ["authorization"]
