"""Address safety for fetching: which IP addresses the fetcher may connect to.

A URL given to the ETL (or found in a feed, or reached by a redirect) must not make us talk to
the machine's own services, the private network it sits in, or a cloud metadata endpoint
(server-side request forgery). Checking the *host name* is not enough: a public name can
resolve to 10.0.0.5, and can resolve differently a second later (DNS rebinding). So the
fetcher resolves the name once here, checks every address, and connects to a checked address
itself (see ``etl.web.connections``), on every request and every redirect hop.

``settings.allowed_networks`` (``ARTICLE_ETL_ALLOWED_NETWORKS``) lets chosen networks through,
e.g. ``127.0.0.0/8`` for tests against loopback servers or an intranet range on purpose.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from etl.errors import InputRejected

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance-metadata endpoints. Most are link-local or private anyway; they are named
# explicitly so the reason given says what was at stake, and so that allowing a private range
# (say 100.64.0.0/10) never lets them through: only an allowlist entry naming the exact
# address does.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS DNS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)

# 100.64.0.0/10 (carrier-grade NAT) is neither private nor global for ``ipaddress``.
_SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class BlockedAddress(InputRejected):
    """The URL's host is, or resolves to, an address we must not connect to.

    Deliberately *not* an ``OSError``: urllib3 wraps ``OSError``s from connecting into its own
    errors and may retry them; this one must travel up unchanged and end the fetch."""

    def __init__(self, address: str, why: str) -> None:
        super().__init__(f"blocked address {address} ({why})")
        self.address = address
        self.why = why


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``("127.0.0.0/8", "::1")`` -> networks; a bad entry raises ``ValueError`` naming it."""
    networks: list[IPNetwork] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"ARTICLE_ETL_ALLOWED_NETWORKS: {cidr!r} is not an IP network (CIDR)"
            ) from None
    return tuple(networks)


# NAT64's well-known prefix (RFC 6052): 64:ff9b::10.0.0.5 is translated to 10.0.0.5.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, which is where packets to it may end up:
    IPv4-mapped (``::ffff:10.0.0.1``), 6to4 (``2002:0a00:0001::/48``), Teredo (``2001::/32``,
    its server and its client, de-obfuscated) and NAT64 (``64:ff9b::10.0.0.1``)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        server, client = address.teredo
        return [client, server]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def blocked(address: IPAddress) -> tuple[IPAddress, str] | None:
    """(the address to name, why) when connecting to ``address`` is refused; else None.

    An IPv6 address that carries an IPv4 address is judged by the IPv4 address, and named by
    it (that is where it would go): ``2002:a00:5::`` is ``10.0.0.5 (private network)``. When
    the IPv4 address is fine, the IPv6 address is still judged as itself."""
    for inner in embedded_ipv4(address):
        why = _why_blocked(inner)
        if why is not None:
            return inner, why
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return None  # ::ffff:0:0/96 is "private" to ipaddress; it is only its IPv4 address
    why = _why_blocked(address)
    return None if why is None else (address, why)


def why_blocked(address: IPAddress) -> str | None:
    """Why connecting to ``address`` is refused, or ``None`` when it is a public address."""
    found = blocked(address)
    return None if found is None else found[1]


def _why_blocked(address: IPAddress) -> str | None:
    if address in METADATA_ADDRESSES:
        return "cloud metadata endpoint"
    # Order matters: the most specific reason first (loopback is also "private").
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified address"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address in _SHARED_SPACE, "shared address space"),
        (address.is_reserved, "reserved"),  # 240/4 is also "private" to ipaddress
        (address.is_private, "private network"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    if not address.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True, slots=True)
class NetGuard:
    """Resolves host names and refuses unsafe addresses, unless explicitly allowed."""

    allowed: tuple[IPNetwork, ...] = ()
    # Injectable for tests (fake DNS); the real thing is ``socket.getaddrinfo``.
    resolver: Resolver = socket.getaddrinfo

    @classmethod
    def from_cidrs(cls, cidrs: Sequence[str]) -> NetGuard:
        return cls(allowed=parse_networks(cidrs))

    def is_allowed(self, address: IPAddress) -> bool:
        if address in METADATA_ADDRESSES:
            # Only an entry for exactly this address: allowing 169.254.0.0/16 for some
            # appliance must not open the credentials endpoint by accident.
            return any(n.num_addresses == 1 and address in n for n in self.allowed)
        return any(address.version == n.version and address in n for n in self.allowed)

    def check_address(self, address: IPAddress) -> None:
        """Raise ``BlockedAddress`` unless ``address`` is public or explicitly allowed."""
        if self.is_allowed(address):
            return
        found = blocked(address)
        if found is not None:
            raise BlockedAddress(str(found[0]), found[1])

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to, each checked; raises on the first unsafe one.

        All addresses must pass, not just one: otherwise a name with one public and one private
        record could steer the connection to the private one. Raises ``socket.gaierror`` when
        the name does not resolve."""
        host = normal_host(host)
        literal = _ip_literal(host)
        if literal is not None:
            # No DNS for literal addresses: the check happens before any packet is sent.
            self.check_address(literal)
            return [str(literal)]
        infos = self.resolver(host, port, 0, socket.SOCK_STREAM)
        addresses: list[str] = []
        for info in infos:
            sockaddr = info[4]
            assert isinstance(sockaddr, tuple)
            ip = _ip_literal(str(sockaddr[0]))
            if ip is None:  # pragma: no cover - getaddrinfo always returns numeric addresses
                raise BlockedAddress(str(sockaddr[0]), "not an IP address")
            self.check_address(ip)
            if str(ip) not in addresses:
                addresses.append(str(ip))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
        return addresses


def normal_host(host: str) -> str:
    """A host name as the guard and the rate limiter see it: no brackets, lower case, no
    final dot. ``127.0.0.1.`` and ``EXAMPLE.com.`` name what ``127.0.0.1`` and ``example.com``
    name; with the dot, the first would not be seen as an address (and go to DNS) and the
    second would get a rate budget of its own."""
    return host.strip().strip("[]").lower().rstrip(".")


def _ip_literal(host: str) -> IPAddress | None:
    # A zone index (fe80::1%eth0) is not part of the address; drop it before parsing.
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
