"""What the async chat doors share: authentication off the event loop, JSON bodies, SSE framing.

The chat endpoints are plain async Django views (not DRF) so a streamed answer holds no thread
while it waits on the model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

from smarter.apps.account.caller import Caller
from smarter.apps.account.features.selectors import feature_enabled
from smarter.apps.account.selectors import caller_for_api_key
from smarter.apps.api.authentication import accepted, api_key_in
from smarter.apps.api.errors import error_body, error_response, internal_error
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import door_lookup
from smarter.lib.client_address import client_ip as request_client_ip
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import (
    FieldError,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    SmarterError,
    UnsupportedMediaType,
)
from smarter.lib.json_input import parse_json_object, request_body

logger = logging.getLogger(__name__)

MAX_CHAT_BODY_BYTES = 256 * 1024

View = Callable[..., Awaitable[HttpResponseBase]]


def api_door(methods: tuple[str, ...]) -> Callable[[View], Any]:
    """Method check, and every SmarterError (or bug) rendered as the API's error envelope."""

    def decorate(view: View) -> Any:
        @wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                if request.method not in methods:
                    raise MethodNotAllowed(f"Use {' or '.join(methods)} here.")
                return await view(request, *args, **kwargs)
            except SmarterError as error:
                return error_response(error)
            except Exception:
                logger.exception("unhandled error in chat door")
                return error_response(internal_error())

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # API keys, not cookies
        return wrapper

    return decorate


def resolve_caller(header: str, chatbot_name: str | None, feature: str | None) -> tuple[Caller, Chatbot | None]:
    """Who is calling, whether the feature is on for their account, and their chatbot (with its
    plugins), from a database thread in one trip: each trip costs more than the queries it runs,
    and with a chatbot to find, one statement (`door_lookup`)."""
    key = api_key_in(header)
    if key is None:
        raise NotAuthenticated("Authenticate with an API key: send 'Authorization: Token <key>'.")
    if chatbot_name is None:
        caller = accepted(caller_for_api_key(key))
        feature_on = feature is None or feature_enabled(account=caller.account, feature=feature)
        chatbot = None
    else:
        found = door_lookup(api_key=key, chatbot_name=chatbot_name, feature=feature)
        caller = accepted(found.caller if found is not None else None)
        assert found is not None
        feature_on, chatbot = found.feature_on, found.chatbot
    if not feature_on:
        raise PermissionDenied(
            f"The feature {feature!r} is switched off for this account; ask the platform operator.",
            context={"feature": feature},
        )
    if chatbot_name is None:
        return caller, None
    if chatbot is None:
        raise NotFound(
            f"Chatbot {chatbot_name!r} was not found in your account.",
            context={"kind": "Chatbot", "name": chatbot_name},
        )
    return caller, chatbot


async def caller_of(authorization: str, *, feature: str | None = None) -> Caller:
    caller, _ = await in_db_thread(resolve_caller, authorization, None, feature)
    return caller


async def require_caller(request: HttpRequest, *, feature: str | None = None) -> Caller:
    return await caller_of(request.headers.get("Authorization", ""), feature=feature)


async def require_caller_and_chatbot(
    request: HttpRequest, name: str, *, feature: str | None = None
) -> tuple[Caller, Chatbot]:
    caller, chatbot = await in_db_thread(resolve_caller, request.headers.get("Authorization", ""), name, feature)
    assert chatbot is not None
    return caller, chatbot


def require_json(request: HttpRequest) -> None:
    """Doors a browser reaches without credentials of its own (a deployed chatbot's endpoints, the
    sandbox) take `application/json` only: a `text/plain`, form or multipart body is a "simple"
    request another site may send without a CORS preflight, which JSON is not. API-key doors need
    no such rule (another site cannot send the key) and keep accepting what curl sends."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            "Send the body as JSON, with the header 'Content-Type: application/json'.",
            context={"contentType": request.content_type or None},
            errors=[FieldError("headers.Content-Type", "must be application/json")],
        )


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request_body(request, max_bytes=MAX_CHAT_BODY_BYTES)
    except PayloadTooLarge:
        raise _chat_too_large() from None
    return json_object(raw)


def json_object(raw: bytes) -> dict[str, Any]:
    """A chat request's body: a JSON object of bounded size and depth (413 or 400 otherwise)."""
    if len(raw) > MAX_CHAT_BODY_BYTES:
        raise _chat_too_large()
    return parse_json_object(raw, max_bytes=MAX_CHAT_BODY_BYTES)


def _chat_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"A chat request may be at most {MAX_CHAT_BODY_BYTES} bytes.", context={"limit": MAX_CHAT_BODY_BYTES}
    )


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the peer, or what a trusted proxy says (`smarter.lib.client_address`)."""
    return request_client_ip(request)


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n".encode()


def sse_error(error: SmarterError) -> bytes:
    return sse("error", error_body(error))


def event_stream(chunks: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx-style proxies must not hold the stream back
    return response
