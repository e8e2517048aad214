"""The one interface every LLM provider implements, and the values that cross it.

The turn pipeline builds a `ProviderRequest` (messages, tools as OpenAI function schemas, model
settings) and either awaits `complete()` for a whole `ProviderReply` or iterates `stream()` for
`TextDelta`s, whole `ToolCallReady`s and a final `Completed` carrying the same reply. These are
plain frozen values: nothing here knows Django or HTTP, so the pipeline, the sandbox
and tests can build them directly.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]

DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for.

    `arguments` is the parsed JSON object. When the model sent arguments that are not a JSON
    object, `arguments` is empty, `raw_arguments` keeps what was sent and `error` says what is
    wrong, so the pipeline can hand that back to the model as the tool's result.
    """

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    raw_arguments: str = ""
    error: str | None = None

    @classmethod
    def from_raw(cls, id: str, name: str, raw_arguments: str) -> ToolCall:
        text = raw_arguments.strip() or "{}"
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            return cls(id, name, {}, raw_arguments, f"arguments are not valid JSON: {error.msg}")
        if not isinstance(parsed, dict):
            return cls(id, name, {}, raw_arguments, "arguments must be a JSON object")
        return cls(id, name, parsed, raw_arguments)

    def as_openai(self) -> dict[str, Any]:
        """The call as it appears in an assistant message of the OpenAI protocol."""
        arguments = self.raw_arguments if self.error else json.dumps(self.arguments)
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": arguments}}


@dataclass(frozen=True)
class Message:
    """One message of the conversation sent to the model.

    An assistant message may carry `tool_calls`; each `tool` message answers one of them by
    `tool_call_id` and carries the tool's result, already serialised, in `content`.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls("assistant", content, tuple(tool_calls))

    @classmethod
    def tool(cls, tool_call_id: str, content: str, name: str | None = None) -> Message:
        return cls("tool", content, tool_call_id=tool_call_id, name=name)

    def as_openai(self) -> dict[str, Any]:
        """The message as a dict of the OpenAI Chat Completions protocol."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            # An assistant message that only calls tools has no content (null), not "".
            message["content"] = self.content or None
            message["tool_calls"] = [call.as_openai() for call in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


@dataclass(frozen=True)
class ProviderRequest:
    """One call to a model.

    `tools` are OpenAI function schemas (`{"type": "function", "function": {"name",
    "description", "parameters"}}`). `timeout` bounds, in seconds, the wait for the upstream:
    for `complete()` the whole answer, for `stream()` the first event and each gap between
    events, so a long answer that keeps coming is not cut off while a silent one is.

    `tool_choice` is a word (`auto`, `none`, `required`), a tool's name, or OpenAI's own object
    (`{"type": "function", "function": {"name"}}`). `parameters` are further OpenAI request
    parameters a client set (`response_format`, `seed`, `stop`, `user`, `parallel_tool_calls`),
    already validated by the door: an upstream gets them as they are; the offline provider
    honours `stop` and is never handed the others.
    """

    messages: Sequence[Message]
    model: str
    tools: Sequence[dict[str, Any]] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    tool_choice: str | dict[str, Any] | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # The answer goes to the public (a deployed chatbot's visitor): a provider says nothing
    # there about how the platform is configured.
    for_public: bool = False


@dataclass(frozen=True)
class Usage:
    """Tokens of one model call. `estimated` when the upstream did not report them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int, *, estimated: bool = False) -> Usage:
        return cls(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens, estimated)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.estimated or other.estimated,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class ProviderReply:
    """The model's whole answer to one request: text, tool calls, or both."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    model: str
    provider: str
    finish_reason: str | None = None

    def as_message(self) -> Message:
        """The assistant message to append to the conversation before the tool results."""
        return Message.assistant(self.content, self.tool_calls)


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text, in order; the pieces joined are the whole text."""

    text: str


@dataclass(frozen=True)
class ToolCallReady:
    """A tool call, whole: its argument fragments have all arrived and been assembled."""

    tool_call: ToolCall


@dataclass(frozen=True)
class Completed:
    """The last event of a stream: the same reply `complete()` would have returned."""

    reply: ProviderReply


ProviderEvent = TextDelta | ToolCallReady | Completed


@runtime_checkable
class ChatProvider(Protocol):
    """What the turn pipeline calls. Errors are `UpstreamError` (502) or `UpstreamTimeout` (504).

    A provider object is cheap and holds the credentials of one caller; build one per turn with
    `provider_for(...)` rather than sharing it between accounts.
    """

    name: str

    async def complete(self, request: ProviderRequest) -> ProviderReply: ...

    def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]: ...


E = TypeVar("E", bound=BaseException)
_CONSUMED = "smarter_consumed_usage"


def with_consumed(error: E, usage: Usage) -> E:
    """Mark a provider failure with what the upstream consumed before it: an answer that broke
    after the upstream accepted the request (cut short, unreadable, silent mid-stream) is billed."""
    setattr(error, _CONSUMED, usage)
    return error


def consumed_by(error: BaseException) -> Usage:
    """What a failed call consumed upstream (`with_consumed`); nothing when it failed before the
    upstream answered (refused, unreachable, an error status)."""
    usage = getattr(error, _CONSUMED, None)
    return usage if isinstance(usage, Usage) else Usage()


def estimate_tokens(text: str) -> int:
    """About four characters per token: the usual rule of thumb for English text."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def estimate_prompt_tokens(request: ProviderRequest) -> int:
    """A deterministic estimate of the prompt's tokens: its messages and tool schemas as sent."""
    text = json.dumps([message.as_openai() for message in request.messages])
    if request.tools:
        text += json.dumps(list(request.tools))
    return estimate_tokens(text)
