"""Recent history of a chatbot or a chat session, as `logs` shows it: per-turn tokens and cost."""

from __future__ import annotations

from typing import Any

from smarter.apps.account.models import Account
from smarter.apps.account.pricing import token_cost
from smarter.apps.chat import selectors
from smarter.apps.chat.models import Turn
from smarter.apps.chatbot.models import Chatbot
from smarter.lib.errors import NotFound

LOG_TURNS = 50


def turn_line(turn: Turn) -> dict[str, Any]:
    prompt = next((m.content for m in turn.messages.all() if m.role == "user"), "")
    answer = next((m.content for m in reversed(turn.messages.all()) if m.role == "assistant"), "")
    return {
        "at": turn.created_at.isoformat(),
        "sessionKey": turn.chat.session_key,
        "turn": turn.index,
        "channel": turn.chat.channel,
        "status": turn.status,
        "error": turn.error or None,
        "provider": turn.provider,
        "model": turn.model,
        "prompt": prompt,
        "answer": answer,
        "toolCalls": [
            {"plugin": call.plugin_name, "arguments": call.arguments, "error": call.error or None, "ms": call.ms}
            for call in turn.tool_calls.all()
        ],
        "selected": [selection.plugin_name for selection in turn.selections.all() if selection.selected],
        "promptTokens": turn.prompt_tokens,
        "completionTokens": turn.completion_tokens,
        "totalTokens": turn.total_tokens,
        "cost": float(
            token_cost(
                provider=turn.provider,
                model=turn.model,
                prompt_tokens=turn.prompt_tokens,
                completion_tokens=turn.completion_tokens,
            )
        ),
        "latencyMs": turn.latency_ms,
    }


def _lines(turns: Any) -> list[dict[str, Any]]:
    recent = turns.prefetch_related("messages", "tool_calls", "selections")[:LOG_TURNS]
    return [turn_line(turn) for turn in recent]


def chatbot_logs(*, account: Account, chatbot: Chatbot) -> dict[str, Any]:
    return {"chatbot": chatbot.name, "turns": _lines(selectors.turns_of(account, chatbot=chatbot))}


def chat_logs(*, account: Account, session_key: str) -> dict[str, Any]:
    chat = selectors.chat_get(account=account, session_key=session_key)
    if chat is None:
        raise NotFound(
            f"Chat {session_key!r} was not found in your account.", context={"kind": "Chat", "name": session_key}
        )
    return {
        "chat": chat.session_key,
        "chatbot": chat.chatbot.name,
        "turns": _lines(selectors.turns_of(account, chat=chat)),
    }
