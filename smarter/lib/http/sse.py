"""Server-sent events: one frame per event, and the response that streams them unbuffered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import StreamingHttpResponse

from smarter.lib.errors import SmarterError
from smarter.lib.http.errors import error_body


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n".encode()


def sse_error(error: SmarterError) -> bytes:
    return sse("error", error_body(error))


def event_stream(chunks: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx-style proxies must not hold the stream back
    return response
