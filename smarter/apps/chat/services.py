"""Every write of the chat app. Turns are written by the pipeline, through `recording.turn_write`."""

from __future__ import annotations

from smarter.apps.chat.models import Chat


def chat_delete(*, chat: Chat) -> None:
    """Forget a session: its turns, messages, tool calls and selections go with it."""
    chat.delete()
