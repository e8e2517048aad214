"""cli verbs that chat: `chat/<chatbot>/` (sessions per `uid`), `chat/config/<chatbot>/`, `logs/<kind>/`.

They are journaled like every cli command; the turn itself is the one pipeline's.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from rest_framework.request import Request
from rest_framework.response import Response

from smarter.apps.api.cli.base import CliView
from smarter.apps.api.openapi import cli_operation
from smarter.apps.chat.config import chat_config
from smarter.apps.chat.doors import ChatRequest
from smarter.apps.chat.logs import chat_logs, chatbot_logs
from smarter.apps.chat.pipeline import run_turn
from smarter.apps.chat.turns import TurnInput
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.lib.client_address import client_ip
from smarter.lib.errors import FieldError, NotFound, ValidationFailed
from smarter.lib.http.body import MAX_CHAT_BODY_BYTES, parse
from smarter.lib.manifests import broker_for


def _chatbot(request: Request, name: str) -> Any:
    chatbot = chatbot_get(account=request.auth.account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found in your account.", context={"kind": "Chatbot", "name": name})
    return chatbot


class CliChatView(CliView):
    command = "chat"
    http_method_names = ["post", "options"]
    max_body_bytes = MAX_CHAT_BODY_BYTES  # as on every chat door

    @cli_operation("One chat turn; the session continues per ?uid= unless ?new_session=true")
    def post(self, request: Request, name: str) -> Response:
        self.note(kind="Chatbot", name=name)
        body = request.data if isinstance(request.data, dict) else {}
        prompt = parse(ChatRequest, {"prompt": body.get("prompt", ""), "session_key": body.get("session_key")})
        chatbot = _chatbot(request, name)
        caller = request.auth
        result = async_to_sync(run_turn)(
            TurnInput(
                account=caller.account,
                chatbot=chatbot,
                channel="cli",
                prompt=prompt.prompt,
                session_key=prompt.session_key,
                uid=request.query_params.get("uid", ""),
                new_session=request.query_params.get("new_session", "").lower() in ("1", "true", "yes"),
                user=caller.user,
                api_key=caller.api_key,
                client_ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        )
        return self.respond("Chat", result.as_body())


class CliChatConfigView(CliView):
    command = "chat_config"

    @cli_operation("A chatbot's chat configuration (branding and, with ?session_key=, history)")
    def handle(self, request: Request, name: str) -> Response:
        self.note(kind="Chatbot", name=name)
        chatbot = _chatbot(request, name)
        return self.respond(
            "Chatbot", chat_config(chatbot=chatbot, session_key=request.query_params.get("session_key"))
        )

    get = post = handle


class LogsView(CliView):
    command = "logs"

    @cli_operation("Recent turns of a chatbot or of a chat session, with tokens and cost", with_name=True)
    def handle(self, request: Request, kind: str, name: str | None = None) -> Response:
        broker = broker_for(kind)
        name = name or request.query_params.get("name")
        self.note(kind=broker.kind, name=name)
        if not name:
            raise ValidationFailed("Say which one: add ?name=<name>.", errors=[FieldError("name", "required")])
        account = request.auth.account
        if broker.kind == "Chatbot":
            return self.respond("Chatbot", chatbot_logs(account=account, chatbot=_chatbot(request, name)))
        if broker.kind in ("Chat", "ChatHistory"):
            return self.respond("Chat", chat_logs(account=account, session_key=name))
        raise ValidationFailed(
            f"logs are kept for chatbots and chats, not {broker.kind}.",
            errors=[FieldError("kind", "must be Chatbot or Chat")],
        )

    get = post = handle
