"""Writing a turn (pipeline step 7): its session, the turn, its messages, tool calls, plugin
decisions and billing outbox row, in one transaction, in one trip to a database thread.

A turn that ran is always written, whatever happens to the request meanwhile: the write runs on
a task of its own that the request's cancellation (a client that disconnects) does not reach.

Rows are written with prepared statements from plain values (`smarter.lib.prepared`): a turn
writes every time, and compiling ORM queries or building model instances cost more than the
database's own work. Each table's rows of the turn go in one multi-row statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from smarter.apps.account.billing import limits as billing_limits
from smarter.apps.account.billing import services as billing_services
from smarter.apps.account.pricing import token_cost
from smarter.apps.chat import turn_metrics
from smarter.apps.chat.citations import turn_citations
from smarter.apps.chat.models import Chat, ChatMessage, PluginSelection, ToolCall, Turn
from smarter.apps.chat.providers.base import Message, Usage
from smarter.apps.chat.turns import ToolResultEvent, TurnInput
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.selection import SelectionDecision
from smarter.lib import prepared
from smarter.lib.db_threads import in_db_thread

logger = logging.getLogger(__name__)


@dataclass
class TurnRecord:
    """Everything a finished (or failed) turn writes."""

    turn: TurnInput
    chat_id: int | None  # the stored session it continues; None: a new session
    session_key: str
    provider: str
    model: str
    plugins: list[Plugin]
    decisions: list[SelectionDecision]
    reservation: billing_limits.Reservation | None
    new_messages: list[Message]
    tool_events: list[tuple[int, Plugin | None, ToolResultEvent]]
    usage: Usage
    rounds: int
    latency_ms: float
    request_messages: list[dict[str, Any]]
    error: str = ""
    cancelled: bool = False  # the client went away before the answer was complete


@dataclass(frozen=True)
class Recorded:
    turn_id: int
    cost: Decimal  # priced when written: the price table is in the database
    index: int = 0  # the turn's 1-based index in its session


# Writes in progress: the event loop keeps only weak references to tasks.
_writing: set[asyncio.Task[Any]] = set()


def _detached(work: Awaitable[Any]) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(work)
    _writing.add(task)

    def done(finished: asyncio.Task[Any]) -> None:
        _writing.discard(finished)
        if not finished.cancelled() and finished.exception() is not None:
            logger.error("a turn could not be written", exc_info=finished.exception())

    task.add_done_callback(done)
    return task


async def turn_record(record: TurnRecord) -> Recorded:
    """Write the turn; its id and cost. A caller cancelled meanwhile (a client leaving at the
    last moment) stops waiting, not the write."""
    return await asyncio.shield(_detached(in_db_thread(_write_and_count, record)))


async def turn_record_later(prepare: Awaitable[None], record: TurnRecord) -> None:
    """Finish `prepare` (waiting for running plugins, say), then write the turn, all on a task of
    its own: waited for here, and finished even if the caller is cancelled again."""

    async def work() -> None:
        await prepare
        await in_db_thread(_write_and_count, record)

    # A failure is logged by the task; the caller's own exit (a disconnect) goes on.
    with contextlib.suppress(Exception):
        await asyncio.shield(_detached(work()))


def _write_and_count(record: TurnRecord) -> Recorded:
    recorded = turn_write(record)
    turn_metrics.turn_observe(record, recorded.cost)  # once committed: a rolled-back turn is not counted
    return recorded


@transaction.atomic
def turn_write(record: TurnRecord) -> Recorded:
    now = timezone.now()
    head = _write_head(record, now)
    prepared.insert_many(
        ChatMessage,
        [_message_row(head, offset, message, now) for offset, message in enumerate(record.new_messages, start=1)],
    )
    prepared.insert_many(
        ToolCall,
        [_tool_call_row(head, number, plugin, event, now) for number, plugin, event in record.tool_events],
    )
    prepared.insert_many(
        PluginSelection,
        [
            _selection_row(head, plugin, decision, now)
            for plugin, decision in zip(record.plugins, record.decisions, strict=True)
        ],
    )
    usage = record.usage
    cost = token_cost(
        provider=record.provider,
        model=record.model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )
    turn = record.turn
    # Billing: the outbox row commits with the turn; its charges are written after commit.
    billing_services.usage_event_record(
        account=turn.account,
        turn_id=head.turn_id,
        created_at=now,
        user=turn.user,
        api_key=turn.api_key,
        chatbot_id=turn.chatbot.pk,
        chatbot_name=turn.chatbot.name,
        session_key=record.session_key,
        channel=turn.channel,
        provider=record.provider,
        model=record.model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        tools=[
            billing_services.ToolUse(name=event.tool, is_plugin=plugin is not None)
            for _, plugin, event in record.tool_events
            if event.ran  # a call refused by the per-round cap ran nothing
        ],
        cost=cost,
    )
    if record.reservation is not None:
        reservation, used = record.reservation, usage.total_tokens
        transaction.on_commit(lambda: billing_limits.budget_settle(reservation=reservation, actual_tokens=used))
    return Recorded(head.turn_id, cost, head.index)


@dataclass(frozen=True)
class _Head:
    chat_id: int
    turn_id: int
    last_sequence: int  # the session's last message sequence before this turn's
    index: int  # the turn's 1-based index in its session


def _write_head(record: TurnRecord, now: datetime) -> _Head:
    """The session row (a new session) or its lock (a stored one), and the turn row."""
    turn = record.turn
    if record.chat_id is None:
        # A new session: its row, and nothing for another turn of it to race with yet.
        chat_id = prepared.insert(
            Chat,
            {
                "session_key": record.session_key,
                "account_id": turn.account.pk,
                "chatbot_id": turn.chatbot.pk,
                "channel": turn.channel,
                "user_id": turn.user.pk if turn.user is not None else None,
                "api_key_id": turn.api_key.pk if turn.api_key is not None else None,
                "uid": turn.uid[:128],
                "client_ip": turn.client_ip,
                "user_agent": turn.user_agent[:500],
                "created_at": now,
            },
        )
        last_sequence, index = 0, 1
    else:
        chat_id = record.chat_id
        # The row lock orders concurrent turns of one session, so sequences never collide.
        Chat.objects.select_for_update().filter(pk=chat_id).values_list("pk", flat=True).get()
        last_sequence = ChatMessage.objects.filter(chat_id=chat_id).aggregate(last=Max("sequence"))["last"] or 0
        index = (Turn.objects.filter(chat_id=chat_id).aggregate(last=Max("index"))["last"] or 0) + 1
        Chat.objects.filter(pk=chat_id).update(updated_at=now)
    turn_id = prepared.insert(
        Turn,
        {
            "chat_id": chat_id,
            "index": index,
            "provider": record.provider,
            "model": record.model,
            "rounds": record.rounds,
            "prompt_tokens": record.usage.prompt_tokens,
            "completion_tokens": record.usage.completion_tokens,
            "total_tokens": record.usage.total_tokens,
            "latency_ms": round(record.latency_ms, 2),
            "status": _status(record),
            "error": record.error[:2000],
            "request_messages": record.request_messages,
            "citations": _citations(record),
            "created_at": now,
        },
    )
    return _Head(chat_id, turn_id, last_sequence, index)


def _citations(record: TurnRecord) -> list[dict[str, Any]] | None:
    """What the answer's `citations` said, for the history a reloaded page shows again."""
    citations = turn_citations(record.tool_events)
    return list(citations) if citations is not None else None


def _status(record: TurnRecord) -> str:
    if record.cancelled:
        return Turn.Status.CANCELLED.value
    return Turn.Status.ERROR.value if record.error else Turn.Status.OK.value


def _message_row(head: _Head, offset: int, message: Message, now: datetime) -> dict[str, Any]:
    return {
        "chat_id": head.chat_id,
        "turn_id": head.turn_id,
        "sequence": head.last_sequence + offset,
        "role": message.role,
        "content": message.content,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.raw_arguments or json.dumps(c.arguments)}
            for c in message.tool_calls
        ],
        "tool_call_id": message.tool_call_id or "",
        "created_at": now,
    }


def _tool_call_row(
    head: _Head, round_number: int, plugin: Plugin | None, event: ToolResultEvent, now: datetime
) -> dict[str, Any]:
    return {
        "turn_id": head.turn_id,
        "chat_id": head.chat_id,
        "round": round_number,
        "call_id": event.call_id[:128],
        "tool_name": event.tool[:64],
        "plugin_id": plugin.pk if plugin else None,
        "plugin_name": (plugin.name if plugin else event.tool)[:64],
        "arguments": event.arguments,
        "result": _jsonable(event.result),
        "error": (event.error or "")[:2000],
        "executed": _jsonable(event.executed),
        "ms": round(event.ms, 3),
        "created_at": now,
    }


def _selection_row(head: _Head, plugin: Plugin, decision: SelectionDecision, now: datetime) -> dict[str, Any]:
    return {
        "turn_id": head.turn_id,
        "chat_id": head.chat_id,
        "plugin_id": plugin.pk,
        "plugin_name": decision.plugin,
        "selected": decision.selected,
        "rule": decision.rule,
        "term": decision.matched_term or "",
        "matched_in": decision.where or "",
        "created_at": now,
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None
