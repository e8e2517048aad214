"""The sandbox: chat with a chatbot while overriding its prompt, model and plugins for this
session only, and inspect every turn (plugins selected, tool calls, messages, tokens, cost).

The turn endpoint is an async view so a streamed answer holds no thread; it runs the one turn
pipeline and frames its events as every door does (`smarter.apps.chat.doors`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET
from pydantic import BaseModel, ConfigDict, Field

from smarter.apps.account.caller import Caller
from smarter.apps.account.credentials import SESSION_ACCOUNT_KEY
from smarter.apps.account.selectors import caller_for_user
from smarter.apps.chat.doors import MAX_PROMPT_CHARACTERS, FeedbackRequest, feedback_rate, sse_frame
from smarter.apps.chat.pipeline import run_turn_events
from smarter.apps.chat.turns import TurnDone, TurnInput, TurnOverrides
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import attached_plugins, chatbot_get
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.apps.dashboard.selectors import turn_inspection
from smarter.apps.plugin.selectors import plugins_of
from smarter.lib.client_address import client_ip
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import MethodNotAllowed, NotAuthenticated, NotFound, SmarterError
from smarter.lib.http.body import json_body, parse, require_json
from smarter.lib.http.errors import error_response, internal_error
from smarter.lib.http.sse import event_stream, sse, sse_error

logger = logging.getLogger(__name__)


class Overrides(BaseModel):
    """What the prompt engineer changed for this session; absent fields keep the chatbot's own."""

    model_config = ConfigDict(extra="forbid")

    system_role: str | None = Field(None, max_length=16384)
    model: str | None = Field(None, max_length=255)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    plugins: list[str] | None = Field(None, max_length=128)


class SandboxTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARACTERS)
    session_key: str | None = Field(None, max_length=64)
    overrides: Overrides = Field(default_factory=Overrides)


@require_GET
@console_page()
def sandbox(request: HttpRequest, name: str) -> HttpResponse:
    caller = caller_of(request)
    chatbot = chatbot_get(account=caller.account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found.")
    attached = {plugin.name for plugin in attached_plugins(chatbot)}
    context = {
        "chatbot": chatbot,
        "plugins": [(plugin, plugin.name in attached) for plugin in plugins_of(caller.account)],
    }
    return page(request, "dashboard/sandbox.html", context)


@require_GET
@console_page()
def turn_detail(request: HttpRequest, name: str, turn_id: int) -> HttpResponse:
    """The inspector's view of one turn of this chatbot, scoped to the caller's account."""
    caller = caller_of(request)
    chatbot = chatbot_get(account=caller.account, name=name)
    details = turn_inspection(account=caller.account, chatbot=chatbot, turn_id=turn_id) if chatbot else None
    if details is None:
        return error_response(NotFound("No such turn in your account.", context={"kind": "Turn"}))
    return JsonResponse(details)


async def _session_caller(request: HttpRequest) -> Caller:
    user = await request.auser()
    if not user.is_authenticated:
        raise NotAuthenticated("Sign in to the console to use the sandbox.")
    account_id = await request.session.aget(SESSION_ACCOUNT_KEY)
    caller = await in_db_thread(caller_for_user, user, account_id)
    if caller is None:
        raise NotFound("Your user is not a member of any active account.")
    return caller


async def _chatbot_of(caller: Caller, name: str) -> Chatbot:
    chatbot = await in_db_thread(chatbot_get, account=caller.account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found in your account.", context={"kind": "Chatbot", "name": name})
    return chatbot


async def sandbox_turn(request: HttpRequest, name: str) -> HttpResponseBase:
    """One streamed turn. Session-authenticated, and CSRF-checked like every console POST (the
    page sends the token in the X-CSRFToken header)."""
    try:
        if request.method != "POST":
            raise MethodNotAllowed("Use POST here.")
        caller = await _session_caller(request)
        require_json(request)
        body = parse(SandboxTurn, json_body(request))
        chatbot = await _chatbot_of(caller, name)
        overrides = body.overrides
        turn = TurnInput(
            account=caller.account,
            chatbot=chatbot,
            channel="sandbox",
            prompt=body.prompt,
            session_key=body.session_key,
            stream=True,
            user=caller.user,
            client_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:500],
            overrides=TurnOverrides(
                system_role=overrides.system_role,
                model=overrides.model or None,
                temperature=overrides.temperature,
                max_tokens=overrides.max_tokens,
                plugins=tuple(overrides.plugins) if overrides.plugins is not None else None,
            ),
        )
        events = run_turn_events(turn)
        first = await anext(events)
    except SmarterError as error:
        return error_response(error)
    except Exception:
        logger.exception("sandbox turn failed")
        return error_response(internal_error())

    async def frames() -> AsyncIterator[bytes]:
        async for event in _prepend(first, events):
            yield sse_frame(event)
            if isinstance(event, TurnDone):
                # The REST door's `done` body has no turn id; the inspector needs it.
                yield sse("turn", _turn_summary(event))
        return

    return event_stream(_guarded(frames()))


async def sandbox_feedback(request: HttpRequest, name: str) -> HttpResponseBase:
    """The sandbox's rating of one of its answers: the body of the API's `/feedback/`, for a
    sandbox session of the signed-in user only. CSRF-checked like every console POST."""
    try:
        if request.method != "POST":
            raise MethodNotAllowed("Use POST here.")
        caller = await _session_caller(request)
        require_json(request)
        body = parse(FeedbackRequest, json_body(request))
        chatbot = await _chatbot_of(caller, name)
        answer = await feedback_rate(
            body,
            account=caller.account,
            chatbot=chatbot,
            client_ip=client_ip(request),
            user_id=caller.user.pk,
            channels=("sandbox",),
            user=caller.user,
        )
    except SmarterError as error:
        return error_response(error)
    except Exception:
        logger.exception("sandbox feedback failed")
        return error_response(internal_error())
    return JsonResponse(answer)


async def _prepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for event in rest:
        yield event


async def _guarded(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Errors after the first event arrive as `event: error`, as on the REST door."""
    try:
        async for frame in frames:
            yield frame
    except SmarterError as error:
        yield sse_error(error)


def _turn_summary(event: TurnDone) -> dict[str, Any]:
    result = event.result
    return {
        "turn_id": result.turn_id,
        "model": result.model,
        "provider": result.provider,
        "latency_ms": round(result.latency_ms, 1),
        "cost": float(result.cost),
    }
