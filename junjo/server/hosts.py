"""Which ``Host`` names this server answers to: the guard against DNS rebinding and
Host-header injection.

A browser puts the name it looked up in ``Host``. A page on evil.example whose DNS record is
re-pointed at 127.0.0.1 reaches this server as a same-origin page with ``Host: evil.example``;
refusing names we do not know stops it from reading the API or posting to it, and keeps
``/api/config`` from handing out endpoints under a name the caller chose.

Allowed without configuration: ``localhost``, the address the connection arrived on (so a
server bound to 0.0.0.0 can be reached as http://192.168.1.5:26154, an IP literal no
rebinding attack can produce), the bind address and ``public_url``'s host. Everything else
comes from the ``allowed_hosts`` setting. Imported by ``junjo.config``: standard library only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
ALWAYS_ALLOWED = frozenset({"localhost"})

# A Host header: a DNS name (underscores too: docker-compose service names have them), an
# IPv4 address, or a bracketed IPv6 address; then an optional port.
_HOST_HEADER = re.compile(
    r"^(?:\[(?P<ipv6>[0-9a-fA-F:.]+)\]|(?P<name>[A-Za-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?$"
)


def normalize_host(value: str) -> str | None:
    """The host name of a ``Host`` header value (port dropped, lower case, no trailing dot,
    IPv6 without brackets in its short form), or None when it is not a host."""
    parsed = _parse_host(value)
    return parsed[0] if parsed else None


def _parse_host(value: str) -> tuple[str, str | None] | None:
    match = _HOST_HEADER.match(value.strip())
    if match is None:
        return None
    if match["ipv6"] is not None:
        try:
            return _plain_address(ipaddress.IPv6Address(match["ipv6"])), match["port"]
        except ValueError:
            return None
    name = match["name"].lower().rstrip(".")
    return (name, match["port"]) if name else None


def normalize_address(address: str) -> str:
    """A socket address as a Host header would name it (IPv4-mapped IPv6 becomes IPv4)."""
    try:
        return _plain_address(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return address.lower()


def _plain_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def check_pattern(pattern: str) -> str | None:
    """An ``allowed_hosts`` entry, normalized: "*", "*.example.com", a name or an address
    (no port: any port of an allowed host is allowed). None when it is none of these."""
    pattern = pattern.strip().lower()
    if pattern == "*":
        return pattern
    wildcard = pattern.startswith("*.")
    host = pattern[2:] if wildcard else pattern
    try:  # an IPv6 address may be written with or without brackets
        address = normalize_address(str(ipaddress.ip_address(host.strip("[]"))))
    except ValueError:
        parsed = _parse_host(host)
        if parsed is None or parsed[1] is not None:
            return None
        address = parsed[0]
    return f"*.{address}" if wildcard else address


@dataclass(frozen=True)
class HostPolicy:
    names: frozenset[str]
    suffixes: tuple[str, ...]  # ".example.com" for the pattern "*.example.com"
    any_host: bool  # allowed_hosts = "*": a proxy in front checks Host

    @classmethod
    def build(cls, allowed_hosts: Iterable[str], bind_host: str, public_url: str) -> HostPolicy:
        names, suffixes, any_host = set(ALWAYS_ALLOWED), [], False
        for pattern in allowed_hosts:
            if pattern == "*":
                any_host = True
            elif pattern.startswith("*."):
                suffixes.append(pattern[1:])
            else:
                names.add(pattern)
        if bind_host not in WILDCARD_BINDS:
            names.add(normalize_address(bind_host))
        public_host = urlsplit(public_url).hostname if public_url else None
        if public_host:
            names.add(normalize_address(public_host))
        return cls(frozenset(names), tuple(suffixes), any_host)

    def allows(self, host: str, local_address: str | None) -> bool:
        """``host`` is a normalized host name; ``local_address`` the address the request
        arrived on (ASGI ``scope["server"]``), which a client may always name."""
        if self.any_host or host in self.names:
            return True
        if any(host.endswith(suffix) for suffix in self.suffixes):
            return True
        return local_address is not None and host == normalize_address(local_address)

    def describe(self) -> str:
        """One line for the start banner."""
        if self.any_host:
            return 'any (allowed_hosts = "*": the proxy in front must check Host)'
        named = sorted(self.names) + [f"*{suffix}" for suffix in self.suffixes]
        return ", ".join([*named, "the address a client connects to"])
