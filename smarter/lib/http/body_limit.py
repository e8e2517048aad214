"""ASGI middleware: a request body larger than any endpoint accepts is refused (413) before the
platform stores it.

Django's ASGI handler reads a whole body into a temporary file before any view runs, so a view's
own limit (a document upload's, for instance) would only speak once the client had sent all of
it. This guard speaks first: by the declared Content-Length before a byte is read, and for a body
sent without one (chunked) or longer than declared, at the first message past the limit, when it
tells Django the client went away and answers 413 itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from smarter.lib.errors import SmarterError
from smarter.lib.http.errors import error_body


class RequestBodyLimit:
    """`limit()`: the largest body any endpoint takes, read per request (a test or an operator
    may change the setting); `refusal(size)`: the 413 to answer, `size` the declared length if any."""

    def __init__(self, app: Any, *, limit: Callable[[], int], refusal: Callable[[int | None], SmarterError]) -> None:
        self.app = app
        self.limit = limit
        self.refusal = refusal

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, self.refusal(declared))
            return
        received = 0
        over = False
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.disconnect"}  # Django stops reading and answers nothing
            return message

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, watched_send)
        if over and not started:
            await _refuse(send, self.refusal(None))


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Any, error: SmarterError) -> None:
    body = json.dumps(error_body(error)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is not read
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
