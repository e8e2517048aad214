"""A chatbot's chat configuration as its UI needs it: branding, and the session's history."""

from __future__ import annotations

from typing import Any

from smarter.apps.chat import selectors
from smarter.apps.chat.models import Chat
from smarter.apps.chatbot import hosts
from smarter.apps.chatbot.models import Chatbot

VISIBLE_ROLES = ("user", "assistant")
HISTORY_LIMIT = 100


def chat_config(*, chatbot: Chatbot, session_key: str | None) -> dict[str, Any]:
    """The public part of a chatbot (never its prompt, plugins or keys) and, for a known session
    of this chatbot, its visible history."""
    chat = (
        selectors.chat_get(account=chatbot.account, session_key=session_key, chatbot=chatbot) if session_key else None
    )
    history = _visible_history(chat) if chat is not None else []
    return {
        "session_key": chat.session_key if chat is not None else None,
        "chatbot": {
            "name": chatbot.name,
            "appName": chatbot.app_name or chatbot.name,
            "appAssistant": chatbot.app_assistant,
            "appWelcomeMessage": chatbot.app_welcome_message,
            "appExamplePrompts": chatbot.app_example_prompts,
            "appPlaceholder": chatbot.app_placeholder,
            "appInfoUrl": chatbot.app_info_url or None,
            "appLogoUrl": chatbot.app_logo_url or None,
            "appBackgroundImageUrl": chatbot.app_background_image_url or None,
            "deployed": chatbot.deployed,
            "url": hosts.default_url(chatbot),
            "accountNumber": chatbot.account.account_number,
        },
        "history": history,
    }


def _visible_history(chat: Chat) -> list[dict[str, Any]]:
    """The session's user and assistant messages; the answer of a turn that ran a knowledge
    plugin carries that turn's `citations`, as the turn's own body did, so a reloaded page shows
    its sources again. A turn's answer is its last assistant message with text (those before
    it, if any, only led to tool calls)."""
    messages = [
        message
        for message in selectors.recent_messages(chat, limit=HISTORY_LIMIT)
        if message.role in VISIBLE_ROLES and message.content
    ]
    answers = {message.turn_id: message for message in messages if message.role == "assistant"}
    citations = selectors.turn_citations_of(chat, answers)
    history = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.role == "assistant" and answers[message.turn_id] is message and message.turn_id in citations:
            item["citations"] = citations[message.turn_id]
        history.append(item)
    return history
