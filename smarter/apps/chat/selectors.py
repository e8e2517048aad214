"""Reads of the chat app; every one takes the account and scopes by it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from smarter.apps.account.models import Account
from smarter.apps.chat.models import Chat, ChatMessage, PluginSelection, ToolCall, Turn
from smarter.apps.chatbot.models import Chatbot

HISTORY_MESSAGES = 40


def chats_of(account: Account) -> QuerySet[Chat]:
    return Chat.objects.filter(account=account).select_related("chatbot")


def chat_get(*, account: Account, session_key: str, chatbot: Chatbot | None = None) -> Chat | None:
    chats = chats_of(account).filter(session_key=session_key)
    if chatbot is not None:
        chats = chats.filter(chatbot=chatbot)
    return chats.first()


def visitor_chat_get(*, chatbot: Chatbot, session_key: str, visitor_uid: str) -> Chat | None:
    """A session a deployed chatbot's page may resume: one it started (channel `public`) for this
    visitor. Sessions of other channels and other visitors are not found."""
    return (
        chats_of(chatbot.account)
        .filter(chatbot=chatbot, session_key=session_key, channel="public", uid=visitor_uid)
        .first()
    )


def latest_cli_chat(*, account: Account, chatbot: Chatbot, uid: str) -> Chat | None:
    return chats_of(account).filter(chatbot=chatbot, channel="cli", uid=uid).order_by("-created_at", "-id").first()


def recent_messages(chat: Chat, limit: int = HISTORY_MESSAGES) -> list[ChatMessage]:
    """The newest `limit` messages of a session, oldest first."""
    newest = list(ChatMessage.objects.filter(chat=chat).order_by("-sequence")[:limit])
    return newest[::-1]


def turn_citations_of(chat: Chat, turn_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The recorded `citations` of those turns of the session that ran a knowledge plugin, by turn id."""
    rows = Turn.objects.filter(chat=chat, pk__in=set(turn_ids), citations__isnull=False)
    return {turn_id: list(citations or ()) for turn_id, citations in rows.values_list("pk", "citations")}


def session_turn(chat: Chat, index: int) -> Turn | None:
    """The turn of a session by its 1-based index (the chat body's `turn`)."""
    return Turn.objects.filter(chat=chat, index=index).first()


def turns_of(account: Account, *, chatbot: Chatbot | None = None, chat: Chat | None = None) -> QuerySet[Turn]:
    turns = Turn.objects.filter(chat__account=account).select_related("chat", "chat__chatbot")
    if chatbot is not None:
        turns = turns.filter(chat__chatbot=chatbot)
    if chat is not None:
        turns = turns.filter(chat=chat)
    return turns.order_by("-created_at", "-id")


def tool_calls_of(account: Account) -> QuerySet[ToolCall]:
    return ToolCall.objects.filter(chat__account=account).select_related("chat", "turn").order_by("-created_at", "-id")


def selections_of(account: Account) -> QuerySet[PluginSelection]:
    return (
        PluginSelection.objects.filter(chat__account=account)
        .select_related("chat", "turn")
        .order_by("-created_at", "-id")
    )


def messages_of(account: Account) -> QuerySet[ChatMessage]:
    return ChatMessage.objects.filter(chat__account=account).select_related("chat").order_by("-created_at", "-id")
