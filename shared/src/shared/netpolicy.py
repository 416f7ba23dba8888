"""Outbound address policy (SSRF): where a user-supplied URL may point.

Checked when a URL is saved and again at connect time (the gateway's resolver applies
`check_ip` to every address it is about to connect to, so a DNS answer that changes between the
two checks cannot slip through). Refused: non-https (unless the host is allowed), userinfo,
loopback, private, CGNAT, link-local (incl. cloud metadata), multicast, unspecified, reserved and
documentation ranges, and IPv6 forms embedding such an IPv4. Operators exempt hosts or CIDRs with
`KEYRELAY_UPSTREAM_ALLOW`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import KeyrelayError

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_EXTRA_BLOCKED = [ipaddress.ip_network(n) for n in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "0.0.0.0/8")]


def _refused(message: str) -> KeyrelayError:
    return KeyrelayError("upstream_not_allowed", message, param="base_url")


def parse_ipv4_loose(host: str) -> ipaddress.IPv4Address | None:
    """Recognise every IPv4 spelling resolvers accept: 127.1, 0x7f.1, 0177.0.0.1, 2130706433."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    values: list[int] = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                values.append(int(part, 16))
            elif len(part) > 1 and part.startswith("0"):
                values.append(int(part, 8))
            else:
                values.append(int(part, 10))
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (5 - len(values)) + last
    return ipaddress.IPv4Address(number) if number < 2**32 else None


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96") or ip in ipaddress.ip_network("::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IP) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and not is_public(inner):
            return False
    if any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return False
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified or getattr(ip, "is_site_local", False))


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    scheme: str
    host: str
    port: int
    literal_ip: IP | None


class AddressPolicy:
    def __init__(self, allow: list[str] | None = None, *, allow_http: bool = False) -> None:
        self._hosts: set[str] = set()
        self._nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow or []:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self._nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._hosts.add(entry)
        self.allow_http = allow_http

    @classmethod
    def from_settings(cls, allow: str, *, allow_http: bool = False) -> AddressPolicy:
        return cls([x for x in allow.replace(";", ",").split(",") if x.strip()], allow_http=allow_http)

    def host_allowed(self, host: str) -> bool:
        return host.lower() in self._hosts

    def ip_allowed(self, ip: IP) -> bool:
        return any(ip in net for net in self._nets if net.version == ip.version)

    def exempt(self, parsed: ParsedUrl) -> bool:
        return self.host_allowed(parsed.host) or (parsed.literal_ip is not None and self.ip_allowed(parsed.literal_ip))

    def check_url(self, url: str) -> ParsedUrl:
        if not isinstance(url, str) or len(url) > 2048 or any(c in url for c in "\r\n\t\x00 \\"):
            raise _refused("upstream URL is malformed")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise _refused("upstream URL must be an absolute https URL")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise _refused("upstream URL must not contain user information")
        if parts.query or parts.fragment:
            raise _refused("upstream base URL must not contain a query or fragment")
        host = parts.hostname.rstrip(".").lower()
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise _refused("upstream URL has an invalid port") from None
        literal: IP | None
        try:
            literal = ipaddress.ip_address(host.strip("[]").split("%")[0])
        except ValueError:
            literal = parse_ipv4_loose(host)
        parsed = ParsedUrl(parts.scheme, host, port, literal)
        exempt = self.exempt(parsed)
        if parts.scheme != "https" and not (exempt or self.allow_http):
            raise _refused("upstream URL must use https")
        if literal is not None and not exempt and not is_public(literal):
            raise _refused("upstream address is not allowed (private, loopback, link-local or reserved)")
        if literal is None and host in ("localhost",) and not exempt:
            raise _refused("upstream address is not allowed (loopback)")
        return parsed

    def check_ip(self, ip: IP, host: str = "") -> None:
        if (host and self.host_allowed(host)) or self.ip_allowed(ip):
            return
        if not is_public(ip):
            raise _refused("upstream resolves to an address that is not allowed")

    async def check_url_and_host(self, url: str) -> ParsedUrl:
        """Save-time check: the URL, then every address its host resolves to now."""
        parsed = self.check_url(url)
        if parsed.literal_ip is not None or self.host_allowed(parsed.host):
            return parsed
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(parsed.host, parsed.port, type=socket.SOCK_STREAM)
        except OSError:
            raise _refused("upstream host does not resolve") from None
        for info in infos:
            self.check_ip(ipaddress.ip_address(str(info[4][0]).split("%")[0]), parsed.host)
        return parsed
