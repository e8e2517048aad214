"""`/api/v1/openai/`: a Smarter chatbot as an OpenAI model. `model` is the chatbot's name; its
plugins run server-side and the client sees the final answer, streamed or not.

So `OpenAI(base_url="http://HOST/api/v1/openai", api_key=KEY)` works unchanged. Errors carry the
API's envelope and, for OpenAI SDKs, the same message under `error`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from pydantic import BaseModel, ConfigDict, Field, field_validator

from smarter.apps.account.features import OPENAI_COMPATIBLE_ENDPOINT
from smarter.apps.chat.api.callers import caller_of, require_caller, resolve_caller
from smarter.apps.chat.doors import MAX_PROMPT_CHARACTERS
from smarter.apps.chat.pipeline import run_turn, run_turn_events
from smarter.apps.chat.providers.base import Message
from smarter.apps.chat.turns import TokenEvent, TurnDone, TurnInput, TurnOverrides, TurnResult
from smarter.apps.chatbot.selectors import chatbots_of
from smarter.lib.client_address import client_ip
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import PayloadTooLarge, SmarterError
from smarter.lib.http.body import MAX_CHAT_BODY_BYTES, json_object, parse
from smarter.lib.http.doors import api_door
from smarter.lib.http.errors import error_body, internal_error
from smarter.lib.json_input import request_body

logger = logging.getLogger(__name__)

MAX_MESSAGES = 100
MAX_COMPLETION_TOKENS = 32_768


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. `name`: accepted and not used

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    @field_validator("content")
    @classmethod
    def _bounded(cls, value: str | list[TextPart] | None) -> str | list[TextPart] | None:
        text = value if isinstance(value, str) else "".join(part.text for part in value or [])
        if len(text) > MAX_PROMPT_CHARACTERS:
            raise ValueError(f"at most {MAX_PROMPT_CHARACTERS} characters")
        return value

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class CompletionRequest(BaseModel):
    # Unknown OpenAI parameters (top_p, n, user, ...) are accepted and ignored; nothing a client
    # sends can redirect the call (no base URL, key or header passes through).
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=50)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=MAX_COMPLETION_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_COMPLETION_TOKENS)


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


def openai_error_answer(error: SmarterError) -> DoorAnswer:
    body = error_body(error)
    kind = "invalid_request_error" if error.status < 500 else "api_error"
    body["error"] = {"message": error.description, "type": kind, "code": error.error_class, "param": None}
    return DoorAnswer(error.status, _json(body), dict(error.headers or {}))


def _messages(request: CompletionRequest) -> tuple[Message, ...]:
    result = []
    for message in request.messages:
        role = "system" if message.role == "developer" else message.role
        if role == "tool":
            continue  # tool results of the client's own tools are not ours to replay
        result.append(Message(role=role, content=message.text()))
    return tuple(result)


def _completion(result: TurnResult, model: str, created: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{result.turn_id}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.content, "refusal": None},
                "finish_reason": result.finish_reason if result.finish_reason in ("stop", "length") else "stop",
                "logprobs": None,
            }
        ],
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
        parsed: CompletionRequest | None = None
        invalid: SmarterError | None = None
        try:
            parsed = parse(CompletionRequest, json_object(call.body))
        except SmarterError as error:
            invalid = error
        if parsed is None:
            await caller_of(call.authorization, feature=OPENAI_COMPATIBLE_ENDPOINT)
            assert invalid is not None
            raise invalid
        body = parsed

        def turn() -> TurnInput:
            # Runs in the turn's first database trip (the pipeline's): the key, the feature
            # switch and the chatbot are read together with the session and the limits.
            caller, chatbot = resolve_caller(call.authorization, body.model, OPENAI_COMPATIBLE_ENDPOINT)
            assert chatbot is not None
            return TurnInput(
                account=caller.account,
                chatbot=chatbot,
                channel="openai",
                messages=_messages(body),
                stream=body.stream,
                user=caller.user,
                api_key=caller.api_key,
                client_ip=call.client_ip,
                user_agent=call.user_agent,
                overrides=TurnOverrides(
                    temperature=body.temperature, max_tokens=body.max_completion_tokens or body.max_tokens
                ),
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
    completion_id = f"chatcmpl-{secrets.token_hex(12)}"

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
                yield _chunk(completion_id, body.model, created, {}, "stop")
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
                body_ = error_body(error)
                body_["error"] = {"message": error.description, "type": "api_error", "code": error.error_class}
                yield f"data: {json.dumps(body_)}\n\n".encode()
                return

    return DoorAnswer(200, headers=dict(STREAM_HEADERS), stream=chunks())


@api_door(("POST",))
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


@api_door(("GET",))
async def models(request: HttpRequest) -> HttpResponseBase:
    caller = await require_caller(request, feature=OPENAI_COMPATIBLE_ENDPOINT)

    def listing() -> list[dict[str, Any]]:
        return [
            {
                "id": chatbot.name,
                "object": "model",
                "created": int(chatbot.created_at.timestamp()),
                "owned_by": caller.account.account_number,
            }
            for chatbot in chatbots_of(caller.account)
        ]

    return JsonResponse({"object": "list", "data": await in_db_thread(listing)})
