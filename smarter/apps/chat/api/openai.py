"""`/api/v1/openai/`: a Smarter chatbot as an OpenAI model. `model` is the chatbot's name; its
plugins run server-side and the client sees the final answer, streamed or not. The client's own
tools are offered beside them: a call of one ends the answer with `finish_reason: "tool_calls"`,
as OpenAI's does, and the client sends the results back in the next request.

So `OpenAI(base_url="http://HOST/api/v1/openai", api_key=KEY)` works unchanged. Errors carry the
API's envelope and, for OpenAI SDKs, OpenAI's `error` object (`message`, `type`, `param`, `code`).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from smarter.apps.account.features import OPENAI_COMPATIBLE_ENDPOINT
from smarter.apps.chat.api.callers import caller_of, require_caller, resolve_caller
from smarter.apps.chat.api.openai_request import ClientRequest, client_request
from smarter.apps.chat.pipeline import run_turn, run_turn_events
from smarter.apps.chat.turns import TokenEvent, TurnDone, TurnInput, TurnOverrides, TurnResult
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import chatbot_get, chatbots_of
from smarter.lib.client_address import client_ip
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import NotFound, PayloadTooLarge, SmarterError
from smarter.lib.http.body import MAX_CHAT_BODY_BYTES, json_object
from smarter.lib.http.doors import View, api_door
from smarter.lib.http.errors import error_body, internal_error
from smarter.lib.json_input import request_body

logger = logging.getLogger(__name__)

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})


@dataclass(frozen=True)
class DoorCall:
    """What the door reads of an HTTP request, whichever server layer received it."""

    authorization: str
    body: bytes
    client_ip: str | None
    user_agent: str


@dataclass
class DoorAnswer:
    """What the door answers: a JSON body, or (`stream`) server-sent events."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None

    @property
    def content_type(self) -> str:
        return "text/event-stream" if self.stream is not None else "application/json"


# A stream must reach the client as it is written: no caching, no proxy buffering.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, default=str).encode()


def openai_error(error: SmarterError) -> dict[str, Any]:
    """The API's envelope with OpenAI's `error` object: `param` is the first failing field, and
    an unknown chatbot (the `model`) is `model_not_found`, as OpenAI names an unknown model."""
    body = error_body(error)
    kind = "invalid_request_error" if error.status < 500 else "api_error"
    code: str | None = error.error_class
    param = error.errors[0].loc if error.errors else None
    if isinstance(error, NotFound) and error.context.get("kind") == "Chatbot":
        code, param = "model_not_found", "model"
    body["error"] = {"message": error.description, "type": kind, "param": param, "code": code}
    return body


def openai_error_answer(error: SmarterError) -> DoorAnswer:
    return DoorAnswer(error.status, _json(openai_error(error)), dict(error.headers or {}))


def _completion_id() -> str:
    """Random, as OpenAI's are: an id says nothing of how many turns the platform has run."""
    return f"chatcmpl-{secrets.token_hex(12)}"


def _finish_reason(result: TurnResult) -> str:
    return result.finish_reason if result.finish_reason in FINISH_REASONS else "stop"


def _client_calls(result: TurnResult) -> list[dict[str, Any]]:
    return [call.as_openai() for call in result.client_tool_calls]


def _completion(result: TurnResult, model: str, created: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.content, "refusal": None}
    if result.client_tool_calls:
        message["content"] = result.content or None
        message["tool_calls"] = _client_calls(result)
    return {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(result), "logprobs": None}],
        "usage": result.usage.as_dict(),
        "system_fingerprint": None,
    }


def _chunk(completion_id: str, model: str, created: int, delta: dict[str, Any], finish: str | None) -> bytes:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


async def chat_completions_answer(call: DoorCall) -> DoorAnswer:
    """One OpenAI-style completion: authenticate, validate, run the turn, render it."""
    try:
        # Parsed first (no database), but a bad body is reported only to an authenticated caller.
        parsed: ClientRequest | None = None
        invalid: SmarterError | None = None
        try:
            parsed = client_request(json_object(call.body))
        except SmarterError as error:
            invalid = error
        if parsed is None:
            await caller_of(call.authorization, feature=OPENAI_COMPATIBLE_ENDPOINT)
            assert invalid is not None
            raise invalid
        request, body = parsed, parsed.body

        def turn() -> TurnInput:
            # Runs in the turn's first database trip (the pipeline's): the key, the feature
            # switch and the chatbot are read together with the session and the limits.
            caller, chatbot = resolve_caller(call.authorization, body.model, OPENAI_COMPATIBLE_ENDPOINT)
            assert chatbot is not None
            return TurnInput(
                account=caller.account,
                chatbot=chatbot,
                channel="openai",
                messages=request.messages,
                stream=body.stream,
                user=caller.user,
                api_key=caller.api_key,
                client_ip=call.client_ip,
                user_agent=call.user_agent,
                overrides=TurnOverrides(
                    temperature=body.temperature, max_tokens=body.max_completion_tokens or body.max_tokens
                ),
                client_tools=request.tools,
                tool_choice=request.tool_choice,
                parameters=request.parameters,
            )

        created = int(time.time())
        if not body.stream:
            return DoorAnswer(200, _json(_completion(await run_turn(turn), body.model, created)))
        events = run_turn_events(turn)
        first = await anext(events)
    except SmarterError as error:
        return openai_error_answer(error)
    except Exception:
        logger.exception("unhandled error in the OpenAI door")
        return openai_error_answer(internal_error())
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    completion_id = _completion_id()

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in _chunks():
                yield chunk
        finally:
            # Closed early (the client left): the turn's events close now, cancelling upstream.
            await events.aclose()

    async def _chunks() -> AsyncIterator[bytes]:
        yield _chunk(completion_id, body.model, created, {"role": "assistant", "content": ""}, None)
        event = first
        pending = events
        while True:
            if isinstance(event, TokenEvent) and event.text:
                yield _chunk(completion_id, body.model, created, {"content": event.text}, None)
            elif isinstance(event, TurnDone):
                for index, tool_call in enumerate(_client_calls(event.result)):
                    delta = {"tool_calls": [{"index": index, **tool_call}]}
                    yield _chunk(completion_id, body.model, created, delta, None)
                yield _chunk(completion_id, body.model, created, {}, _finish_reason(event.result))
                if include_usage:
                    usage = {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": body.model,
                        "choices": [],
                        "usage": event.result.usage.as_dict(),
                    }
                    yield f"data: {json.dumps(usage)}\n\n".encode()
                yield b"data: [DONE]\n\n"
                return
            try:
                event = await anext(pending)
            except StopAsyncIteration:
                return
            except SmarterError as error:
                yield f"data: {json.dumps(openai_error(error))}\n\n".encode()
                return

    return DoorAnswer(200, headers=dict(STREAM_HEADERS), stream=chunks())


def openai_error_response(error: SmarterError) -> HttpResponse:
    answer = openai_error_answer(error)
    return HttpResponse(answer.body, status=answer.status, headers=answer.headers, content_type="application/json")


def openai_door(methods: tuple[str, ...]) -> Callable[[View], Any]:
    """The API's door, with every error answered in OpenAI's shape (with the API's envelope)."""
    return api_door(methods, render=openai_error_response)


@openai_door(("POST",))
async def chat_completions(request: HttpRequest) -> HttpResponseBase:
    """The door inside Django. On the platform's hosts a served process answers this path before
    Django (`openai_route`); this view serves the test client and any other host's request."""
    answer = await chat_completions_answer(
        DoorCall(
            authorization=request.headers.get("Authorization", ""),
            body=_door_body(request),
            client_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    )
    if answer.stream is not None:
        return StreamingHttpResponse(
            answer.stream, status=answer.status, headers=answer.headers, content_type=answer.content_type
        )
    return HttpResponse(answer.body, status=answer.status, headers=answer.headers, content_type=answer.content_type)


def _door_body(request: HttpRequest) -> bytes:
    """The body or, past the door's limit, as many bytes as the lean route reads of it (one past
    the limit): the door answers 413 for those, in OpenAI's shape, to an authenticated caller.
    Their content does not matter, so none of the oversized body is read."""
    try:
        return request_body(request, max_bytes=MAX_CHAT_BODY_BYTES)
    except PayloadTooLarge:
        return bytes(MAX_CHAT_BODY_BYTES + 1)


def _model(chatbot: Chatbot, account_number: str) -> dict[str, Any]:
    return {
        "id": chatbot.name,
        "object": "model",
        "created": int(chatbot.created_at.timestamp()),
        "owned_by": account_number,
    }


@openai_door(("GET",))
async def models(request: HttpRequest) -> HttpResponseBase:
    """`models.list()`: the account's chatbots."""
    caller = await require_caller(request, feature=OPENAI_COMPATIBLE_ENDPOINT)

    def listing() -> list[dict[str, Any]]:
        return [_model(chatbot, caller.account.account_number) for chatbot in chatbots_of(caller.account)]

    return HttpResponse(_json({"object": "list", "data": await in_db_thread(listing)}), content_type="application/json")


@openai_door(("GET",))
async def model(request: HttpRequest, name: str) -> HttpResponseBase:
    """`models.retrieve(name)`: one of the account's chatbots; another account's is not found."""
    caller = await require_caller(request, feature=OPENAI_COMPATIBLE_ENDPOINT)
    chatbot = await in_db_thread(chatbot_get, account=caller.account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found in your account.", context={"kind": "Chatbot", "name": name})
    return HttpResponse(_json(_model(chatbot, caller.account.account_number)), content_type="application/json")


@openai_door(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
async def unknown(request: HttpRequest, rest: str | None = None) -> HttpResponseBase:
    """Any other path under `/api/v1/openai/`: OpenAI's JSON 404, never an HTML page."""
    raise NotFound(
        f"Unknown request URL: {request.method} {request.path}. The OpenAI-compatible endpoints are "
        "POST /api/v1/openai/chat/completions, GET /api/v1/openai/models and GET /api/v1/openai/models/<name>.",
        context={"path": request.path},
    )
