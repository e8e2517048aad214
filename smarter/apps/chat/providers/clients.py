"""Upstream HTTP clients kept between turns, one per endpoint and key, per event loop.

Opening a client and a connection for every model call cost more CPU than the rest of a turn's
gateway work (and a TLS handshake per call against a real provider). A kept client reuses its
connections (keep-alive).

What keeps tenants apart: a client belongs to exactly one (base URL, key) pair, so no
connection ever carries two accounts' requests, and it stores no cookies, so nothing one answer
sets reaches the next request. The key itself is never a dictionary key here; its SHA-256 is.
Clients are bound to the event loop that made them (asyncio transports cannot move between
loops), so each loop has its own set; a loop's set goes with the loop.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl
import weakref
from collections import OrderedDict
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from smarter.lib.outbound import async_guarded_client

# Distinct (endpoint, key) pairs kept per process; the least recently used is dropped beyond it.
# A dropped client is not closed here (a turn may still be using it); its connections close
# when the last turn using it lets go of it.
MAX_CLIENTS = 128

# A stream holds its connection for the whole answer: many slow streams need many connections.
# Every call passes its own timeout (the provider's, from the request); the client sets none.
NO_CLIENT_TIMEOUT = httpx.Timeout(None)
LIMITS = httpx.Limits(max_connections=2048, max_keepalive_connections=64, keepalive_expiry=30.0)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~20 ms; one context serves every client. It holds no tenant state.
    return ssl.create_default_context()


class _NoCookies(CookieJar):
    """A jar that refuses every cookie: an upstream's cookie must not follow a later request."""

    def __init__(self) -> None:
        super().__init__(policy=DefaultCookiePolicy(allowed_domains=[]))


def credentials_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class _LoopClients:
    def __init__(self) -> None:
        self.clients: OrderedDict[tuple[str, str, bool], httpx.AsyncClient] = OrderedDict()


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = weakref.WeakKeyDictionary()


def _mine() -> _LoopClients:
    loop = asyncio.get_running_loop()
    found = _per_loop.get(loop)
    if found is None:
        found = _per_loop[loop] = _LoopClients()
    return found


def _remember(table: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> Any:
    table[key] = value
    while len(table) > limit:
        table.popitem(last=False)
    return value


def upstream_client(*, base_url: str, api_key: str, guarded: bool) -> httpx.AsyncClient:
    """The kept client for this endpoint and key. `guarded` (an account's own endpoint) routes
    every new connection and redirect through the outbound guard."""
    mine = _mine()
    key = (base_url, credentials_digest(api_key), guarded)
    client = mine.clients.get(key)
    if client is None or client.is_closed:
        client = _remember(mine.clients, key, _new_client(guarded), MAX_CLIENTS)
    else:
        mine.clients.move_to_end(key)
    return client


def _new_client(guarded: bool) -> httpx.AsyncClient:
    if guarded:
        client = async_guarded_client(
            timeout=NO_CLIENT_TIMEOUT, max_redirects=0, max_connections=LIMITS.max_connections or 2048
        )
    else:
        client = httpx.AsyncClient(
            verify=ssl_context(), timeout=NO_CLIENT_TIMEOUT, follow_redirects=False, trust_env=False, limits=LIMITS
        )
    # No cookie is ever kept.
    client.cookies = _NoCookies()
    return client
