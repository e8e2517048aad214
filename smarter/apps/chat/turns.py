"""The values that cross the turn pipeline: what a door asks for, and what the turn yields.

A door builds a `TurnInput`, iterates `run_turn_events(...)` (or awaits `run_turn(...)`), and
renders the events its own way: JSON, server-sent events, OpenAI chunks or a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User

from smarter.apps.account.models import Account, ApiKey
from smarter.apps.chat.providers.base import Message, ToolCall, Usage
from smarter.apps.chatbot.models import Chatbot


@dataclass(frozen=True)
class TurnOverrides:
    """Per-session changes a prompt engineer tries in the sandbox; the saved chatbot is untouched."""

    system_role: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    plugins: tuple[str, ...] | None = None


# Channels whose answers go to the public (a deployed chatbot's visitors, a messaging channel's
# contacts): what the platform's operator configured stays out of what they read.
PUBLIC_CHANNELS = frozenset({"public", "whatsapp", "twilio"})


@dataclass(frozen=True)
class TurnInput:
    account: Account
    chatbot: Chatbot
    channel: str
    # Either a new user prompt in a stored session, or (the OpenAI door) the client's own messages.
    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    session_key: str | None = None
    uid: str = ""
    new_session: bool = False
    stream: bool = False
    user: User | None = None
    api_key: ApiKey | None = None
    client_ip: str | None = None
    user_agent: str = ""
    overrides: TurnOverrides = field(default_factory=TurnOverrides)
    # The OpenAI door: the client's own tools (OpenAI function schemas, names already distinct),
    # offered to the model beside the chatbot's; a call of one ends the turn and goes back to the
    # client (`TurnResult.client_tool_calls`), it never runs here. With them, the client's
    # `tool_choice` and further OpenAI parameters (`ProviderRequest.parameters`).
    client_tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def for_public(self) -> bool:
        return self.channel in PUBLIC_CHANNELS


@dataclass(frozen=True)
class TokenEvent:
    text: str


@dataclass(frozen=True)
class ToolCallEvent:
    call_id: str
    tool: str
    plugin: str | None
    arguments: dict[str, Any]
    round: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.call_id,
            "tool": self.tool,
            "plugin": self.plugin,
            "arguments": self.arguments,
            "round": self.round,
        }


@dataclass(frozen=True)
class ToolResultEvent:
    call_id: str
    tool: str
    plugin: str | None
    arguments: dict[str, Any]
    result: Any
    error: str | None
    ms: float
    executed: Any = None
    ran: bool = True  # False: refused by the per-round cap, never executed (and not charged)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.call_id, "plugin": self.plugin or self.tool, "arguments": self.arguments}
        if self.error is None:
            body["result"] = self.result
        else:
            body["error"] = self.error
        body["ms"] = round(self.ms, 2)
        return body


@dataclass(frozen=True)
class TurnResult:
    """The whole answer, as every door's final body is built from it."""

    session_key: str
    turn_id: int
    content: str
    tool_calls: tuple[ToolResultEvent, ...]
    usage: Usage
    cost: Decimal
    provider: str
    model: str
    finish_reason: str
    latency_ms: float
    # The chunks the turn's knowledge plugins retrieved; None when none ran (`citations.py`).
    citations: tuple[dict[str, Any], ...] | None = None
    # The turn's 1-based index in its session (`Turn.index`): what feedback on this answer names.
    index: int = 0
    # The calls of the client's own tools that ended the turn (`finish_reason` "tool_calls").
    client_tool_calls: tuple[ToolCall, ...] = ()

    def as_body(self) -> dict[str, Any]:
        """API.md's chat body: `session_key`, `turn` (the answer's index in its session),
        `message`, `tool_calls`, `usage` (with cost), and `citations` when a knowledge plugin ran
        (an empty list when it found nothing), and `finish_reason: "length"` when the model stopped
        at its token limit."""
        body: dict[str, Any] = {
            "session_key": self.session_key,
            "turn": self.index,
            "message": {"role": "assistant", "content": self.content},
            "tool_calls": [call.as_dict() for call in self.tool_calls],
            "usage": {**self.usage.as_dict(), "cost": float(self.cost)},
        }
        if self.citations is not None:
            body["citations"] = list(self.citations)
        if self.finish_reason == "length":
            # Only a cut-short answer says so: the chat page marks it, and a client can ask for more.
            body["finish_reason"] = "length"
        return body


@dataclass(frozen=True)
class TurnDone:
    result: TurnResult


TurnEvent = TokenEvent | ToolCallEvent | ToolResultEvent | TurnDone
