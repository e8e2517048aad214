"""Connections to tenant-chosen hosts that open only to checked addresses.

Every client checks the address it actually connects to, whatever spelling led there:

- httpx (REST plugins): the connection pool's network backend resolves through the guard and
  opens its socket to one of the checked addresses, for the first request and every redirect;
- aiohttp (an account's own LLM provider): names resolve through `AsyncGuardedResolver`, and
  every socket is made by `guarded_socket`, which checks the address it is about to connect to,
  so an IP literal that aiohttp connects to without asking a resolver is checked as well;
- database drivers: `check_host` gives the checked address to connect to.
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

import httpcore
import httpx
from aiohttp.abc import AbstractResolver

from smarter.lib.outbound.addresses import IPAddress, address_refusal
from smarter.lib.outbound.destinations import (
    OutboundRefused,
    check_destination,
    normalise_host,
    normalise_url,
)

DEFAULT_MAX_REDIRECTS = 3

# --- resolution -------------------------------------------------------------------------------
_overrides: dict[str, tuple[list[str], bool]] = {}
_overrides_lock = threading.Lock()


@contextlib.contextmanager
def override_host(hostname: str, addresses: Iterable[str], *, trusted: bool = False) -> Iterator[None]:
    """For tests: make `hostname` resolve to `addresses`; `trusted` also skips their check.

    This is how a test stands up an "allowed public host" on loopback, to prove that a
    redirect from it to a refused address is still refused.
    """
    key = normalise_host(hostname)[0]
    with _overrides_lock:
        _overrides[key] = (list(addresses), trusted)
    try:
        yield
    finally:
        with _overrides_lock:
            _overrides.pop(key, None)


def _trusted(address: IPAddress) -> bool:
    # Only a test's trusted override makes an address trusted; in production there is none.
    return any(trusted and str(address) in addresses for addresses, trusted in list(_overrides.values()))


def resolve(host: str, port: int) -> tuple[list[IPAddress], bool]:
    """Every address `host` resolves to, and whether a test override marked them trusted.
    The host is normalised first (IDNA, case, trailing dot, numeric spellings): what is looked
    up is what the clients would look up."""
    key, literal = normalise_host(host)
    override = _overrides.get(key)
    if override is not None:
        return [ipaddress.ip_address(address) for address in override[0]], override[1]
    if literal is not None:
        return [literal], False
    try:
        infos = socket.getaddrinfo(key, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundRefused(f"{key} does not resolve: {error}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundRefused(f"{key} does not resolve to any address")
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
                raise OutboundRefused(f"{normalise_host(host)[0]} may not be reached: {reason}", reason=reason)
    return addresses


def check_url_before_lookup(url: str | httpx.URL) -> None:
    """Refuse a wrong scheme, credentials in the URL, a host that cannot be normalised, or one
    that spells a refused address or is a loopback name, with a clear message and without a DNS
    lookup: resolving and checking every address a name has happens once, right before the
    socket opens (the transports and resolver here)."""
    check_destination(normalise_url(str(url)))


def check_url(url: str | httpx.URL, *, allow_private: bool | None = None) -> list[IPAddress]:
    """Raise OutboundRefused unless `url` is http(s) to a host whose every address is allowed."""
    destination = normalise_url(str(url))
    return checked_addresses(destination.host, destination.effective_port, allow_private=allow_private)


def check_host(host: str, port: int, *, allow_private: bool | None = None) -> str:
    """For non-HTTP clients (database drivers): the checked address to connect to, as text."""
    return str(checked_addresses(host, port, allow_private=allow_private)[0])


def guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """aiohttp's `socket_factory`: refuse to make a socket for a refused address. It sees the
    address actually connected to, whether it came from the guarded resolver or from an IP
    literal in the URL, which aiohttp connects to without asking any resolver."""
    family, kind, proto, _canonical, address = addr_info
    checked = ipaddress.ip_address(str(address[0]).split("%")[0])
    if not _trusted(checked):
        reason = address_refusal(checked)
        if reason:
            raise OutboundRefused(f"{checked} may not be reached: {reason}", reason=reason)
    return socket.socket(family=family, type=kind, proto=proto)


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


def _check_request(request: httpx.Request) -> None:
    # Runs for the first request and for every redirect hop.
    check_url_before_lookup(request.url)


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
    ask a resolver about a host spelled as an address: `guarded_socket` checks those."""

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
