"""Save-time DNS check: a host is refused if ANY of its current answers is refused."""

from __future__ import annotations

import socket

import pytest

from shared.errors import KeyrelayError
from shared.netpolicy import AddressPolicy


class StubResolver:
    """Answers from a table; records what was asked. Never touches the network."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, object]]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError("no such host")
        return [{"host": address, "port": port} for address in self.table[host]]


async def test_a_host_whose_answers_are_all_public_passes() -> None:
    """Every answer is checked; public ones pass and are returned."""
    stub = StubResolver({"api.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    addresses = await AddressPolicy().check_host("api.example.com", stub)
    assert [str(a) for a in addresses] == ["93.184.216.34", "2606:2800:220:1::1"]


@pytest.mark.parametrize("bad", ["127.0.0.1", "169.254.169.254", "::1", "::ffff:10.0.0.1", "fd00::5"])
async def test_one_refused_answer_among_public_ones_refuses_the_host(bad: str) -> None:
    """A name resolving to a public and an internal address is refused as a whole."""
    stub = StubResolver({"mixed.example.com": ["93.184.216.34", bad]})
    with pytest.raises(KeyrelayError) as caught:
        await AddressPolicy().check_host("mixed.example.com", stub)
    assert caught.value.code == "upstream_not_allowed"
    assert bad not in caught.value.message


async def test_a_host_that_does_not_resolve_is_refused() -> None:
    """No answer (or a resolver error) is a refusal, not a pass."""
    with pytest.raises(KeyrelayError, match="does not resolve"):
        await AddressPolicy().check_host("nowhere.example.com", StubResolver({}))
    with pytest.raises(KeyrelayError, match="does not resolve"):
        await AddressPolicy().check_host("empty.example.com", StubResolver({"empty.example.com": []}))


async def test_an_exempt_host_is_not_resolved_at_all() -> None:
    """Operator-exempt names skip the lookup (their answers are trusted by the operator)."""
    stub = StubResolver({})
    assert await AddressPolicy(["fake.internal"]).check_host("fake.internal", stub) == []
    assert stub.asked == []


async def test_answers_inside_an_exempt_cidr_pass() -> None:
    """`127.0.0.1/32` in the allow list lets a name resolving there pass."""
    stub = StubResolver({"fake.test": ["127.0.0.1"]})
    await AddressPolicy(["127.0.0.1/32"]).check_host("fake.test", stub)


async def test_check_url_and_host_checks_the_url_then_resolves_its_host() -> None:
    """The full save-time check refuses a well-formed URL whose host resolves inside."""
    stub = StubResolver({"rebind.example.com": ["10.0.0.7"]})
    with pytest.raises(KeyrelayError):
        await AddressPolicy().check_url_and_host("https://rebind.example.com/v1", stub)
    assert stub.asked == ["rebind.example.com"]


async def test_check_url_and_host_does_not_resolve_literal_addresses() -> None:
    """A literal address is judged as written, without a lookup."""
    stub = StubResolver({})
    parsed = await AddressPolicy().check_url_and_host("https://8.8.8.8/v1", stub)
    assert str(parsed.literal_ip) == "8.8.8.8"
    assert stub.asked == []
