"""Which IP addresses the platform may connect to for a tenant, and every spelling of an IPv4 address.

The policy is decided on an address, never on how it was written: `parse_ipv4` reads the forms the
C resolver (`inet_aton`) and the WHATWG URL parser accept (`127.1`, `0x7f000001`, `017700000001`,
`2130706433`), and IPv6 addresses that carry an IPv4 address inside are judged by that one.
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never reachable, whatever the configuration: they hand out cloud credentials.
# 169.254.169.254: AWS, GCP, Azure, Oracle, DigitalOcean; 169.254.170.2: AWS ECS task credentials;
# 169.254.0.23: Tencent Cloud; 100.100.100.200: Alibaba Cloud; fd00:ec2::254: AWS over IPv6.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "169.254.0.23", "100.100.100.200", "fd00:ec2::254")
)

# Never opened by SMARTER_ALLOW_PRIVATE_HOSTS either, each for its reason.
_NEVER_OPEN = tuple(
    (ipaddress.ip_network(network), reason)
    for network, reason in (
        # Link-local: where every cloud puts its metadata and credential services.
        ("169.254.0.0/16", "is link-local"),
        ("fe80::/10", "is link-local"),
        # The shared address space (RFC 6598) is carrier-grade NAT, never a developer's machine
        # or a test server; clouds put their own services there (Alibaba Cloud's metadata service
        # at 100.100.100.200, its DNS at 100.100.2.136). Opening only part of it would leave the
        # next provider's address open, so the whole range stays closed.
        ("100.64.0.0/10", "is in the shared (CGNAT) range"),
        # AWS's IPv6 link services: metadata (::254), DNS (::253), time (::123).
        ("fd00:ec2::/64", "is an AWS link service address"),
    )
)

# Ranges SMARTER_ALLOW_PRIVATE_HOSTS may open (a developer's machine, a test server).
_OPENABLE = tuple(
    ipaddress.ip_network(network)
    for network in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)

# IPv6 forms that carry an IPv4 address inside: the IPv4 one is what gets reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")

_DECIMAL = re.compile(r"[0-9]+", re.ASCII)
_OCTAL = re.compile(r"0[0-7]*", re.ASCII)
_HEXADECIMAL = re.compile(r"0[xX][0-9a-fA-F]+", re.ASCII)
# A last label that the resolver and browsers read as a number makes the whole host an IPv4
# address (WHATWG "ends in a number"): `1.2.3.0x4` is an address, `1.2.3.example` a name.
_NUMERIC_LABEL = re.compile(r"(?:[0-9]+|0[xX][0-9a-fA-F]*)", re.ASCII)


def allow_private_hosts() -> bool:
    return bool(settings.SMARTER.allow_private_hosts)


def ends_in_a_number(host: str) -> bool:
    """Whether a (lower-case ASCII, no trailing dot) host must be read as an IPv4 address."""
    return bool(_NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]))


def _ipv4_part(part: str) -> int | None:
    if _HEXADECIMAL.fullmatch(part):
        return int(part[2:], 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if _OCTAL.fullmatch(part) else None
    return int(part) if _DECIMAL.fullmatch(part) else None


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address an IPv4 host stands for in any spelling the resolver accepts (1 to 4 parts,
    each decimal, octal with a leading 0, or hexadecimal with 0x; the last part fills the
    remaining bytes), or None when it is not one. ASCII only: `int()` would read other digits."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_part(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    *leading, last = [number for number in numbers if number is not None]
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through (mapped, translated, NAT64, 6to4, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or address in _IPV4_TRANSLATED:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    # Deprecated IPv4-compatible form ::a.b.c.d (but not :: and ::1, handled as themselves).
    if int(address) >> 32 == 0 and int(address) > 1:
        return ipaddress.IPv4Address(int(address))
    return None


def address_refusal(address: IPAddress, *, allow_private: bool | None = None) -> str | None:
    """Why `address` may not be connected to, or None when it may."""
    if allow_private is None:
        allow_private = allow_private_hosts()
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%")[0])
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = address_refusal(inner, allow_private=allow_private)
            return f"{reason} (inside {address})" if reason else None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    for network, reason in _NEVER_OPEN:
        if address in network:
            return f"{address} {reason}"
    if allow_private and any(address in network for network in _OPENABLE):
        return None
    return _class_refusal(address)


def _class_refusal(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return f"{address} is unspecified"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_multicast:
        return f"{address} is multicast"
    if address.is_reserved:
        return f"{address} is reserved"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return f"{address} is site-local"
    if address.is_private:
        return f"{address} is a private address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None
