"""`POST /api/v1/openai/chat/completions` on the platform's hosts, answered in front of Django.

This is the gateway's hottest path, and Django's request handling (its handler, the middleware
chain, URL resolution, request and response objects) cost more CPU than the door's own work on
it (docs/performance.md, "The floor under a turn"). What that chain does for this path is done
here instead, as `lean_policy` derives it from the same settings at start-up:

- the request id and the access-log line (`smarter.lib.observability`);
- the host check: only the platform's own hosts are answered here. A chatbot's host, a custom
  domain or an unknown host, a plain-HTTP request that must be redirected to HTTPS, and whatever
  else the policy leaves to Django go to Django unchanged, as does every other path and method;
- the security headers Django's middleware would add (their own hooks, run at start-up);
- the body bound (the door's own limit, or Django's if smaller: 413);
- a client that goes away cancels the turn, and with it the upstream call, as under Django.

Then it calls the same door function as the Django view (`chat_completions_answer`), so the
turn, its validation and its answers are one implementation. Authentication is the API key in
the request (never a cookie), so no session, CSRF or login middleware applies. The system check
`smarter.E010` fails when the settings ask for something this route does not do.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from smarter.apps.api.lean_policy import PATH, LeanPolicy, lean_policy
from smarter.apps.chat.api.openai import DoorAnswer, DoorCall, chat_completions_answer, openai_error_answer
from smarter.apps.chat.providers.clients import close_sessions
from smarter.apps.chatbot.routing import normalize_host
from smarter.lib import tracing
from smarter.lib.client_address import scope_client_ip
from smarter.lib.http.body import MAX_CHAT_BODY_BYTES
from smarter.lib.http.errors import internal_error
from smarter.lib.observability import log_access, start_request

logger = logging.getLogger(__name__)

__all__ = ["PATH", "OpenAIChatRoute"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


class OpenAIChatRoute:
    """ASGI middleware: this one path on the platform's hosts here, everything else to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        lean_policy()  # derived now, at start-up: a setting it cannot read fails here, not mid-request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # Django does not take part in the lifespan protocol
            await _lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            policy = lean_policy()
            headers = _headers(scope)
            if _served_here(policy, scope, headers):
                if tracing.enabled():  # Django's instrumentation never sees this path: our own SERVER span
                    await tracing.asgi_server_span(
                        lambda traced: _serve(policy, scope, headers, receive, traced),
                        scope=scope,
                        headers=headers,
                        send=send,
                        route=PATH,
                    )
                else:
                    await _serve(policy, scope, headers, receive, send)
                return
        await self.app(scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Startup needs nothing; at shutdown the kept upstream sessions close their connections."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_sessions()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _headers(scope: Scope) -> dict[str, str]:
    # Latin-1, as the HTTP/1.1 grammar and Django's own WSGI/ASGI request do.
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


def _served_here(policy: LeanPolicy, scope: Scope, headers: dict[str, str]) -> bool:
    if policy.steps_aside:
        return False
    host = headers.get("x-forwarded-host") if policy.forwarded_host and "x-forwarded-host" in headers else None
    if normalize_host(host if host is not None else headers.get("host", "")) not in policy.hosts:
        return False
    if policy.disallowed_agents:
        agent = headers.get("user-agent", "")
        if any(pattern.search(agent) for pattern in policy.disallowed_agents):
            return False
    return not policy.https_only or _is_secure(policy, scope, headers)


def _is_secure(policy: LeanPolicy, scope: Scope, headers: dict[str, str]) -> bool:
    if scope.get("scheme") == "https":
        return True
    if policy.proxy_ssl_header is None:
        return False
    name, expected = policy.proxy_ssl_header
    return headers.get(name, "").split(",")[0].strip() == expected


async def _serve(policy: LeanPolicy, scope: Scope, headers: dict[str, str], receive: Receive, send: Send) -> None:
    started = time.perf_counter()
    request_id = start_request(headers.get("x-request-id"))
    body = await _read_body(receive, policy.max_body_bytes)
    if body is None:
        return  # the client left before it finished sending
    call = DoorCall(
        authorization=headers.get("authorization", ""),
        body=body,
        client_ip=scope_client_ip(scope),
        user_agent=headers.get("user-agent", ""),
    )
    response = _Response(send, request_id, policy.headers(_is_secure(policy, scope, headers)))
    # The turn runs in a task of its own, so that a disconnect can cancel it; its context is
    # kept to log the line with the account the door bound.
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    work = loop.create_task(_answer(call, response), context=context)
    watcher = loop.create_task(_disconnected(receive))
    try:
        await asyncio.wait((work, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, watcher):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if work.done() and not work.cancelled() and work.exception() is not None:
        logger.error("unhandled error in the OpenAI route", exc_info=work.exception())
        if not response.started:
            await response.answer(openai_error_answer(internal_error()))
    context.run(log_access, "POST", PATH, response.status or 499, started, door="openai")


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The body or, past `limit`, bytes the door refuses with 413 (as the Django view hands it
    one byte more than the door's limit); None when the client disconnected."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return bytes(MAX_CHAT_BODY_BYTES + 1)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _answer(call: DoorCall, response: _Response) -> None:
    await response.answer(await chat_completions_answer(call))


class _Response:
    def __init__(self, send: Send, request_id: str, security: tuple[tuple[bytes, bytes], ...]) -> None:
        self.send = send
        self.request_id = request_id
        self.security = security
        self.status = 0
        self.started = False

    async def answer(self, answer: DoorAnswer) -> None:
        headers = [
            (b"content-type", answer.content_type.encode()),
            *((name.encode("latin-1"), str(value).encode("latin-1")) for name, value in answer.headers.items()),
            *self.security,
            (b"x-request-id", self.request_id.encode()),
        ]
        if answer.stream is None:
            headers.append((b"content-length", str(len(answer.body)).encode()))
        self.status, self.started = answer.status, True
        await self.send({"type": "http.response.start", "status": answer.status, "headers": headers})
        if answer.stream is None:
            await self.send({"type": "http.response.body", "body": answer.body})
            return
        chunks = answer.stream
        try:
            async for chunk in chunks:
                await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
            await self.send({"type": "http.response.body", "body": b""})
        finally:
            # Cancelled while sending (the client left): the turn's events close with the stream.
            with contextlib.suppress(Exception):
                await chunks.aclose()  # type: ignore[attr-defined]
