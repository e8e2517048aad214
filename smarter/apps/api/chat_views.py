"""`/api/v1/chatbots/<name>/chat/` and `/config/`: chat with a chatbot of your account."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smarter.apps.account.caller import Caller
from smarter.apps.api.async_door import (
    api_door,
    client_ip,
    event_stream,
    json_body,
    require_caller_and_chatbot,
    sse,
    sse_error,
)
from smarter.apps.api.errors import internal_error
from smarter.apps.chat.config import chat_config
from smarter.apps.chat.pipeline import run_turn, run_turn_events
from smarter.apps.chat.turns import TokenEvent, ToolCallEvent, ToolResultEvent, TurnDone, TurnEvent, TurnInput
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import FieldError, NotFound, SmarterError, ValidationFailed
from smarter.lib.manifests import field_errors

logger = logging.getLogger(__name__)

MAX_PROMPT_CHARACTERS = 32_000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARACTERS)
    session_key: str | None = Field(None, max_length=64)
    stream: bool = False


def parse(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise ValidationFailed(
            "The request is invalid; fix the fields listed in errors.", errors=field_errors(error)
        ) from None


async def chatbot_of(caller: Caller, name: str) -> Chatbot:
    chatbot = await in_db_thread(chatbot_get, account=caller.account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found in your account.", context={"kind": "Chatbot", "name": name})
    return chatbot


def sse_frame(event: TurnEvent) -> bytes:
    if isinstance(event, TokenEvent):
        return sse("token", {"text": event.text})
    if isinstance(event, ToolCallEvent):
        return sse("tool_call", event.as_dict())
    if isinstance(event, ToolResultEvent):
        return sse("tool_result", event.as_dict())
    assert isinstance(event, TurnDone)
    return sse("done", event.result.as_body())


async def stream_turn(turn: TurnInput) -> HttpResponseBase:
    """Errors before the first event get their real status; later ones arrive as `event: error`."""
    events = run_turn_events(turn)
    first = await anext(events)

    async def frames() -> AsyncIterator[bytes]:
        try:
            yield sse_frame(first)
            async for event in events:
                yield sse_frame(event)
        except SmarterError as error:
            yield sse_error(error)
        except Exception:
            # The status line is sent: a bug becomes an error event, never a cut connection.
            logger.exception("unhandled error in a chat stream")
            yield sse_error(internal_error())
        finally:
            # Closed early (the client left): the turn closes now, cancelling the upstream call
            # and recording what it consumed.
            await events.aclose()

    return event_stream(frames())


@api_door(("POST",))
async def chat(request: HttpRequest, name: str) -> HttpResponseBase:
    caller, chatbot = await require_caller_and_chatbot(request, name)
    body = parse(ChatRequest, json_body(request))
    turn = TurnInput(
        account=caller.account,
        chatbot=chatbot,
        channel="api",
        prompt=body.prompt,
        session_key=body.session_key,
        stream=body.stream,
        user=caller.user,
        api_key=caller.api_key,
        client_ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    if body.stream:
        return await stream_turn(turn)
    result = await run_turn(turn)
    return JsonResponse(result.as_body())


@api_door(("GET", "POST"))
async def config(request: HttpRequest, name: str) -> HttpResponseBase:
    _, chatbot = await require_caller_and_chatbot(request, name)
    session_key = request.GET.get("session_key") or (
        json_body(request).get("session_key") if request.method == "POST" else None
    )
    if session_key is not None and not isinstance(session_key, str):
        raise ValidationFailed(
            "session_key must be a string.", errors=[FieldError("session_key", "Input should be a valid string")]
        )
    return JsonResponse(await in_db_thread(chat_config, chatbot=chatbot, session_key=session_key))
