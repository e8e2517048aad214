"""THE turn pipeline. Every door (REST, cli, OpenAI-compatible, deployed page, sandbox) calls
`run_turn_events` or `run_turn` and only adapts input and output.

1. the door authenticates and resolves the chatbot (its account is the tenant);
2. the session and a bounded history are loaded from the database;
3. limits are checked (rate and budget: the billing layer);
4. plugins are selected for this turn, each decision recorded;
5. messages and tool schemas are built and the provider is called, streaming where asked;
6. while the model asks for tools, up to MAX_TOOL_ROUNDS rounds: each tool runs safely and its
   result (or error) goes back to the model; at most SMARTER_MAX_TOOL_CALLS_PER_ROUND calls of
   one reply run, the others are answered with an error;
7. the turn, its messages, tool calls and selections are written in one transaction
   (`recording.turn_write`), whether it answered, failed or was abandoned by its client;
8. the result is returned for the door to render.

Database work runs on a small pool of threads (`in_db_thread`) and plugins on a larger one
(`in_worker_thread`), so hundreds of slow completions in flight hold no thread while they wait on
the model, and a slow plugin holds up no other turn's database work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from django.conf import settings

from smarter.apps.account import pricing
from smarter.apps.account.billing import limits as billing_limits
from smarter.apps.chat import selectors, turn_metrics, turn_spans
from smarter.apps.chat.citations import turn_citations
from smarter.apps.chat.models import Chat
from smarter.apps.chat.providers.base import (
    Completed,
    Message,
    ProviderReply,
    ProviderRequest,
    TextDelta,
    Usage,
    consumed_by,
    estimate_prompt_tokens,
    estimate_tokens,
)
from smarter.apps.chat.providers.base import ToolCall as ModelToolCall
from smarter.apps.chat.providers.factory import provider_for
from smarter.apps.chat.providers.offline import OFFLINE_MODEL
from smarter.apps.chat.recording import TurnRecord, turn_record, turn_record_later
from smarter.apps.chat.turns import (
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnDone,
    TurnEvent,
    TurnInput,
    TurnResult,
)
from smarter.apps.chat.upstreams import platform_provider_name, upstream_for
from smarter.apps.chatbot.selectors import attached_plugins
from smarter.apps.plugin.execution import PluginResult, builtin_execute, plugin_execute
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.selection import PromptSettings, SelectionDecision, apply_overlay, select_plugins
from smarter.apps.plugin.selectors import plugins_named
from smarter.apps.plugin.tools import ToolSet, build_toolset
from smarter.lib.db_threads import in_db_thread, in_worker_thread
from smarter.lib.errors import FieldError, NotFound, SmarterError, UpstreamError, UpstreamTimeout, ValidationFailed
from smarter.lib.observability import bind_turn

logger = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 5
HISTORY_TOKEN_BUDGET = 8000
DEFAULT_TIMEOUT_SECONDS = 60.0
# What the calls of one reply beyond SMARTER_MAX_TOOL_CALLS_PER_ROUND get instead of running: every
# call still has its answer (the protocol needs one per call id) and the model may ask again.
TOO_MANY_CALLS = "too many tool calls in one round; at most {cap} run per round, ask for the others in the next round"
ABANDONED = "The client disconnected before the answer was complete."
# The OpenAI parameters the offline model honours (`max_tokens` arrives as an override).
OFFLINE_PARAMETERS = frozenset({"stop"})


# --- step 2-5: what this turn is made of --------------------------------------------------------
@dataclass
class _Plan:
    chat: Chat | None
    session_key: str
    history: list[Message]
    prompt: str
    tail: list[Message]  # the OpenAI door: the tool calls and results after the prompt
    plugins: list[Plugin]
    decisions: list[SelectionDecision]
    toolset: ToolSet
    prompt_settings: PromptSettings
    provider: str
    model: str
    api_key: str | None = None
    base_url: str | None = None
    guarded: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    stored_messages: list[Message] = field(default_factory=list)
    reservation: billing_limits.Reservation | None = None  # step 3: tokens held in the budget
    labels: turn_metrics.Labels = ("offline", OFFLINE_MODEL)  # provider and model in the metrics
    client_tool_names: frozenset[str] = frozenset()


def _plan(turn: TurnInput) -> _Plan:
    chat, session_key = _session(turn)
    tail: list[Message] = []
    if turn.messages is not None:
        history, prompt, tail = _client_conversation(turn.messages)
        stored = list(turn.messages)
    else:
        assert turn.prompt is not None
        history = _stored_history(chat) if chat is not None else []
        prompt = turn.prompt
        stored = [Message.user(prompt)]
    client_tool_names = frozenset(tool["function"]["name"] for tool in turn.client_tools)
    plugins = _plugins(turn)
    earlier_prompts = [message.content for message in history if message.role == "user"]
    decisions = select_plugins(plugins, prompt=prompt, history=earlier_prompts)
    selected = [plugin for plugin, decision in zip(plugins, decisions, strict=True) if decision.selected]
    overlaid = [plugin for plugin, decision in zip(plugins, decisions, strict=True) if decision.overlay]
    prompt_settings = _prompt_settings(turn, overlaid)
    plan = _Plan(
        chat=chat,
        session_key=session_key,
        history=history,
        prompt=prompt,
        tail=tail,
        plugins=plugins,
        decisions=decisions,
        # A client's tool keeps its name; a plugin or built-in named like one is renamed.
        toolset=build_toolset(selected, functions=turn.chatbot.functions, reserved=client_tool_names),
        prompt_settings=prompt_settings,
        provider="offline",
        model=OFFLINE_MODEL,
        stored_messages=stored,
        client_tool_names=client_tool_names,
    )
    _choose_provider(turn, plan)
    if plan.provider == "offline":
        _offline_refusals(turn)
    return plan


def _offline_refusals(turn: TurnInput) -> None:
    """The offline model cannot call a client's tools nor honour most OpenAI parameters: a
    request for them is refused, never silently ignored."""
    errors = [FieldError("tools", "the offline model cannot call client tools")] if turn.client_tools else []
    unsupported = [name for name in turn.parameters if name not in OFFLINE_PARAMETERS]
    errors += [FieldError(name, "the offline model does not support this parameter") for name in unsupported]
    if not errors:
        return
    if turn.client_tools:
        description = (
            "The offline model cannot call client tools; give the chatbot an OpenAI-compatible provider, "
            "or send no tools."
        )
    else:
        description = (
            f"The offline model does not support the parameter {unsupported[0]!r}; it honours max_tokens and stop only."
        )
    raise ValidationFailed(description, context={"kind": "Chatbot", "name": turn.chatbot.name}, errors=errors)


def new_session_key() -> str:
    """Hex, not url-safe base64: a key starting with "-" would read as an option on a command line."""
    return secrets.token_hex(24)


def _session(turn: TurnInput) -> tuple[Chat | None, str]:
    """The stored session this turn continues, or a new session key (its row is written with the turn)."""
    if turn.messages is not None or turn.new_session:
        return None, new_session_key()
    if turn.session_key:
        chat = selectors.chat_get(account=turn.account, session_key=turn.session_key, chatbot=turn.chatbot)
        if chat is None:
            raise NotFound(
                "No such chat session for this chatbot; omit session_key to start a new one.",
                context={"kind": "Chat", "name": turn.session_key},
            )
        return chat, chat.session_key
    if turn.uid and turn.channel == "cli":  # a public turn's uid names its visitor, not a machine
        chat = selectors.latest_cli_chat(account=turn.account, chatbot=turn.chatbot, uid=turn.uid)
        if chat is not None:
            return chat, chat.session_key
    return None, new_session_key()


def _stored_history(chat: Chat) -> list[Message]:
    """The newest messages that fit the token budget, starting at a user message so that no
    tool result is sent without the call it answers."""
    messages = [
        Message(
            role=stored.role,  # type: ignore[arg-type]
            content=stored.content,
            tool_calls=tuple(ModelToolCall.from_raw(c["id"], c["name"], c["arguments"]) for c in stored.tool_calls),
            tool_call_id=stored.tool_call_id or None,
        )
        for stored in selectors.recent_messages(chat)
    ]
    budget = HISTORY_TOKEN_BUDGET
    kept: list[Message] = []
    for message in reversed(messages):
        budget -= estimate_tokens(message.content) + 4
        if budget < 0:
            break
        kept.append(message)
    kept.reverse()
    while kept and kept[0].role != "user":
        kept.pop(0)
    return kept


def _client_conversation(messages: tuple[Message, ...]) -> tuple[list[Message], str, list[Message]]:
    """The OpenAI door: the client sends the whole conversation; its last user message is the
    prompt, and what follows it (its tools' calls and results) is sent after it."""
    last_user = max((index for index, message in enumerate(messages) if message.role == "user"), default=None)
    if last_user is None:
        raise ValidationFailed(
            "The conversation needs at least one user message.",
            errors=[FieldError("messages", "no message with role user")],
        )
    return list(messages[:last_user]), messages[last_user].content, list(messages[last_user + 1 :])


def _plugins(turn: TurnInput) -> list[Plugin]:
    if turn.overrides.plugins is None:
        return attached_plugins(turn.chatbot)
    names = list(turn.overrides.plugins)
    found = {plugin.name: plugin for plugin in plugins_named(account=turn.account, names=names)}
    missing = [
        FieldError(f"overrides.plugins[{i}]", f"no plugin named {n!r}") for i, n in enumerate(names) if n not in found
    ]
    if missing:
        raise ValidationFailed("The overrides name plugins that do not exist.", errors=missing)
    return [found[name] for name in names]


def _prompt_settings(turn: TurnInput, overlaid: list[Plugin]) -> PromptSettings:
    chatbot, overrides = turn.chatbot, turn.overrides
    return apply_overlay(
        system_role=overrides.system_role if overrides.system_role is not None else chatbot.default_system_role,
        model=overrides.model or chatbot.default_model or None,
        temperature=overrides.temperature if overrides.temperature is not None else chatbot.default_temperature,
        max_tokens=overrides.max_tokens or chatbot.default_max_tokens,
        provider=chatbot.provider or None,
        plugins=overlaid,
    )


def _choose_provider(turn: TurnInput, plan: _Plan) -> None:
    """Resolve the provider name to credentials (`upstreams.upstream_for`). A chatbot asking for
    `openai` on a platform with no OpenAI configured gets the offline model, which says so in its
    answer."""
    name = plan.prompt_settings.provider or platform_provider_name()
    chosen = upstream_for(account=turn.account, name=name, model=plan.prompt_settings.model, chatbot=turn.chatbot)
    if chosen is None:
        raise ValidationFailed(
            f"The chatbot's provider {name!r} no longer exists.",
            context={"kind": "Chatbot", "name": turn.chatbot.name},
            errors=[FieldError("spec.config.provider", f"no Provider named {name!r}")],
        )
    plan.provider, plan.model, plan.api_key = chosen.provider, chosen.model, chosen.api_key
    plan.base_url, plan.timeout, plan.guarded = chosen.base_url, chosen.timeout, chosen.guarded
    plan.labels = turn_metrics.model_labels(chosen.provider, chosen.model)
    if chosen.needs_price:
        _require_price(turn, plan)


def _require_price(turn: TurnInput, plan: _Plan) -> None:
    """The platform's own key pays for the turn and the account is charged from the price table:
    a model with no price would run free. Refused before any limit is counted or model called."""
    if pricing.is_priced(provider=plan.provider, model=plan.model):
        return
    loc, context = "spec.config.defaultModel", {"kind": "Chatbot", "name": turn.chatbot.name}
    overlay = next(
        (p for p in plan.plugins if p.name in plan.prompt_settings.applied and (p.prompt or {}).get("model")), None
    )
    if overlay is not None:
        loc, context = "spec.prompt.model", {"kind": "Plugin", "name": overlay.name}
    elif turn.overrides.model:
        loc = "overrides.model"
    raise ValidationFailed(
        f"The model {plan.model!r} has no price on this platform, so it cannot run on the platform's key. "
        "Choose a priced model or a Provider of your own; the platform operator prices a model "
        "(or marks it free with a price of 0) in the price table.",
        context={**context, "provider": plan.provider, "model": plan.model},
        errors=[FieldError(loc, f"model {plan.model!r} has no price on this platform")],
    )


# --- step 3: limits ------------------------------------------------------------------------------
def _plan_and_admit(turn: TurnInput) -> _Plan:
    """Steps 2 to 4 and the limits of step 3 in one database trip: each trip costs more than
    the queries it runs. A refusal (429) comes before the provider is called."""
    plan = _plan(turn)
    plan.reservation = _admit(turn, plan)
    return plan


def _admit(turn: TurnInput, plan: _Plan) -> billing_limits.Reservation | None:
    """Rate limits and the monthly budget; the budget holds the prompt's estimate plus max_tokens."""
    prompt_text = json.dumps(
        [
            plan.prompt_settings.system_role,
            *(m.content for m in plan.history),
            plan.prompt,
            *(m.content for m in plan.tail),
            plan.toolset.schemas,
            turn.client_tools,
        ],
        default=str,
    )
    return billing_limits.turn_admit(
        account=turn.account,
        api_key=turn.api_key,
        chatbot_id=turn.chatbot.pk,
        chatbot_name=turn.chatbot.name,
        channel=turn.channel,
        client_ip=turn.client_ip,
        estimate=estimate_tokens(prompt_text) + (plan.prompt_settings.max_tokens or 0),
        user_id=turn.user.pk if turn.user is not None else None,
    )


# --- step 6: running the tools the model asked for ---------------------------------------------
@turn_spans.traced_tool
def _run_tool(toolset: ToolSet, call: ModelToolCall) -> tuple[Plugin | None, PluginResult]:
    if call.error:
        return toolset.plugin_for(call.name), PluginResult(error=call.error)
    plugin = toolset.plugin_for(call.name)
    if plugin is not None:
        return plugin, plugin_execute(plugin=plugin, arguments=call.arguments)
    if toolset.builtin_for(call.name):
        return None, builtin_execute(name=call.name, arguments=call.arguments)
    return None, PluginResult(error=f"there is no tool named {call.name!r}")


def _tool_message(call: ModelToolCall, result: PluginResult) -> Message:
    return Message.tool(call.id, json.dumps(result.for_model(), default=str, ensure_ascii=False), name=call.name)


Outcome = tuple[Plugin | None, PluginResult, bool]  # the plugin, what it gave, whether it ran


@dataclass
class _Tools:
    """The tools the model asked for in one reply, running on worker threads."""

    toolset: ToolSet
    assistant: Message
    calls: tuple[ModelToolCall, ...]
    running: asyncio.Future[list[Outcome]]


def _tools_start(toolset: ToolSet, assistant: Message, calls: tuple[ModelToolCall, ...]) -> _Tools:
    """Run the first `calls` of the reply (those of server-side tools), up to the cap, in
    parallel; answer the others with an error. The work is a task of its own, so a client
    leaving does not cut plugins off mid-call: what started finishes, and is recorded and charged."""
    cap = settings.SMARTER.max_tool_calls_per_round

    async def run() -> list[Outcome]:
        ran = await asyncio.gather(*(in_worker_thread(_run_tool, toolset, call) for call in calls[:cap]))
        refused = PluginResult(error=TOO_MANY_CALLS.format(cap=cap))
        return [
            *((plugin, result, True) for plugin, result in ran),
            *((toolset.plugin_for(call.name), refused, False) for call in calls[cap:]),
        ]

    return _Tools(toolset, assistant, calls, asyncio.ensure_future(run()))


def _tools_done(record: TurnRecord, tools: _Tools, outcomes: list[Outcome]) -> list[tuple[ToolResultEvent, Message]]:
    """The round's assistant message, tool calls and tool messages into the record, together: a
    stored call always has its answer."""
    record.new_messages.append(tools.assistant)
    done = []
    for call, (plugin, result, ran) in zip(tools.calls, outcomes, strict=True):
        event = ToolResultEvent(
            call.id,
            call.name,
            plugin.name if plugin else None,
            call.arguments,
            result.result,
            result.error,
            result.ms,
            result.executed,
            ran=ran,
        )
        message = _tool_message(call, result)
        builtin = plugin is None and tools.toolset.builtin_for(call.name) is not None
        turn_metrics.tool_observe(plugin=plugin, builtin=builtin, result=result, ran=ran)
        record.tool_events.append((record.rounds, plugin, event))
        record.new_messages.append(message)
        done.append((event, message))
    return done


@dataclass
class _Call:
    """The model call in flight, and what it has streamed: billed if the turn stops midway."""

    request: ProviderRequest
    text: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def first_token(self, plan: _Plan) -> None:
        turn_metrics.first_token_observe(labels=plan.labels, seconds=time.perf_counter() - self.started)

    def ended(self, plan: _Plan, outcome: str) -> None:
        turn_metrics.llm_call_observe(labels=plan.labels, seconds=time.perf_counter() - self.started, outcome=outcome)

    def consumed(self) -> Usage:
        return Usage.of(estimate_prompt_tokens(self.request), estimate_tokens("".join(self.text)), estimated=True)


async def _abandoned(record: TurnRecord, call: _Call | None, tools: _Tools | None, started: float) -> None:
    """A turn whose client went away is billed for what it consumed: the finished rounds, the
    model call in flight (its prompt and the text streamed so far, estimated), and the plugins
    that were running (waited for: their threads run to the end anyway)."""
    if call is not None:
        record.usage = record.usage + call.consumed()
    if tools is not None:
        try:
            outcomes = await tools.running
        except Exception:
            logger.exception("tools of an abandoned turn failed")
        else:
            _tools_done(record, tools, outcomes)
    record.cancelled = True
    record.error = ABANDONED
    record.latency_ms = (time.perf_counter() - started) * 1000


# --- the pipeline -------------------------------------------------------------------------------
TurnSource = TurnInput | Callable[[], TurnInput]


def _built(source: TurnSource) -> TurnInput:
    return source() if callable(source) else source


def _start(source: TurnSource) -> tuple[TurnInput, _Plan]:
    turn = _built(source)
    return turn, _plan_and_admit(turn)


@turn_spans.traced_turn
async def run_turn_events(source: TurnSource) -> AsyncGenerator[TurnEvent, None]:
    """The turn as events: tokens (when streaming), tool calls and results, then `TurnDone`.

    Raises a `SmarterError` (400/404 before anything runs; 502/504 when the model fails, after
    the failed turn is recorded with what the upstream consumed). Cancelling the iteration, or
    closing it early (a client that went away), cancels the upstream call and records the turn
    as `cancelled`, charged for what it consumed.
    """
    started = time.perf_counter()
    # A door may pass a function that builds the turn (authenticating the caller, finding the
    # chatbot): it runs in the same database trip as the plan, one thread hop fewer per turn.
    turn, plan = await in_db_thread(_start, source)
    provider = provider_for(plan.provider, api_key=plan.api_key, base_url=plan.base_url, guarded=plan.guarded)
    provider = turn_spans.traced_provider(provider, provider_key=plan.provider)
    prompt_settings = plan.prompt_settings
    messages = [Message.system(prompt_settings.system_role), *plan.history, Message.user(plan.prompt), *plan.tail]
    turn_spans.turn_planned(
        chatbot=turn.chatbot.name,
        channel=turn.channel,
        session_key=plan.session_key,
        provider=plan.provider,
        model=plan.model,
        messages=messages,
    )
    # What step 7 writes, filled in as the turn goes.
    record = TurnRecord(
        turn=turn,
        chat_id=plan.chat.pk if plan.chat is not None else None,
        session_key=plan.session_key,
        provider=plan.provider,
        model=plan.model,
        plugins=plan.plugins,
        decisions=plan.decisions,
        reservation=plan.reservation,
        new_messages=list(plan.stored_messages),
        tool_events=[],
        usage=Usage(),
        rounds=0,
        latency_ms=0,
        request_messages=[message.as_openai() for message in messages],
    )
    content = ""
    client_calls: tuple[ModelToolCall, ...] = ()
    called_llm_plugins: list[Plugin] = []
    call: _Call | None = None  # the model call under way
    tools: _Tools | None = None  # the plugins under way
    try:
        while True:
            record.rounds += 1
            last_round = record.rounds > MAX_TOOL_ROUNDS
            request = ProviderRequest(
                messages=tuple(messages),
                model=plan.model,
                tools=() if last_round else (*plan.toolset.schemas, *turn.client_tools),
                temperature=prompt_settings.temperature,
                max_tokens=prompt_settings.max_tokens,
                timeout=plan.timeout,
                tool_choice=None if last_round else turn.tool_choice,
                parameters=turn.parameters,
                for_public=turn.for_public,
            )
            call = _Call(request)
            reply: ProviderReply | None = None
            if turn.stream:
                # Closed on any exit, a consumer that stops reading included: the upstream stops.
                async with aclosing(provider.stream(request)) as stream:
                    async for event in stream:
                        if isinstance(event, TextDelta):
                            if not call.text:
                                call.first_token(plan)
                            call.text.append(event.text)
                            yield TokenEvent(event.text)
                        elif isinstance(event, Completed):
                            reply = event.reply
            else:
                reply = await provider.complete(request)
            if reply is None:
                raise UpstreamError("The model's stream ended without a final answer.")
            call.ended(plan, "ok")
            call = None
            record.usage = record.usage + reply.usage
            if not reply.tool_calls or last_round:
                content = reply.content
                record.new_messages.append(Message.assistant(reply.content))
                finish_reason = reply.finish_reason or "stop"
                break
            assistant = reply.as_message()
            messages.append(assistant)
            # A call of a client's tool goes back to the client; every other call runs here.
            client_calls = tuple(asked for asked in reply.tool_calls if asked.name in plan.client_tool_names)
            server_calls = tuple(asked for asked in reply.tool_calls if asked.name not in plan.client_tool_names)
            if not server_calls:
                record.new_messages.append(assistant)
                content, finish_reason = reply.content, "tool_calls"
                break
            for asked in server_calls:
                plugin = plan.toolset.plugin_for(asked.name)
                yield ToolCallEvent(
                    asked.id, asked.name, plugin.name if plugin else None, asked.arguments, record.rounds
                )
            tools = _tools_start(plan.toolset, assistant, server_calls)
            outcomes = await asyncio.shield(tools.running)
            done = _tools_done(record, tools, outcomes)
            tools = None
            for (result_event, tool_message), (plugin, _, _) in zip(done, outcomes, strict=True):
                messages.append(tool_message)
                yield result_event
                if plugin is not None and plugin.directive == "llm" and plugin not in called_llm_plugins:
                    called_llm_plugins.append(plugin)
                    # An `llm` plugin's overlay applies once the model has chosen to call it.
                    prompt_settings = _with_called(turn, plan, called_llm_plugins)
                    messages[0] = Message.system(prompt_settings.system_role)
            if client_calls:
                # The server-side calls of this reply ran; the client's own are the answer.
                content, finish_reason = reply.content, "tool_calls"
                break
    except (UpstreamError, UpstreamTimeout) as error:
        if call is not None:
            # What the failed call consumed upstream before it broke (nothing when it was refused).
            record.usage = record.usage + consumed_by(error)
            call.ended(plan, "timeout" if isinstance(error, UpstreamTimeout) else "error")
        record.latency_ms = (time.perf_counter() - started) * 1000
        record.error = error.description
        bind_turn((await turn_record(record)).turn_id)
        raise
    except (asyncio.CancelledError, GeneratorExit):
        # The client went away (the door's task is cancelled, or it stopped reading and closed
        # us). The model and plugins ran: the turn is recorded as cancelled and charged, on a
        # task of its own that a second cancellation cannot interrupt.
        await turn_record_later(_abandoned(record, call, tools, started), record)
        raise
    record.latency_ms = (time.perf_counter() - started) * 1000
    recorded = await turn_record(record)
    bind_turn(recorded.turn_id)  # later log lines and error reports of this request name the turn
    yield TurnDone(
        TurnResult(
            session_key=plan.session_key,
            turn_id=recorded.turn_id,
            content=content,
            tool_calls=tuple(event for _, _, event in record.tool_events),
            usage=record.usage,
            cost=recorded.cost,
            provider=plan.provider,
            model=plan.model,
            finish_reason=finish_reason,
            latency_ms=record.latency_ms,
            citations=turn_citations(record.tool_events),
            index=recorded.index,
            client_tool_calls=client_calls,
        )
    )


def _with_called(turn: TurnInput, plan: _Plan, called: list[Plugin]) -> PromptSettings:
    overlaid = [p for p, d in zip(plan.plugins, plan.decisions, strict=True) if d.overlay]
    settings_now = _prompt_settings(turn, [*overlaid, *called])
    # The provider of the turn is settled; only the prompt, temperature and length follow.
    return replace(settings_now, model=plan.model, provider=plan.provider)


async def run_turn(source: TurnSource) -> TurnResult:
    """The whole turn at once (no streaming): what the JSON doors render."""

    def whole() -> TurnInput:
        return replace(_built(source), stream=False)

    async for event in run_turn_events(whole):
        if isinstance(event, TurnDone):
            return event.result
    raise SmarterError("The turn ended without an answer.")
