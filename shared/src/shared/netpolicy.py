"""Outbound address policy (SSRF defence): which URLs and addresses an upstream call may reach.

Two checks, one rule set:

* **Save time** (catalog, when a custom host or base URL is stored): `check_base_url` parses the
  URL strictly and `check_url_and_host` also resolves the host and refuses it if ANY answer is
  refused.
* **Connect time** (gateway, `gateway.outbound`): `check_ip` runs on every address the resolver
  returns and on every socket before it connects, so the address checked is the address used and
  a DNS answer that changes after the save-time check (rebinding) cannot slip through.

Refused addresses: loopback, private (RFC 1918), shared CGNAT space (100.64/10), link-local
(169.254/16 with the cloud metadata address, fe80::/10), multicast, unspecified, reserved,
benchmarking, documentation, unique-local (fc00::/7), site-local (fec0::/10), and IPv6 forms that
embed a refused IPv4 address (mapped, compatible, SIIT, NAT64, 6to4, Teredo). Every IPv4 spelling a
resolver accepts (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`) is recognised as the address it
means. Operators exempt hosts, `*.suffix` wildcards or CIDRs with `KEYRELAY_UPSTREAM_ALLOW`; an
exempt host may also use plain `http`.

Messages say what is wrong with the URL the user gave, never what an internal name resolved to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

from shared.errors import KeyrelayError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH: Final = 2048
NetworkT = TypeVar("NetworkT", ipaddress.IPv4Network, ipaddress.IPv6Network)


def _networks(network: type[NetworkT], *rows: tuple[str, str]) -> tuple[tuple[NetworkT, str], ...]:
    """A table of (network, what it is) from its rows of (CIDR, what it is)."""
    return tuple((network(cidr), what) for cidr, what in rows)


_V4_REFUSED: Final = _networks(
    ipaddress.IPv4Network,
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_V6_REFUSED: Final = _networks(
    ipaddress.IPv6Network,
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "reserved"),
    ("100::/64", "reserved"),
    ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
_V6_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")
# IPv6 prefixes whose low 32 bits ARE an IPv4 address: that address alone decides.
_V6_LOW32_FORMS: Final = _networks(
    ipaddress.IPv6Network,
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("::ffff:0:0:0/96", "IPv4-translated"),
    ("64:ff9b::/96", "NAT64"),
    ("::/96", "IPv4-compatible"),
)
_REFUSED_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "metadata", "metadata.google.internal"})
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0[x][0-9a-f]*)$")
_V4_PART = re.compile(r"^(?:0[x][0-9a-f]*|0[0-7]*|[1-9][0-9]*)$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_FORBIDDEN_URL_CHARS: Final = frozenset('\\#<>"{}|^` \t\r\n\x00')


def _refused(message: str, param: str) -> KeyrelayError:
    return KeyrelayError("upstream_not_allowed", message, param=param)


# --- addresses -----------------------------------------------------------------------------------
def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a resolver would read from `host`, in any legacy spelling, else None.

    Follows the WHATWG URL IPv4 parser: 1-4 dot-separated parts, each decimal, octal (leading 0) or
    hex (`0x`); the last part fills the remaining bytes. `127.1`, `0x7f.1`, `0177.0.0.1` and
    `2130706433` all mean 127.0.0.1.
    """
    parts = host.lower().removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(_V4_PART.fullmatch(p) for p in parts):
        return None
    values = [_ipv4_part(p) for p in parts]
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for value in head:
        number = number * 256 + value
    return ipaddress.IPv4Address(number * 256 ** (5 - len(values)) + last)


def _ipv4_part(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """Every IPv4 address an IPv6 address carries, with the name of the form that carries it."""
    found: list[tuple[str, ipaddress.IPv4Address]] = [
        (form, ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)) for net, form in _V6_LOW32_FORMS if ip in net
    ]
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        found += [("Teredo", server), ("Teredo", client)]
    return found


def refusal_reason(ip: IPAddress) -> str | None:
    """Why an address may not be an upstream (`"loopback"`, `"private"`, ...), or None if it may."""
    if isinstance(ip, ipaddress.IPv4Address):
        return next((why for net, why in _V4_REFUSED if ip in net), None)
    if ip.scope_id:
        return "scoped"
    plain = ipaddress.IPv6Address(int(ip))
    if int(plain) <= 1:
        return "loopback" if int(plain) else "unspecified"
    embedded = embedded_ipv4(plain)
    for form, inner in embedded:
        reason = refusal_reason(inner)
        if reason is not None:
            return f"{reason} ({form})"
    if any(plain in net for net, _ in _V6_LOW32_FORMS):
        return None
    reason = next((why for net, why in _V6_REFUSED if plain in net), None)
    if reason is None and plain not in _V6_GLOBAL_UNICAST:
        reason = "reserved"
    return reason


def to_ip(value: IPAddress | str) -> IPAddress:
    """An address object from an address or its text (IPv6 zone ids kept, so they are refused)."""
    return value if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address) else ipaddress.ip_address(value)


# --- hosts and URLs ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ParsedUrl:
    """A URL as the policy read it: lower-case host without brackets or trailing dot."""

    scheme: str
    host: str
    port: int
    literal_ip: IPAddress | None
    path: str
    query: str


def parse_host(raw: str, param: str = "base_url") -> tuple[str, IPAddress | None]:
    """`(host, literal address or None)` from a URL's host part, strictly; raise if malformed.

    Bracketed text must be an IPv6 address without a zone; a name must be ASCII LDH labels (with
    `_`), at most 253 characters; a name whose last label is numeric must be an IPv4 address
    (`1.2.3.4.5` and `example.123` are refused, as browsers refuse them).
    """
    host = raw.lower()
    if "%" in host:
        raise _refused("upstream URL host must not be percent-encoded or carry a zone", param)
    if host.startswith("[") and host.endswith("]"):
        try:
            return host[1:-1], ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise _refused("upstream URL has a malformed IPv6 address", param) from None
    name = host.removesuffix(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise _refused("upstream URL has a malformed host name", param)
    literal = parse_ipv4(name)
    if literal is None and _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        raise _refused("upstream URL has a malformed IPv4 address", param)
    return name, literal


def _split_netloc(netloc: str, default_port: int, param: str) -> tuple[str, int]:
    if "@" in netloc:
        raise _refused("upstream URL must not contain user information", param)
    if netloc.startswith("["):
        host, closed, rest = netloc.partition("]")
        host += closed
        if not closed or (rest and not rest.startswith(":")):
            raise _refused("upstream URL has a malformed host", param)
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text_raw = netloc.partition(":")
        port_text = port_text_raw if sep else None
    if port_text is None:
        return host, default_port
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise _refused("upstream URL has an invalid port", param)
    return host, int(port_text)


def split_url(url: str, param: str = "base_url") -> ParsedUrl:
    """Parse an absolute http(s) URL strictly, or raise `upstream_not_allowed` naming what is wrong.

    Refused outright: non-ASCII, whitespace, control characters, backslashes and fragments (the
    characters parsers disagree on), user information (`https://good.com@127.0.0.1/`) and ports
    outside 1-65535.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or not url.isascii():
        raise _refused("upstream URL must be an ASCII URL of at most 2048 characters", param)
    if any(c in _FORBIDDEN_URL_CHARS or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise _refused("upstream URL contains a character that is not allowed (fragment, space, backslash)", param)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("https", "http"):
        raise _refused("upstream URL must be an absolute https URL", param)
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    raw_host, port = _split_netloc(netloc, 443 if scheme == "https" else 80, param)
    host, literal = parse_host(raw_host, param)
    path, _, query = tail.partition("?")
    return ParsedUrl(scheme=scheme, host=host, port=port, literal_ip=literal, path=path, query=query)


# --- resolution ----------------------------------------------------------------------------------
class HostResolver(Protocol):
    """What `check_host` needs; aiohttp's `AbstractResolver` has this shape."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> Sequence[Mapping[str, object]]:
        """Answers for `host`, each a mapping with the address text under `"host"`."""
        ...


class SystemResolver:
    """The operating system's resolver (`getaddrinfo`), all families."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[dict[str, object]]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        return [{"hostname": host, "host": str(info[4][0]), "port": port, "family": info[0]} for info in infos]


# --- the policy ----------------------------------------------------------------------------------
_APPROVED_MAX = 4096


class AddressPolicy:
    """The refusal rules plus the operator's exemptions (`KEYRELAY_UPSTREAM_ALLOW`)."""

    def __init__(self, allow: Iterable[str] = (), *, allow_http: bool = False) -> None:
        self.allow_http = allow_http
        self._approved: dict[str, ParsedUrl] = {}
        self._hosts: set[str] = set()
        self._suffixes: list[str] = []
        self._nets: list[IPNetwork] = []
        for raw in allow:
            self._add_exemption(raw.strip().lower())

    def _add_exemption(self, entry: str) -> None:
        if not entry:
            return
        try:
            self._nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            return
        except ValueError:
            pass
        try:
            host, literal = parse_host(entry.removeprefix("*."))
        except KeyrelayError:
            raise ValueError(f"KEYRELAY_UPSTREAM_ALLOW: {entry!r} is neither a host name nor a CIDR") from None
        if literal is not None:
            self._nets.append(ipaddress.ip_network(literal))
        elif entry.startswith("*."):
            self._suffixes.append(host)
        else:
            self._hosts.add(host)

    @classmethod
    def from_settings(cls, allow: str | Iterable[str], *, allow_http: bool = False) -> AddressPolicy:
        """From the settings value: a comma, semicolon or space separated list (or a list)."""
        entries = allow.replace(";", ",").replace(" ", ",").split(",") if isinstance(allow, str) else allow
        return cls([e for e in entries if e.strip()], allow_http=allow_http)

    def is_exempt_host(self, host: str) -> bool:
        name = host.lower().removesuffix(".")
        return name in self._hosts or any(name.endswith("." + suffix) for suffix in self._suffixes)

    def is_exempt_ip(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self._nets)

    def is_exempt(self, parsed: ParsedUrl) -> bool:
        return self.is_exempt_host(parsed.host) or (
            parsed.literal_ip is not None and self.is_exempt_ip(parsed.literal_ip)
        )

    def check_ip(self, ip: IPAddress | str, host: str = "", *, param: str = "base_url") -> IPAddress:
        """Raise `upstream_not_allowed` unless `ip` may be connected to (exemptions apply)."""
        try:
            address = to_ip(ip)
        except ValueError:
            raise _refused("upstream resolves to a malformed address", param) from None
        if self.is_exempt_ip(address) or (host and self.is_exempt_host(host)):
            return address
        reason = refusal_reason(address)
        if reason is not None:
            raise _refused(f"upstream address is not allowed ({reason})", param)
        return address

    def check_url(self, url: str, *, param: str = "base_url") -> ParsedUrl:
        """Any upstream URL (queries allowed): scheme, shape, and a literal address if there is one.

        The verdict depends on the URL string and the (immutable) policy only, so approved URLs are
        remembered (bounded): the hot path re-checks the same few upstream URLs on every request.
        Refusals are not cached. DNS answers are not covered here: sockets are checked at connect.
        """
        cached = self._approved.get(url)
        if cached is not None:
            return cached
        parsed = self._check_url(url, param)
        if len(self._approved) >= _APPROVED_MAX:
            self._approved.clear()
        self._approved[url] = parsed
        return parsed

    def _check_url(self, url: str, param: str) -> ParsedUrl:
        parsed = split_url(url, param)
        exempt = self.is_exempt(parsed)
        if parsed.scheme != "https" and not (exempt or self.allow_http):
            raise _refused("upstream URL must use https", param)
        if exempt:
            return parsed
        if parsed.literal_ip is not None:
            self.check_ip(parsed.literal_ip, param=param)
        elif parsed.host in _REFUSED_NAMES or parsed.host.endswith(".localhost"):
            raise _refused("upstream address is not allowed (loopback or metadata name)", param)
        return parsed

    def check_base_url(self, url: str, *, param: str = "base_url") -> ParsedUrl:
        """A base URL to store: as `check_url`, and without a query (adapters append paths)."""
        parsed = self.check_url(url, param=param)
        if parsed.query or url.endswith("?"):
            raise _refused("upstream base URL must not contain a query", param)
        return parsed

    async def check_host(
        self, host: str, resolver: HostResolver | None = None, *, port: int = 443, param: str = "base_url"
    ) -> list[IPAddress]:
        """Resolve `host` now and refuse it if ANY answer is refused (or there is none)."""
        name, literal = parse_host(host, param)
        if literal is not None:
            return [self.check_ip(literal, param=param)]
        if self.is_exempt_host(name):
            return []
        try:
            answers = await (resolver or SystemResolver()).resolve(name, port, socket.AF_UNSPEC)
        except OSError:
            raise _refused("upstream host does not resolve", param) from None
        if not answers:
            raise _refused("upstream host does not resolve", param)
        return [self.check_ip(str(answer["host"]), name, param=param) for answer in answers]

    async def check_url_and_host(
        self, url: str, resolver: HostResolver | None = None, *, param: str = "base_url"
    ) -> ParsedUrl:
        """Save-time check of a base URL: its shape, then every address its host resolves to now."""
        parsed = self.check_base_url(url, param=param)
        if parsed.literal_ip is None and not self.is_exempt_host(parsed.host):
            await self.check_host(parsed.host, resolver, port=parsed.port, param=param)
        return parsed
