"""A chatbot's chat configuration as its UI needs it: branding, and the session's history."""

from __future__ import annotations

from typing import Any

from smarter.apps.chat import selectors
from smarter.apps.chatbot import hosts
from smarter.apps.chatbot.models import Chatbot

VISIBLE_ROLES = ("user", "assistant")


def chat_config(*, chatbot: Chatbot, session_key: str | None) -> dict[str, Any]:
    """The public part of a chatbot (never its prompt, plugins or keys) and, for a known session
    of this chatbot, its visible history."""
    chat = (
        selectors.chat_get(account=chatbot.account, session_key=session_key, chatbot=chatbot) if session_key else None
    )
    history = []
    if chat is not None:
        history = [
            {"role": message.role, "content": message.content}
            for message in selectors.recent_messages(chat, limit=100)
            if message.role in VISIBLE_ROLES and message.content
        ]
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
