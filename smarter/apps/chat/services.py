"""Every write of the chat app. Turns are written by the pipeline, through `recording.turn_write`."""

from __future__ import annotations

from collections.abc import Collection

from django.contrib.auth.models import User
from django.db import transaction

from smarter.apps.account.billing import services as billing_services
from smarter.apps.account.models import Account
from smarter.apps.chat import selectors
from smarter.apps.chat.models import Chat, Feedback
from smarter.apps.chatbot.models import Chatbot
from smarter.lib.errors import NotFound


def chat_delete(*, chat: Chat) -> None:
    """Forget a session: its turns, messages, tool calls and selections go with it."""
    chat.delete()


@transaction.atomic
def feedback_record(
    *,
    account: Account,
    chatbot: Chatbot,
    session_key: str,
    turn: int,
    rating: str | None,
    comment: str,
    channels: Collection[str] | None = None,
    user: User | None = None,
) -> Feedback:
    """A visitor's rating (`up`, `down`, or None: no rating) and comment on the answer of turn
    `turn` of a session of this chatbot, replacing what they said of it before; counted in usage.

    `channels`: the door accepts only sessions it serves (a deployed chatbot's page: `public`);
    `user`: only that console user's sessions (the sandbox). Any other session, like another
    account's or another chatbot's, is not found; so is a turn the session does not have."""
    chat = selectors.chat_get(account=account, session_key=session_key, chatbot=chatbot)
    if (
        chat is None
        or (channels is not None and chat.channel not in channels)
        or (user is not None and chat.user_id != user.pk)
    ):
        raise NotFound("No such chat session for this chatbot.", context={"kind": "Chat", "name": session_key})
    # The session's row lock orders two ratings of one session: the second replaces the first.
    Chat.objects.select_for_update().filter(pk=chat.pk).values_list("pk", flat=True).get()
    answered = selectors.session_turn(chat, turn)
    if answered is None:
        raise NotFound(f"This session has no turn {turn}.", context={"kind": "Turn", "name": f"{session_key}#{turn}"})
    feedback, _ = Feedback.objects.update_or_create(
        turn=answered, defaults={"chat": chat, "rating": rating or "", "comment": comment}
    )
    billing_services.turn_rating_record(account=account, turn_id=answered.pk, rating=rating)
    return feedback
