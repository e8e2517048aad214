"""A deployed chatbot's public surface: the branded page, `/config/`, `/chat/`, `/feedback/` and
`/widget.js`.

The chat endpoints take the same request body as the REST chat door and answer with the same SSE
frames and error envelope (from the chat app and `smarter.lib.http`, which every door shares), and
run the one turn pipeline with `channel="public"`. They need no cookie to authenticate (they are
public, or need the chatbot's own API key), so they are exempt from CSRF; their POSTs take JSON
only, so another site cannot post to them without a CORS preflight.

Two cookies on the chatbot's host remember a visitor: `smarter_visitor`, a random id given with
the first turn, and `smarter_chat`, their session, so a reload shows the history. A page resumes
only sessions it started for that visitor (channel `public`, made with the same visitor cookie):
a session of the API, the cli or the sandbox, or another visitor's, is never shown nor stored in
the cookie. A turn may continue a public session named by its key (a browser that refuses the
cookies keeps the key in the page), never another channel's.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.views.decorators.clickjacking import xframe_options_exempt

from smarter.apps.account.credentials import caller_from_authorization
from smarter.apps.account.models import ApiKey
from smarter.apps.chat import selectors as chat_selectors
from smarter.apps.chat.config import chat_config
from smarter.apps.chat.doors import ChatRequest, FeedbackRequest, feedback_rate, for_visitors, turn_frames
from smarter.apps.chat.pipeline import run_turn
from smarter.apps.chat.turns import TurnInput
from smarter.apps.chatbot import hosts
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.public import refusals
from smarter.apps.chatbot.routing import routed_chatbot
from smarter.lib.client_address import client_ip
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import NotAuthenticated, NotFound, SmarterError, ValidationFailed
from smarter.lib.http.body import json_body, parse, require_json
from smarter.lib.http.doors import api_door
from smarter.lib.http.errors import error_response
from smarter.lib.http.sse import event_stream

SESSION_COOKIE = "smarter_chat"
SESSION_COOKIE_SECONDS = 30 * 24 * 3600
SESSION_KEY_MAX = 64
VISITOR_COOKIE = "smarter_visitor"
NOT_DEPLOYED = "This chatbot is not deployed."
WIDGET_COLOR = "#4f46e5"  # the launcher's colour unless the script tag's data-color says otherwise
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
PublicView = Callable[[HttpRequest, Chatbot], Awaitable[HttpResponseBase]]


# --- who may call, and from where --------------------------------------------------------------
def allowed_origins(chatbot: Chatbot) -> list[str]:
    """Origins that may frame the page and call the chat endpoints: the chatbot's own hosts and
    the origins listed in its `spec.config.allowedOrigins`."""
    return list(dict.fromkeys([*hosts.host_origins(chatbot), *chatbot.allowed_origins]))


def content_security_policy(chatbot: Chatbot) -> str:
    ancestors = " ".join(["'self'", *allowed_origins(chatbot)])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
        f"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )


def _with_cors(request: HttpRequest, response: HttpResponseBase, chatbot: Chatbot) -> HttpResponseBase:
    origin = request.headers.get("Origin")
    response["Vary"] = "Origin"
    if origin and origin in allowed_origins(chatbot):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Max-Age"] = "600"
    return response


def _required_key(chatbot: Chatbot, header: str) -> ApiKey | None:
    """A chatbot with `spec.apiKey` answers only to that key (any other, even valid, is refused)."""
    if chatbot.api_key_id is None:
        return None
    caller = caller_from_authorization(header)
    if caller is None or caller.api_key is None or caller.api_key.pk != chatbot.api_key_id:
        raise NotAuthenticated("This chatbot needs its API key: send 'Authorization: Token <key>'.")
    return caller.api_key


async def _current_chatbot(request: HttpRequest) -> Chatbot | None:
    chatbot_id = getattr(request, "chatbot_id", None)
    return await in_db_thread(routed_chatbot, chatbot_id) if chatbot_id else None


def public_endpoint(methods: tuple[str, ...]) -> Callable[[PublicView], Any]:
    """The chatbot this host routes to, CORS for its allowed origins (preflight included), and the
    API's error envelope for every refusal."""

    def decorate(view: PublicView) -> Any:
        inner = api_door(methods)(view)

        @wraps(view)
        async def wrapper(request: HttpRequest) -> HttpResponseBase:
            chatbot = await _current_chatbot(request)
            if chatbot is None:
                return error_response(NotFound(NOT_DEPLOYED))
            if request.method == "OPTIONS":
                response: HttpResponseBase = HttpResponse(status=204)
            else:
                response = await inner(request, chatbot)
            return _with_cors(request, response, chatbot)

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # no cookie authenticates here
        return wrapper

    return decorate


# --- the visitor's cookies ---------------------------------------------------------------------
def _cookie_session(request: HttpRequest) -> str | None:
    value = request.COOKIES.get(SESSION_COOKIE, "")
    return value if 0 < len(value) <= SESSION_KEY_MAX else None


def _cookie_visitor(request: HttpRequest) -> str | None:
    value = request.COOKIES.get(VISITOR_COOKIE, "")
    return value if _VISITOR_ID.match(value) else None


def visitor_uid(visitor: str) -> str:
    """What a public session stores of its visitor: a digest, so the database holds no cookie."""
    return "visitor:" + hashlib.sha256(visitor.encode()).hexdigest()


def _set_cookie(response: HttpResponseBase, name: str, value: str) -> None:
    secure = bool(settings.SMARTER.https)
    response.set_cookie(
        name,
        value,
        max_age=SESSION_COOKIE_SECONDS,
        path="/",
        httponly=True,
        secure=secure,
        # Framed by another site (the widget), a Lax cookie is not sent; over HTTPS it may be.
        samesite="None" if secure else "Lax",
    )


def _remember_session(response: HttpResponseBase, session_key: str | None) -> None:
    if session_key is None:
        response.delete_cookie(SESSION_COOKIE, path="/")
        return
    _set_cookie(response, SESSION_COOKIE, session_key)


def _visitor_session(chatbot: Chatbot, session_key: str | None, visitor: str | None) -> str | None:
    """`session_key` when it names a session this chatbot's page started for this visitor."""
    if not session_key or not visitor:
        return None
    chat = chat_selectors.visitor_chat_get(chatbot=chatbot, session_key=session_key, visitor_uid=visitor_uid(visitor))
    return chat.session_key if chat is not None else None


def _public_session(chatbot: Chatbot, session_key: str) -> tuple[bool, str | None]:
    """(exists, its visitor uid) for a session named to `/chat/`: only a public session counts."""
    chat = chat_selectors.chat_get(account=chatbot.account, session_key=session_key, chatbot=chatbot)
    if chat is None or chat.channel != "public":
        return False, None
    return True, chat.uid


# --- the endpoints -----------------------------------------------------------------------------
@public_endpoint(("GET", "POST"))
async def config(request: HttpRequest, chatbot: Chatbot) -> HttpResponseBase:
    """The chatbot's public config and, for the visitor's session (cookie, `?session_key=` or body),
    its history. Naming one of the visitor's sessions here also stores it in the cookie; naming any
    other leaves the cookie as it is (a link cannot replace nor drop a visitor's session).
    `{"new_session": true}` (the page's "New chat") forgets the cookie's session: the next turn
    starts a new one."""
    await in_db_thread(_required_key, chatbot, request.headers.get("Authorization", ""))
    if request.method == "POST":
        require_json(request)
        if json_body(request).get("new_session") is True:
            fresh = JsonResponse(await in_db_thread(chat_config, chatbot=chatbot, session_key=None))
            _remember_session(fresh, None)
            return fresh
    asked = request.GET.get("session_key") or (
        json_body(request).get("session_key") if request.method == "POST" else None
    )
    named = asked if isinstance(asked, str) and asked else None
    cookie = _cookie_session(request)
    session_key = await in_db_thread(_visitor_session, chatbot, named or cookie, _cookie_visitor(request))
    body = await in_db_thread(chat_config, chatbot=chatbot, session_key=session_key)
    response = JsonResponse(body)
    if session_key is not None:
        _remember_session(response, session_key)
    elif named is None and cookie is not None:
        _remember_session(response, None)  # a stale cookie, or one naming no session of this visitor
    return response


@public_endpoint(("POST",))
async def chat(request: HttpRequest, chatbot: Chatbot) -> HttpResponseBase:
    """One turn, with the same bodies as `/api/v1/chatbots/<name>/chat/` (SSE when `stream`)."""
    api_key = await in_db_thread(_required_key, chatbot, request.headers.get("Authorization", ""))
    require_json(request)
    body = parse(ChatRequest, json_body(request))
    visitor = _cookie_visitor(request) or secrets.token_urlsafe(24)
    uid = visitor_uid(visitor)
    if body.session_key:
        # A session named in the body must be one of this chatbot's public ones (404 otherwise).
        exists, owner_uid = await in_db_thread(_public_session, chatbot, body.session_key)
        if not exists:
            raise NotFound(
                "No such chat session for this chatbot; omit session_key to start a new one.",
                context={"kind": "Chat", "name": body.session_key},
            )
        session_key: str | None = body.session_key
        ours = owner_uid == uid
    else:
        # The cookie's session, if it is this visitor's; else (stale, or not theirs) a new one.
        session_key = await in_db_thread(_visitor_session, chatbot, _cookie_session(request), visitor)
        ours = True
    turn = TurnInput(
        account=chatbot.account,
        chatbot=chatbot,
        channel="public",
        prompt=body.prompt,
        session_key=session_key,
        uid=uid,
        stream=body.stream,
        api_key=api_key,
        client_ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:500],
    )
    if body.stream:
        # The session key of a new chat is known only at the end of the stream: the page names
        # it to /config/ then, which stores the cookie.
        stream = event_stream(await turn_frames(turn))
        _set_cookie(stream, VISITOR_COOKIE, visitor)
        if session_key and ours:
            _remember_session(stream, session_key)
        return stream
    try:
        result = await run_turn(turn)
    except SmarterError as error:
        shown = for_visitors(error)
        if shown is error:
            raise
        raise shown from error
    response = JsonResponse(result.as_body())
    _set_cookie(response, VISITOR_COOKIE, visitor)
    if ours:
        _remember_session(response, result.session_key)
    return response


@public_endpoint(("POST",))
async def feedback(request: HttpRequest, chatbot: Chatbot) -> HttpResponseBase:
    """A visitor's rating of one answer of a session this page started (channel `public`; a
    session of another channel is not found), with the same origin, key and JSON rules as
    `/chat/`, rate limited per visitor's address."""
    await in_db_thread(_required_key, chatbot, request.headers.get("Authorization", ""))
    require_json(request)
    body = parse(FeedbackRequest, json_body(request))
    return JsonResponse(
        await feedback_rate(
            body, account=chatbot.account, chatbot=chatbot, client_ip=client_ip(request), channels=("public",)
        )
    )


def _branding(chatbot: Chatbot) -> dict[str, Any]:
    return {
        "name": chatbot.name,
        "appName": chatbot.app_name or chatbot.name,
        "appAssistant": chatbot.app_assistant,
        "appWelcomeMessage": chatbot.app_welcome_message,
        "appExamplePrompts": chatbot.app_example_prompts,
        "appPlaceholder": chatbot.app_placeholder or "Type your message…",
        "appInfoUrl": chatbot.app_info_url or None,
        "appLogoUrl": chatbot.app_logo_url or None,
        "appBackgroundImageUrl": chatbot.app_background_image_url or None,
        "requiresKey": chatbot.api_key_id is not None,
    }


@xframe_options_exempt  # framing is governed by the CSP's frame-ancestors instead
async def page(request: HttpRequest) -> HttpResponseBase:
    chatbot = await _current_chatbot(request)
    if chatbot is None:
        return refusals.not_found(request, NOT_DEPLOYED)
    if request.method not in ("GET", "HEAD"):
        return HttpResponse("Use GET.\n", status=405, content_type="text/plain; charset=utf-8")
    branding = _branding(chatbot)
    html = render_to_string(
        "chatbot/public/page.html",
        {"branding": branding, "embedded": request.GET.get("embedded") == "1"},
        request=request,
    )
    response = HttpResponse(html)
    response["Content-Security-Policy"] = content_security_policy(chatbot)
    response["Cache-Control"] = "no-cache"
    return response


async def widget(request: HttpRequest) -> HttpResponseBase:
    """The embeddable widget: a launcher button and a panel framing this chatbot's page."""
    chatbot = await _current_chatbot(request)
    if chatbot is None:
        return refusals.not_found(request, NOT_DEPLOYED)
    branding = _branding(chatbot)
    options = {
        "name": chatbot.name,
        "pageUrl": request.build_absolute_uri("/?embedded=1"),
        "configUrl": request.build_absolute_uri("/config/"),
        "color": WIDGET_COLOR,
        "appName": branding["appName"],
        "appAssistant": branding["appAssistant"],
        "appLogoUrl": branding["appLogoUrl"],
    }
    # `<` escaped so the JSON can never close a script element it is pasted into.
    literal = json.dumps(options).replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    script = render_to_string("chatbot/public/widget.js", {"options": literal})
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return refusals.not_found(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return refusals.refusal(request, ValidationFailed("The request is malformed."))
