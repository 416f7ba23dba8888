"""Save-time URL checks: strict parsing, https only, exemptions from the operator's allow list."""

from __future__ import annotations

import pytest

from shared.errors import KeyrelayError
from shared.netpolicy import AddressPolicy, split_url


def refused(policy: AddressPolicy, url: str) -> KeyrelayError:
    with pytest.raises(KeyrelayError) as caught:
        policy.check_base_url(url)
    assert caught.value.code == "upstream_not_allowed"
    return caught.value


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/v1",
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://0x7f.1/",
        "https://127.1/",
        "https://0x7f000001:8443/",
        "https://127.0.0.1./",
        "https://169.254.169.254/latest/meta-data/",
        "https://0/",
        "https://0.0.0.0/",
        "https://10.0.0.1/",
        "https://100.64.1.1/",
        "https://[::1]/",
        "https://[::]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[2002:7f00:1::]/",
        "https://[fe80::1]/",
        "https://[fd00::1]/",
        "https://localhost/",
        "https://LOCALHOST./",
        "https://api.localhost/",
        "https://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_urls_pointing_at_refused_addresses_are_refused_in_every_spelling(url: str) -> None:
    """Literal refused addresses, however encoded, and loopback/metadata names are refused at save time."""
    refused(AddressPolicy(), url)


@pytest.mark.parametrize(
    "url",
    [
        "https://good.com@127.0.0.1/",
        "https://user:pass@api.openai.com/v1",
        "https://good.com%40127.0.0.1/",
        "https://127.0.0.1#@good.com/",
        "https://good.com#@127.0.0.1/",
        "https://good.com\\@127.0.0.1/",
        "https://good.com\\.127.0.0.1/",
        "https://api.openai.com/v1#frag",
        "https://api.openai.com /v1",
        "https://api.openai.com/v1\r\nHost: x",
        "https://api.openai.com\x00.evil.com/",
        "https://\u0430pi.openai.com/v1",
        "https://api.openai.com:0/",
        "https://api.openai.com:65536/",
        "https://api.openai.com:+443/",
        "https://api.openai.com:443:80/",
        "https://[::1/",
        "https://[::1]x/",
        "https://[fe80::1%25eth0]/",
        "https://1.2.3.4.5/",
        "https://example.123/",
        "https://-bad-.example.com/",
        "https:///path",
        "https:api.openai.com",
        "ftp://api.openai.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_",
        "//api.openai.com/v1",
        "https://api.openai.com/v1?x=1",
        "",
    ],
)
def test_malformed_or_ambiguous_urls_are_refused(url: str) -> None:
    """Userinfo, fragments, backslashes, odd ports, non-ASCII hosts and non-http schemes never pass."""
    refused(AddressPolicy(allow_http=True), url)


def test_userinfo_trick_is_refused_even_when_the_real_host_is_public() -> None:
    """`https://a@b/` is refused outright: parsers disagree on which side is the host."""
    error = refused(AddressPolicy(), "https://127.0.0.1@api.openai.com/")
    assert "user information" in error.message


def test_plain_http_is_refused_unless_allowed() -> None:
    """Base URLs must be https unless the operator allows http or exempts the host."""
    refused(AddressPolicy(), "http://api.openai.com/v1")
    assert AddressPolicy(allow_http=True).check_base_url("http://api.openai.com/v1").scheme == "http"


def test_a_public_https_base_url_is_parsed_into_its_parts() -> None:
    """Host is lower-cased, the default port filled in, and no literal address is reported."""
    parsed = AddressPolicy().check_base_url("https://API.OpenAI.com/v1")
    assert (parsed.scheme, parsed.host, parsed.port, parsed.literal_ip, parsed.path) == (
        "https",
        "api.openai.com",
        443,
        None,
        "/v1",
    )


def test_request_urls_may_carry_a_query_but_base_urls_may_not() -> None:
    """Adapters add `?alt=sse` or `api-version`; a stored base URL has no query."""
    policy = AddressPolicy()
    assert policy.check_url("https://generativelanguage.googleapis.com/v1beta/models/m:x?alt=sse").query == "alt=sse"
    refused(policy, "https://api.openai.com/v1?")


def test_allow_list_cidr_exempts_loopback_and_permits_http_for_it() -> None:
    """`KEYRELAY_UPSTREAM_ALLOW=127.0.0.1/32` lets tests and demos use a local fake over http."""
    policy = AddressPolicy.from_settings("127.0.0.1/32")
    parsed = policy.check_base_url("http://127.0.0.1:8081/openai/v1")
    assert (parsed.host, parsed.port, str(parsed.literal_ip)) == ("127.0.0.1", 8081, "127.0.0.1")
    policy.check_base_url("http://2130706433:8081/")
    refused(policy, "http://127.0.0.2:8081/")
    refused(policy, "http://10.0.0.1/")


def test_allow_list_host_names_and_wildcards_are_exempt() -> None:
    """Exact host names and `*.suffix` entries exempt those names (and their DNS answers)."""
    policy = AddressPolicy.from_settings("fake.internal, *.corp.example;localhost")
    policy.check_base_url("http://fake.internal:9000/v1")
    policy.check_base_url("http://llm.corp.example/v1")
    policy.check_base_url("http://localhost:8080/")
    policy.check_ip("10.1.1.1", "gpu.corp.example")
    refused(policy, "http://corp.example/")
    with pytest.raises(KeyrelayError):
        policy.check_ip("10.1.1.1", "other.example")


def test_an_unparseable_allow_list_entry_fails_at_start_up() -> None:
    """A typo in `KEYRELAY_UPSTREAM_ALLOW` is a start-up error naming the entry."""
    with pytest.raises(ValueError, match="not/a host"):
        AddressPolicy(["not/a host"])


def test_ipv6_literal_hosts_lose_their_brackets() -> None:
    """`[2606:4700::1111]` is a literal address, checked like any other."""
    parsed = split_url("https://[2606:4700::1111]:8443/v1")
    assert (parsed.host, parsed.port, str(parsed.literal_ip)) == ("2606:4700::1111", 8443, "2606:4700::1111")
