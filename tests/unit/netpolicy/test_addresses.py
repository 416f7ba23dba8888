"""Which addresses an upstream may have: every refused range, every spelling of it."""

from __future__ import annotations

import ipaddress

import pytest

from shared.errors import KeyrelayError
from shared.netpolicy import AddressPolicy, parse_ipv4, refusal_reason

REFUSED_V4 = {
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "172.31.255.255": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "shared address space",
    "100.127.255.254": "shared address space",
    "169.254.169.254": "link-local",
    "0.0.0.0": "unspecified",
    "0.1.2.3": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.0.8": "reserved",
    "192.0.2.10": "documentation",
    "198.51.100.7": "documentation",
    "203.0.113.9": "documentation",
    "198.18.0.1": "benchmarking",
}
REFUSED_V6 = {
    "::": "unspecified",
    "::1": "loopback",
    "fe80::1": "link-local",
    "febf:ffff::1": "link-local",
    "fc00::1": "unique-local",
    "fd12:3456::1": "unique-local",
    "fec0::1": "site-local",
    "ff02::1": "multicast",
    "2001:db8::1": "documentation",
    "3fff::1": "documentation",
    "100::1": "reserved",
    "64:ff9b:1::1": "reserved",
    "5f00::1": "reserved",
    "::ffff:127.0.0.1": "loopback (IPv4-mapped)",
    "::ffff:7f00:1": "loopback (IPv4-mapped)",
    "::ffff:169.254.169.254": "link-local (IPv4-mapped)",
    "::ffff:0:10.0.0.1": "private (IPv4-translated)",
    "::127.0.0.1": "loopback (IPv4-compatible)",
    "64:ff9b::7f00:1": "loopback (NAT64)",
    "64:ff9b::a9fe:a9fe": "link-local (NAT64)",
    "2002:7f00:1::1": "loopback (6to4)",
    "2002:c0a8:101::1": "private (6to4)",
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "loopback (Teredo)",
}
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "reason"), sorted(REFUSED_V4.items()))
def test_every_refused_ipv4_range_is_refused_with_its_reason(address: str, reason: str) -> None:
    """Loopback, private, CGNAT, link-local, multicast, reserved and documentation IPv4 are refused."""
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(("address", "reason"), sorted(REFUSED_V6.items()))
def test_every_refused_ipv6_form_is_refused_with_its_reason(address: str, reason: str) -> None:
    """IPv6 special ranges and IPv6 forms embedding a refused IPv4 address are refused."""
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    """Global unicast addresses, and IPv6 forms embedding a public IPv4, pass."""
    assert refusal_reason(ipaddress.ip_address(address)) is None
    AddressPolicy().check_ip(address)


def test_a_scoped_ipv6_address_is_refused() -> None:
    """An address with a zone id only makes sense on a local link."""
    assert refusal_reason(ipaddress.IPv6Address("2606:4700::1%eth0")) == "scoped"


@pytest.mark.parametrize(
    "spelling",
    [
        "2130706433",
        "0177.0.0.1",
        "0x7f.1",
        "127.1",
        "0x7f000001",
        "017700000001",
        "0x7F.0.0.1",
        "127.0.0.1.",
        "0177.0.1",
        "127.0x0.0.01",
        "0x7f.0x00.0x00.0x01",
    ],
)
def test_every_legacy_ipv4_spelling_of_loopback_is_read_as_loopback(spelling: str) -> None:
    """Decimal, octal, hex and short forms are parsed the way resolvers and browsers read them."""
    assert parse_ipv4(spelling) == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    "text",
    [
        "example.com",
        "1.2.3.4.5",
        "256.0.0.1",
        "4294967296",
        "1..2",
        "0x1g",
        "1_0.0.0.1",
        "+1.0.0.1",
        " 127.0.0.1",
        "08.0.0.1",
    ],
)
def test_text_that_is_not_an_ipv4_spelling_is_not_read_as_one(text: str) -> None:
    """Out-of-range numbers, separators, signs and non-octal digits never become an address."""
    assert parse_ipv4(text) is None


def test_check_ip_raises_a_stable_code_and_never_names_the_address() -> None:
    """The refusal is `upstream_not_allowed`, and the message gives the category, not the IP."""
    with pytest.raises(KeyrelayError) as caught:
        AddressPolicy().check_ip("10.9.8.7")
    assert caught.value.code == "upstream_not_allowed"
    assert "10.9.8.7" not in str(caught.value)
    assert "private" in str(caught.value)
