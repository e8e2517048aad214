"""Upstream HTTP sessions kept between turns, one per endpoint and key, per event loop.

The model call is the gateway's most frequent outbound request, so it uses aiohttp, whose
C-accelerated HTTP client costs about a fifth of the CPU per call of httpx here
(docs/performance.md, "The floor under a turn"). Opening a session and a connection for every call
would cost more again (and a TLS handshake per call against a real provider): a kept session
reuses its connections (keep-alive).

What keeps tenants apart: a session belongs to exactly one (base URL, key) pair, so no
connection ever carries two accounts' requests, and it stores no cookies, so nothing one answer
sets reaches the next request. It reads no proxy or other environment settings. The key itself
is never a dictionary key here; its SHA-256 is. Sessions are bound to the event loop that made
them (asyncio transports cannot move between loops), so each loop has its own set; a loop's set
goes with the loop.

An account's own endpoint (`guarded`) resolves names only through the outbound guard's resolver,
and every socket its connector makes is checked by the guard's socket factory against the
address it connects to, so no spelling of a refused address is reached: a name that resolves to
one, an IP literal that aiohttp connects to without a lookup, a form that yarl's IDNA mapping
turns into one. The provider also checks the URL before each request, for a clear message
(`check_url_before_lookup`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl
import weakref
from collections import OrderedDict
from typing import Any

import aiohttp

from smarter.lib.outbound import AsyncGuardedResolver, guarded_socket

# Distinct (endpoint, key) pairs kept per process; the least recently used is dropped beyond it.
# A dropped session is not closed here (a turn may still be using it); its connections close
# when the last turn using it lets go of it.
MAX_SESSIONS = 128

# A stream holds its connection for the whole answer: many slow streams need many connections.
MAX_CONNECTIONS = 2048
KEEPALIVE_SECONDS = 30.0
# Every call passes its own timeout (the provider's, from the request); the session sets none.
NO_SESSION_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~20 ms; one context serves every session. It holds no tenant state.
    return ssl.create_default_context()


def credentials_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class _LoopSessions:
    def __init__(self) -> None:
        self.sessions: OrderedDict[tuple[str, str, bool], aiohttp.ClientSession] = OrderedDict()


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSessions] = weakref.WeakKeyDictionary()


def _mine() -> _LoopSessions:
    loop = asyncio.get_running_loop()
    found = _per_loop.get(loop)
    if found is None:
        found = _per_loop[loop] = _LoopSessions()
    return found


def _remember(table: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> Any:
    table[key] = value
    while len(table) > limit:
        table.popitem(last=False)
    return value


def upstream_session(*, base_url: str, api_key: str, guarded: bool) -> aiohttp.ClientSession:
    """The kept session for this endpoint and key. `guarded` (an account's own endpoint) resolves
    every new connection's host through the outbound guard."""
    mine = _mine()
    key = (base_url, credentials_digest(api_key), guarded)
    session = mine.sessions.get(key)
    if session is None or session.closed:
        session = _remember(mine.sessions, key, _new_session(guarded), MAX_SESSIONS)
    else:
        mine.sessions.move_to_end(key)
    return session


def _new_session(guarded: bool) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=MAX_CONNECTIONS,
        limit_per_host=0,
        ssl=ssl_context(),
        keepalive_timeout=KEEPALIVE_SECONDS,
        resolver=AsyncGuardedResolver() if guarded else None,
        socket_factory=guarded_socket if guarded else None,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=NO_SESSION_TIMEOUT,
        cookie_jar=aiohttp.DummyCookieJar(),  # no cookie is ever kept
        trust_env=False,  # an environment proxy would be connected to instead of the endpoint
    )


async def close_sessions() -> None:
    """Close this loop's kept sessions and their connections (the server is shutting down)."""
    mine = _mine()
    sessions = list(mine.sessions.values())
    mine.sessions.clear()
    for session in sessions:
        await session.close()
