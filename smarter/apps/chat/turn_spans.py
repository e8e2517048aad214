"""The spans of a turn, named and attributed after the OpenTelemetry GenAI semantic conventions
(`smarter.lib.tracing.SEMCONV_VERSION`):

    invoke_agent {chatbot}          INTERNAL  the turn: the chatbot is an agent that runs here, in
      chat {model}                  CLIENT    process, so the conventions' "invoke agent internal
        POST (aiohttp)              CLIENT    span" rather than a CLIENT one; one per model call
      execute_tool {tool}           INTERNAL  one per tool call, siblings of the model calls
      ...                                     (and the database, Redis and Celery spans)

The pipeline only decorates and wraps (`traced_turn`, `turn_planned`, `traced_provider`,
`traced_tool`); everything here does nothing while tracing is off. Prompts, answers, tool
arguments and results are put on spans only when `SMARTER_OTEL_CAPTURE_CONTENT` is on.
No account id, user id or key is ever an attribute; the session key (`gen_ai.conversation.id`)
is an identifier of the conversation, not a secret.

The turn runs as an async generator, consumed by each door in its own task: the turn span is made
current only while the generator runs a step, never across a `yield`, so it never leaks into the
consumer. Tasks and worker threads started during a step copy the context (asyncio and asgiref
do), so the tools running concurrently on `in_worker_thread` are children of the turn.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from smarter.apps.chat.providers.base import (
    ChatProvider,
    Completed,
    Message,
    ProviderEvent,
    ProviderReply,
    ProviderRequest,
)
from smarter.apps.chat.providers.base import ToolCall as ModelToolCall
from smarter.apps.chat.turns import TurnDone, TurnEvent
from smarter.lib import tracing
from smarter.lib.errors import SmarterError, UpstreamError, UpstreamTimeout
from smarter.lib.observability import turn_id_var

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from smarter.apps.plugin.execution import PluginResult
    from smarter.apps.plugin.models import Plugin
    from smarter.apps.plugin.tools import ToolSet

Source = TypeVar("Source")

# Our model calls speak OpenAI's protocol, whoever serves it (the conventions name the client's
# product; `server.address` tells the actual server). The offline model is our own.
OFFLINE_PROVIDER = "smarter.offline"


def provider_name(provider: str) -> str:
    return OFFLINE_PROVIDER if provider == "offline" else "openai"


def error_type(error: BaseException) -> str:
    """A low-cardinality `error.type`: the upstream's HTTP status, `timeout`, or the error's class."""
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, SmarterError):
        status = error.context.get("upstreamStatus")
        return str(status) if status else error.error_class
    return type(error).__qualname__


def _failed(span: Span, error: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(error)
    span.set_attribute("error.type", error_type(error))
    span.set_status(Status(StatusCode.ERROR, getattr(error, "description", None)))


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


# --- message content (only with capture on) --------------------------------------------------------
def _tool_call_part(call: ModelToolCall) -> dict[str, Any]:
    arguments: Any = call.raw_arguments if call.error else call.arguments
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments}


def _message(message: Message) -> dict[str, Any]:
    """A message in the conventions' shape: a role and typed parts."""
    if message.role == "tool":
        return {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": message.tool_call_id, "response": message.content}],
        }
    parts: list[dict[str, Any]] = [{"type": "text", "content": message.content}] if message.content else []
    parts.extend(_tool_call_part(call) for call in message.tool_calls)
    return {"role": message.role, "parts": parts}


def _input_content(messages: Sequence[Message]) -> dict[str, str]:
    system = [{"type": "text", "content": m.content} for m in messages if m.role == "system"]
    conversation = [_message(m) for m in messages if m.role != "system"]
    content = {"gen_ai.input.messages": _json(conversation)}
    if system:
        content["gen_ai.system_instructions"] = _json(system)
    return content


def _output_content(text: str, calls: Sequence[ModelToolCall], finish_reason: str) -> dict[str, str]:
    message = _message(Message.assistant(text, calls))
    return {"gen_ai.output.messages": _json([{**message, "finish_reason": finish_reason}])}


# --- the turn ------------------------------------------------------------------------------------
def traced_turn(
    run: Callable[[Source], AsyncGenerator[TurnEvent, None]],
) -> Callable[[Source], AsyncGenerator[TurnEvent, None]]:
    """Decorates `run_turn_events`: the turn's events inside an `invoke_agent` span."""

    @functools.wraps(run)
    def events(source: Source) -> AsyncGenerator[TurnEvent, None]:
        if not tracing.enabled():
            return run(source)
        return _traced_events(run(source))

    return events


async def _traced_events(inner: AsyncGenerator[TurnEvent, None]) -> AsyncGenerator[TurnEvent, None]:
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind

    span = tracing.tracer(__name__).start_span(
        "invoke_agent", kind=SpanKind.INTERNAL, attributes={"gen_ai.operation.name": "invoke_agent"}
    )
    current = trace.set_span_in_context(span)
    try:
        while True:
            try:
                event = await _next_within(current, inner)
            except StopAsyncIteration:
                return
            if isinstance(event, TurnDone):
                _turn_done(span, event)
            yield event
    except BaseException as error:
        if not isinstance(error, GeneratorExit | asyncio.CancelledError):  # a client leaving is no failure
            _failed(span, error)
            recorded = turn_id_var.get()  # a model's failure is recorded, and bound before it is raised
            if isinstance(error, UpstreamError | UpstreamTimeout) and recorded.isdigit():
                span.set_attribute("smarter.turn.id", int(recorded))
        raise
    finally:
        # A consumer that stops early closes us: the pipeline records the abandoned turn while
        # closing, still inside the turn.
        token = context.attach(current)
        try:
            await inner.aclose()
        finally:
            context.detach(token)
            span.end()


async def _next_within(current: Any, inner: AsyncGenerator[Any, None]) -> Any:
    """`inner`'s next event, produced with `current` as the context (its span the parent)."""
    from opentelemetry import context

    token = context.attach(current)
    try:
        return await inner.__anext__()
    finally:
        context.detach(token)


def _turn_done(span: Span, done: TurnDone) -> None:
    result = done.result
    span.set_attributes(
        {
            "smarter.turn.id": result.turn_id,
            "gen_ai.response.finish_reasons": [result.finish_reason],
            "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": result.usage.completion_tokens,
        }
    )
    if tracing.capture_content():
        span.set_attributes(_output_content(result.content, (), result.finish_reason))


def turn_planned(
    *, chatbot: str, channel: str, session_key: str, provider: str, model: str, messages: Sequence[Message]
) -> None:
    """What the turn is, once planned: its span's name and request attributes."""
    if not tracing.enabled():
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    span.update_name(f"invoke_agent {chatbot}")
    span.set_attributes(
        {
            "gen_ai.agent.name": chatbot,
            "gen_ai.provider.name": provider_name(provider),
            "gen_ai.request.model": model,
            "gen_ai.conversation.id": session_key,
            "smarter.provider": provider,
            "smarter.channel": channel,
        }
    )
    if tracing.capture_content():
        span.set_attributes(_input_content(messages))


# --- model calls ---------------------------------------------------------------------------------
def traced_provider(provider: ChatProvider, *, provider_key: str) -> ChatProvider:
    """`provider` whose calls are `chat {model}` CLIENT spans (itself while tracing is off)."""
    if not tracing.enabled():
        return provider
    return _TracedProvider(provider, provider_key, getattr(provider, "base_url", None))


class _TracedProvider:
    def __init__(self, inner: ChatProvider, provider_key: str, base_url: str | None) -> None:
        from opentelemetry import trace

        self.inner = inner
        self.name = inner.name
        self.turn_span = trace.get_current_span()  # made inside the turn's step
        self.attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider_name(provider_key),
        }
        if base_url:
            url = urlsplit(base_url)
            self.attributes["server.address"] = url.hostname
            self.attributes["server.port"] = url.port or (443 if url.scheme == "https" else 80)

    def _start(self, request: ProviderRequest, *, stream: bool) -> Span:
        from opentelemetry.trace import SpanKind

        attributes = {**self.attributes, "gen_ai.request.model": request.model, "gen_ai.request.stream": stream}
        if request.temperature is not None:
            attributes["gen_ai.request.temperature"] = request.temperature
        if request.max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = request.max_tokens
        if tracing.capture_content():
            attributes.update(_input_content(request.messages))
        return tracing.tracer(__name__).start_span(f"chat {request.model}", kind=SpanKind.CLIENT, attributes=attributes)

    def _replied(self, span: Span, reply: ProviderReply) -> None:
        finish_reason = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        span.set_attributes(
            {
                "gen_ai.response.model": reply.model,
                "gen_ai.response.finish_reasons": [finish_reason],
                "gen_ai.usage.input_tokens": reply.usage.prompt_tokens,
                "gen_ai.usage.output_tokens": reply.usage.completion_tokens,
            }
        )
        if tracing.capture_content():
            span.set_attributes(_output_content(reply.content, reply.tool_calls, finish_reason))
        self.turn_span.set_attribute("gen_ai.response.model", reply.model)

    async def complete(self, request: ProviderRequest) -> ProviderReply:
        from opentelemetry import trace

        span = self._start(request, stream=False)
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                reply = await self.inner.complete(request)
            except Exception as error:
                _failed(span, error)
                raise
            self._replied(span, reply)
            return reply

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderEvent, None]:
        from opentelemetry import trace

        span = self._start(request, stream=True)
        current = trace.set_span_in_context(span)
        inner = self.inner.stream(request)
        try:
            while True:
                try:  # within the call's span: the HTTP request's span is a child of this one
                    event = await _next_within(current, inner)
                except StopAsyncIteration:
                    return
                if isinstance(event, Completed):
                    self._replied(span, event.reply)
                yield event
        except Exception as error:
            _failed(span, error)
            raise
        finally:
            await inner.aclose()
            span.end()


# --- tool calls ----------------------------------------------------------------------------------
Ran = tuple["Plugin | None", "PluginResult"]


def traced_tool(run_tool: Callable[[ToolSet, ModelToolCall], Ran]) -> Callable[[ToolSet, ModelToolCall], Ran]:
    """Decorates the pipeline's `_run_tool`: each call an `execute_tool {tool}` span, on the worker
    thread it runs on (whose context is the turn's: `in_worker_thread` copies it)."""

    @functools.wraps(run_tool)
    def run(toolset: ToolSet, call: ModelToolCall) -> Ran:
        if not tracing.enabled():
            return run_tool(toolset, call)
        return _traced_tool(run_tool, toolset, call)

    return run


def _traced_tool(run_tool: Callable[[ToolSet, ModelToolCall], Ran], toolset: ToolSet, call: ModelToolCall) -> Ran:
    from opentelemetry.trace import SpanKind, Status, StatusCode

    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
        "gen_ai.tool.type": "function",
    }
    capture = tracing.capture_content()
    if capture:
        attributes["gen_ai.tool.call.arguments"] = call.raw_arguments if call.error else _json(call.arguments)
    with tracing.tracer(__name__).start_as_current_span(
        f"execute_tool {call.name}", kind=SpanKind.INTERNAL, attributes=attributes, set_status_on_exception=False
    ) as span:
        try:
            plugin, result = run_tool(toolset, call)
        except Exception as error:
            _failed(span, error)
            raise
        if plugin is not None:
            span.set_attribute("smarter.plugin.class", plugin.plugin_class)
        if result.error is not None:
            # The plugin failed (or the call could not run): the model gets the error as the result.
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR, result.error if capture else None))
        if capture:
            span.set_attribute("gen_ai.tool.call.result", _json(result.for_model()))
        return plugin, result
