"""Reads of a chatbot's conversations for the console: its sessions from every channel, filtered
and searched, one session's transcript, and the turns of the filtered sessions for export.
Every read takes the account and scopes by it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from smarter.apps.account.models import Account
from smarter.apps.account.pricing import token_cost
from smarter.apps.chat.models import Chat, ChatMessage, Feedback, ToolCall, Turn
from smarter.apps.chatbot.models import Chatbot

RATINGS = ("up", "down", "any", "none")
PREVIEW_CHARACTERS = 120


@dataclass(frozen=True)
class ConversationFilters:
    """What the console narrows a chatbot's sessions by; an empty field does not narrow."""

    text: str = ""  # in any message of the session
    start: date | None = None  # sessions started on or after this day
    end: date | None = None  # ... and on or before this day
    channel: str = ""
    rating: str = ""  # up | down | any (rated) | none (no rating)
    errors_only: bool = False


def _count(queryset: QuerySet[Any]) -> Any:
    """A per-session count as a subquery: several counts joined at once would multiply rows."""
    counted = queryset.filter(chat=OuterRef("pk")).order_by().values("chat").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def conversations_of(*, account: Account, chatbot: Chatbot, filters: ConversationFilters) -> QuerySet[Chat]:
    """The chatbot's sessions matching `filters`, newest first, each with `turn_count`,
    `thumbs_up`, `thumbs_down`, `error_count` and `last_message`."""
    chats = Chat.objects.filter(account=account, chatbot=chatbot)
    if filters.text:
        chats = chats.filter(Exists(ChatMessage.objects.filter(chat=OuterRef("pk"), content__icontains=filters.text)))
    if filters.start is not None:
        chats = chats.filter(created_at__gte=_midnight(filters.start))
    if filters.end is not None:
        chats = chats.filter(created_at__lt=_midnight(filters.end + timedelta(days=1)))
    if filters.channel:
        chats = chats.filter(channel=filters.channel)
    rated = Feedback.objects.filter(chat=OuterRef("pk")).exclude(rating="")
    if filters.rating in ("up", "down"):
        chats = chats.filter(Exists(rated.filter(rating=filters.rating)))
    elif filters.rating == "any":
        chats = chats.filter(Exists(rated))
    elif filters.rating == "none":
        chats = chats.filter(~Exists(rated))
    if filters.errors_only:
        chats = chats.filter(Exists(Turn.objects.filter(chat=OuterRef("pk"), status=Turn.Status.ERROR)))
    last_message = (
        ChatMessage.objects.filter(chat=OuterRef("pk"), role__in=("user", "assistant"))
        .exclude(content="")
        .order_by("-sequence")
        .values("content")[:1]
    )
    return chats.annotate(
        turn_count=_count(Turn.objects.all()),
        thumbs_up=_count(Feedback.objects.filter(rating=Feedback.Rating.UP)),
        thumbs_down=_count(Feedback.objects.filter(rating=Feedback.Rating.DOWN)),
        error_count=_count(Turn.objects.filter(status=Turn.Status.ERROR)),
        last_message=Subquery(last_message),
    ).order_by("-created_at", "-id")


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def preview(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= PREVIEW_CHARACTERS else text[: PREVIEW_CHARACTERS - 1] + "…"


# --- one session ------------------------------------------------------------------------------
@dataclass
class TranscriptTurn:
    """One turn as the transcript shows it: its messages, tool calls, usage and feedback."""

    turn: Turn
    cost: Decimal
    messages: list[ChatMessage] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    feedback: Feedback | None = None


@dataclass(frozen=True)
class Transcript:
    chat: Chat
    turns: list[TranscriptTurn]


def conversation_get(*, account: Account, chatbot: Chatbot, session_key: str) -> Transcript | None:
    """Every message of one session of the chatbot, turn by turn; None outside the account."""
    chat = Chat.objects.filter(account=account, chatbot=chatbot, session_key=session_key).first()
    if chat is None:
        return None
    turns = {
        turn.pk: TranscriptTurn(turn=turn, cost=_cost(turn))
        for turn in Turn.objects.filter(chat=chat).order_by("index")
    }
    for message in ChatMessage.objects.filter(chat=chat).order_by("sequence"):
        turns[message.turn_id].messages.append(message)
    for call in ToolCall.objects.filter(chat=chat).order_by("id"):
        turns[call.turn_id].tool_calls.append(call)
    for feedback in Feedback.objects.filter(chat=chat):
        turns[feedback.turn_id].feedback = feedback
    return Transcript(chat=chat, turns=list(turns.values()))


def _cost(turn: Turn) -> Decimal:
    return token_cost(
        provider=turn.provider,
        model=turn.model,
        prompt_tokens=turn.prompt_tokens,
        completion_tokens=turn.completion_tokens,
    )


# --- export -----------------------------------------------------------------------------------
EXPORT_COLUMNS = (
    "session_key",
    "turn",
    "channel",
    "time",
    "prompt",
    "answer",
    "rating",
    "comment",
    "tokens",
    "cost",
    "status",
)


def conversation_turns(*, account: Account, chatbot: Chatbot, filters: ConversationFilters) -> Iterator[dict[str, Any]]:
    """One row per turn of the matching sessions (sessions newest first, turns in order), with
    EXPORT_COLUMNS; read in chunks, so an export of many sessions holds few rows at a time."""
    sessions = conversations_of(account=account, chatbot=chatbot, filters=filters)
    prompt = ChatMessage.objects.filter(turn=OuterRef("pk"), role="user").order_by("-sequence").values("content")[:1]
    answer = (
        ChatMessage.objects.filter(turn=OuterRef("pk"), role="assistant")
        .exclude(content="")
        .order_by("-sequence")
        .values("content")[:1]
    )
    turns = (
        Turn.objects.filter(chat__in=sessions.values("pk"))
        .select_related("chat", "feedback")
        .annotate(prompt=Subquery(prompt), answer=Subquery(answer))
        .order_by("-chat__created_at", "-chat_id", "index")
    )
    for turn in turns.iterator(chunk_size=500):
        feedback = _feedback_of(turn)
        yield {
            "session_key": turn.chat.session_key,
            "turn": turn.index,
            "channel": turn.chat.channel,
            "time": turn.created_at.isoformat(),
            "prompt": getattr(turn, "prompt", None) or "",
            "answer": getattr(turn, "answer", None) or "",
            "rating": (feedback.rating or None) if feedback is not None else None,
            "comment": feedback.comment if feedback is not None else "",
            "tokens": turn.total_tokens,
            "cost": f"{_cost(turn):f}",
            "status": turn.status,
        }


def _feedback_of(turn: Turn) -> Feedback | None:
    try:
        return turn.feedback
    except Feedback.DoesNotExist:
        return None


def filter_query(filters: ConversationFilters) -> dict[str, str]:
    """The filters as the console's query string carries them (for links and exports)."""
    query = {
        "q": filters.text,
        "start": filters.start.isoformat() if filters.start else "",
        "end": filters.end.isoformat() if filters.end else "",
        "channel": filters.channel,
        "rating": filters.rating,
        "errors_only": "1" if filters.errors_only else "",
    }
    return {key: value for key, value in query.items() if value}
