"""Outbound HTTP to addresses a tenant chose: the guard against server-side request forgery.

A tenant names URLs (REST plugins, later LLM providers and webhooks); the platform fetches them
from inside its own network. So every outbound request made for a tenant goes through here:

- only http and https;
- the host is resolved once, *every* address it resolves to is checked, and the socket is
  opened to one of those checked addresses (not to a name resolved again later), so a DNS
  answer that changes between the check and the connect ("rebinding") cannot slip through;
  TLS still verifies the certificate against, and sends SNI for, the original host name;
- loopback, private, link-local, shared (CGNAT), multicast, unspecified and reserved
  addresses are refused, in their IPv4, IPv6, IPv4-mapped and numeric-shorthand forms;
- each redirect hop opens its own connection, so it is checked the same way.

`settings.SMARTER_ALLOW_PRIVATE_HOSTS` lifts the refusal for loopback and private ranges (a
laptop, a test server); the cloud metadata addresses stay refused whatever the setting says.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from aiohttp.abc import AbstractResolver
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_MAX_REDIRECTS = 3

# Never reachable, whatever the configuration: they hand out cloud credentials.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
# Ranges SMARTER_ALLOW_PRIVATE_HOSTS may open (a developer's machine, a test server).
_OPENABLE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
    )
)
# IPv6 forms that carry an IPv4 address inside: the IPv4 one is what gets reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class OutboundRefused(ValueError):
    """The URL or the address it resolves to may not be fetched; the message says why."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
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
        allow_private = bool(getattr(settings, "SMARTER_ALLOW_PRIVATE_HOSTS", False))
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%")[0])
        inner = _embedded_ipv4(address)
        if inner is not None:
            reason = address_refusal(inner, allow_private=allow_private)
            return f"{reason} (inside {address})" if reason else None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if allow_private and any(address in network for network in _OPENABLE):
        return None
    if address.is_unspecified:
        return f"{address} is unspecified"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is link-local"
    if address.is_multicast:
        return f"{address} is multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network("100.64.0.0/10"):
        return f"{address} is in the shared (CGNAT) range"
    if address.is_reserved:
        return f"{address} is reserved"
    if address.is_private:
        return f"{address} is a private address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


# --- resolution -------------------------------------------------------------------------------
_overrides: dict[str, tuple[list[str], bool]] = {}
_overrides_lock = threading.Lock()


@contextlib.contextmanager
def override_host(hostname: str, addresses: Iterable[str], *, trusted: bool = False) -> Iterator[None]:
    """For tests: make `hostname` resolve to `addresses`; `trusted` also skips their check.

    This is how a test stands up an "allowed public host" on loopback, to prove that a
    redirect from it to a refused address is still refused.
    """
    key = hostname.lower().rstrip(".")
    with _overrides_lock:
        _overrides[key] = (list(addresses), trusted)
    try:
        yield
    finally:
        with _overrides_lock:
            _overrides.pop(key, None)


def _literal_address(host: str) -> IPAddress | None:
    """The address a host spelled as a number stands for (`127.1`, `0x7f000001`, `2130706433`)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%")[0])
    except ValueError:
        pass
    try:
        # inet_aton accepts the same shorthand forms (octal, hex, 1 to 4 parts) the C resolver does.
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except (OSError, ValueError):
        return None


def literal_refusal(host: str, *, allow_private: bool | None = None) -> str | None:
    """Without DNS: why a host written as an address (in any spelling) is refused, else None.

    For checks at save time, when a name need not resolve yet; requests are checked again.
    """
    address = _literal_address(host)
    if address is not None:
        return address_refusal(address, allow_private=allow_private)
    if allow_private is None:
        allow_private = bool(getattr(settings, "SMARTER_ALLOW_PRIVATE_HOSTS", False))
    if host.lower().rstrip(".") in _LOOPBACK_NAMES and not allow_private:
        return f"{host} is a loopback name"
    return None


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def resolve(host: str, port: int) -> tuple[list[IPAddress], bool]:
    """Every address `host` resolves to, and whether a test override marked them trusted."""
    key = host.lower().rstrip(".").strip("[]")
    override = _overrides.get(key)
    if override is not None:
        return [ipaddress.ip_address(address) for address in override[0]], override[1]
    literal = _literal_address(host)
    if literal is not None:
        return [literal], False
    try:
        infos = socket.getaddrinfo(key, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundRefused(f"{host} does not resolve: {error}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve to any address")
    return addresses, False


def checked_addresses(host: str, port: int, *, allow_private: bool | None = None) -> list[IPAddress]:
    """Resolve `host`; refuse if ANY address it resolves to is refused; return them all."""
    if not host:
        raise OutboundRefused("the URL has no host")
    addresses, trusted = resolve(host, port)
    if not trusted:
        for address in addresses:
            reason = address_refusal(address, allow_private=allow_private)
            if reason:
                raise OutboundRefused(f"{host} may not be reached: {reason}")
    return addresses


def _url_problem(url: str) -> tuple[str, int, str | None]:
    """The host and port of `url`, and what is wrong with it before any DNS lookup."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return "", 0, f"{url!r} is not a valid URL: {error}"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return "", 0, f"only http and https URLs may be fetched, not {scheme or 'a relative URL'!r}"
    if parts.username is not None or parts.password is not None:
        return "", 0, "credentials in the URL are not accepted; use the connection's authMethod"
    if not parts.hostname:
        return "", 0, "the URL has no host"
    return parts.hostname, port or (443 if scheme == "https" else 80), None


def check_url(url: str | httpx.URL, *, allow_private: bool | None = None) -> list[IPAddress]:
    """Raise OutboundRefused unless `url` is http(s) to a host whose every address is allowed."""
    host, port, problem = _url_problem(str(url))
    if problem:
        raise OutboundRefused(problem)
    return checked_addresses(host, port, allow_private=allow_private)


def check_host(host: str, port: int, *, allow_private: bool | None = None) -> str:
    """For non-HTTP clients (database drivers): the checked address to connect to, as text."""
    return str(checked_addresses(host, port, allow_private=allow_private)[0])


# --- transports that connect only to checked addresses ----------------------------------------
class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self._backend.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                last_error = error
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise OutboundRefused("unix sockets may not be used for outbound requests")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


@functools.lru_cache(maxsize=2)
def _default_ssl_context(verify: bool) -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; a context is safe to share between clients.
    return httpx.create_ssl_context(verify=verify, trust_env=False)


def _ssl_context(verify: bool | ssl.SSLContext) -> ssl.SSLContext:
    return verify if isinstance(verify, ssl.SSLContext) else _default_ssl_context(verify)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, with a connection pool whose every socket goes to a checked address."""

    def __init__(self, *, verify: bool | ssl.SSLContext = True) -> None:
        # httpx's own __init__ only builds `_pool`, which httpx offers no public argument to give
        # a network backend; so we build the pool ourselves and keep httpx's request handling.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(verify),
            max_connections=20,
            network_backend=_GuardedBackend(),
        )


def check_url_before_lookup(url: str) -> None:
    """Refuse a wrong scheme, credentials in the URL, or a host spelled as a refused address,
    with a clear message and without a DNS lookup: resolving and checking every address a name
    has happens once, right before the socket opens (the transports and resolver here)."""
    host, _port, problem = _url_problem(url)
    if problem:
        raise OutboundRefused(problem)
    refusal = None if _overrides.get(host.lower().rstrip(".")) else literal_refusal(host)
    if refusal:
        raise OutboundRefused(f"{host} may not be reached: {refusal}")


def _check_request(request: httpx.Request) -> None:
    # Runs for the first request and for every redirect hop.
    check_url_before_lookup(str(request.url))


def guarded_client(
    *,
    timeout: float | httpx.Timeout = 10.0,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    headers: dict[str, str] | None = None,
    verify: bool | ssl.SSLContext = True,
) -> httpx.Client:
    """An httpx.Client for tenant-chosen URLs: every hop checked, every socket to a checked address.

    Requests to a refused URL raise OutboundRefused (not an httpx error), so callers can tell a
    policy refusal from a network failure.
    """
    return httpx.Client(
        transport=GuardedTransport(verify=verify),
        timeout=timeout,
        follow_redirects=max_redirects > 0,
        max_redirects=max(max_redirects, 0),
        headers=headers,
        trust_env=False,  # an environment proxy would be connected to instead of the checked host
        event_hooks={"request": [_check_request]},
    )


class AsyncGuardedResolver(AbstractResolver):
    """An aiohttp resolver that answers only checked addresses: the connector then opens its
    socket to exactly an address that was checked (no second lookup to rebind). aiohttp does not
    ask a resolver about a host spelled as an address: `check_url_before_lookup` covers those."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        # getaddrinfo blocks; resolve in a worker thread like the event loop's own resolver does.
        addresses = await asyncio.to_thread(checked_addresses, host, port)
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None
