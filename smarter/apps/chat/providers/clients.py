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
them (asyncio transports cannot move between loops), so each loop has its own set, closed when
the loop shuts down (or at the server's lifespan shutdown, `close_sessions`).

A session is closed only when nothing uses it: one dropped from the cache (beyond `MAX_SESSIONS`)
while a request is streaming on it stays open until that request lets go of its `Lease`.

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
from collections.abc import AsyncGenerator

import aiohttp

from smarter.lib.outbound import AsyncGuardedResolver, guarded_socket

# Distinct (endpoint, key) pairs kept per event loop; the least recently used is dropped beyond
# it. A dropped session is closed as soon as no request is using it (`Lease`), never under one.
MAX_SESSIONS = 128

# A stream holds its connection for the whole answer: many slow streams need many connections.
MAX_CONNECTIONS = 2048
KEEPALIVE_SECONDS = 30.0
# Every call passes its own timeout (the provider's, from the request); the session sets none.
NO_SESSION_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None)

SessionKey = tuple[str, str, bool]


@functools.cache
def ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~20 ms; one context serves every session. It holds no tenant state.
    return ssl.create_default_context()


def credentials_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class _Kept:
    """A kept session and the number of requests using it right now."""

    __slots__ = ("retired", "session", "users")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.users = 0
        self.retired = False  # dropped from the cache: closed when its last user lets go


class _LoopSessions:
    """One event loop's sessions, and the ones dropped from its cache but still in use."""

    def __init__(self) -> None:
        self.sessions: OrderedDict[SessionKey, _Kept] = OrderedDict()
        self.retired: set[_Kept] = set()
        self.closing: set[asyncio.Task[None]] = set()
        self.at_shutdown: AsyncGenerator[None, None] | None = None

    def drop_beyond(self, limit: int) -> None:
        while len(self.sessions) > limit:
            _key, kept = self.sessions.popitem(last=False)
            kept.retired = True
            if kept.users:
                self.retired.add(kept)  # a request is reading from it: closed when it is done
            else:
                self.close_soon(kept)

    def close_soon(self, kept: _Kept) -> None:
        self.retired.discard(kept)
        task = asyncio.get_running_loop().create_task(kept.session.close())
        # The loop keeps only a weak reference to a task: this one is kept until it is done.
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def close_all(self) -> None:
        kept = [*self.sessions.values(), *self.retired]
        self.sessions.clear()
        self.retired.clear()
        for one in kept:
            await one.session.close()
        if self.closing:
            await asyncio.gather(*self.closing, return_exceptions=True)


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSessions] = weakref.WeakKeyDictionary()


def _mine() -> _LoopSessions:
    loop = asyncio.get_running_loop()
    found = _per_loop.get(loop)
    if found is None:
        found = _per_loop[loop] = _LoopSessions()
        found.at_shutdown = _close_at_loop_shutdown(found)
        _start(found.at_shutdown)
    return found


async def _close_at_loop_shutdown(mine: _LoopSessions) -> AsyncGenerator[None, None]:
    """Closes the loop's sessions when the loop shuts down.

    A loop closes every async generator still open before it stops (`loop.shutdown_asyncgens()`,
    which `asyncio.run`, uvicorn and asgiref's `async_to_sync` all call), while it still runs:
    this one waits at its `yield` for that moment. Without it, the sessions of a short-lived loop
    (`async_to_sync` makes one per call under WSGI) would be left open with their sockets.
    """
    try:
        yield
    finally:
        await mine.close_all()


def _start(generator: AsyncGenerator[None, None]) -> None:
    """Run the generator up to its `yield`, from synchronous code on the running loop.

    The generator does not await before its `yield`, so one step of its first `asend` gets there;
    that first step is also when the running loop registers it for `shutdown_asyncgens`.
    """
    try:
        generator.asend(None).send(None)
    except StopIteration:
        return
    raise RuntimeError("the loop-shutdown hook did not stop at its yield")


def _kept(*, base_url: str, api_key: str, guarded: bool) -> tuple[_LoopSessions, _Kept]:
    mine = _mine()
    key = (base_url, credentials_digest(api_key), guarded)
    kept = mine.sessions.get(key)
    if kept is None or kept.session.closed:
        kept = mine.sessions[key] = _Kept(_new_session(guarded))
        mine.drop_beyond(MAX_SESSIONS)
    else:
        mine.sessions.move_to_end(key)
    return mine, kept


class Lease:
    """One request's use of a session, from before it is sent until its answer is read or dropped.

    A session dropped from the cache while leased is closed when its last lease ends, so a long
    stream on it is never cut. Use as `with lease(...) as session:`, or call `release()`.
    """

    __slots__ = ("_kept", "_mine", "session")

    def __init__(self, session: aiohttp.ClientSession, mine: _LoopSessions | None, kept: _Kept | None) -> None:
        self.session = session
        self._mine = mine
        self._kept = kept
        if kept is not None:
            kept.users += 1

    def __enter__(self) -> aiohttp.ClientSession:
        return self.session

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        kept, mine = self._kept, self._mine
        if kept is None or mine is None:
            return  # not kept here (a caller's own session), or already released
        self._kept = None
        kept.users -= 1
        if kept.retired and kept.users == 0 and kept in mine.retired:
            mine.close_soon(kept)

    @classmethod
    def of(cls, session: aiohttp.ClientSession) -> Lease:
        """A caller's own session: used as it is, and left open."""
        return cls(session, None, None)


def lease(*, base_url: str, api_key: str, guarded: bool) -> Lease:
    """The kept session for this endpoint and key, held open for one request. `guarded` (an
    account's own endpoint) resolves every new connection's host through the outbound guard."""
    mine, kept = _kept(base_url=base_url, api_key=api_key, guarded=guarded)
    return Lease(kept.session, mine, kept)


def upstream_session(*, base_url: str, api_key: str, guarded: bool) -> aiohttp.ClientSession:
    """The kept session for this endpoint and key, without holding it (see `lease` to send)."""
    return _kept(base_url=base_url, api_key=api_key, guarded=guarded)[1].session


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
    await _mine().close_all()
