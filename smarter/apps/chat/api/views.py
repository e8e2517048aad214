"""`/api/v1/chatbots/<name>/chat/`, `/config/` and `/feedback/`: chat with a chatbot of your
account, and rate its answers."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase

from smarter.apps.chat.api.callers import require_caller_and_chatbot
from smarter.apps.chat.config import chat_config
from smarter.apps.chat.doors import ChatRequest, FeedbackRequest, feedback_rate, turn_frames
from smarter.apps.chat.pipeline import run_turn
from smarter.apps.chat.turns import TurnInput
from smarter.lib.client_address import client_ip
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import FieldError, ValidationFailed
from smarter.lib.http.body import json_body, parse
from smarter.lib.http.doors import api_door
from smarter.lib.http.sse import event_stream


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
        return event_stream(await turn_frames(turn))
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


@api_door(("POST",))
async def feedback(request: HttpRequest, name: str) -> HttpResponseBase:
    """A rating of one answer of a session of this chatbot, made through any channel."""
    caller, chatbot = await require_caller_and_chatbot(request, name)
    body = parse(FeedbackRequest, json_body(request))
    return JsonResponse(
        await feedback_rate(
            body,
            account=caller.account,
            chatbot=chatbot,
            client_ip=client_ip(request),
            api_key=caller.api_key,
            user_id=caller.user.pk if caller.api_key is None else None,
        )
    )
