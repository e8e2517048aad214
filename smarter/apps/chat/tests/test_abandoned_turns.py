"""A client that disconnects mid-stream is still billed: on every streaming door, a real HTTP client
reads the first events of a slow upstream stream and hangs up; the upstream call is cancelled, and
the turn is recorded as `cancelled` with what the model and plugins consumed, charged, and counted
against the monthly budget (its reservation settled with the consumed tokens, not released)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from smarter.apps.account.billing import limits
from smarter.apps.account.billing.models import AccountLimits, Charge, Price, UsageEvent
from smarter.apps.account.models import Role
from smarter.apps.account.pricing import forget_prices
from smarter.apps.account.tests.billing_support import (
    Worker,
    celery_mode,
    mariadb_url_or_skip,
    wait_until,
)
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ChatMessage, ToolCall, Turn
from smarter.apps.chat.pipeline import ABANDONED, run_turn_events
from smarter.apps.chat.providers.base import estimate_tokens
from smarter.apps.chat.tests import test_turn_pipeline
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, http
from smarter.apps.chat.turns import TokenEvent, TurnInput
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.plugin.tests.servers import LoopbackServer, loopback_server
from smarter.testing.fixtures import flushed_redis_or_skip
from smarter.testing.openai_stub import OpenAIStub, RecordedRequest, text_reply, tool_calls_reply

upstream = test_turn_pipeline.upstream  # the platform's provider is the stub, with the platform's key

ANSWER = "one two three four five six seven eight nine ten eleven twelve"
PIECES = [f"{word} " for word in ANSWER.split()[:-1]] + ["twelve"]
PLUGIN_PRICE = Decimal("0.00100000")
BUDGET = 1_000_000


@pytest.fixture
def owner(asgi_server: Any, smarter_settings: Any, redis_url: str) -> Persona:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    smarter_settings.redis_url = redis_url  # budgets and their reservations on a real Redis
    persona = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    AccountLimits.objects.create(account=persona.account, monthly_token_budget=BUDGET)
    Price.objects.filter(provider="smarter", model="plugin").update(per_call=PLUGIN_PRICE)
    forget_prices()
    return persona


@pytest.fixture
def target() -> Iterator[LoopbackServer]:
    """A plugin's REST API on loopback; `/slow` answers after 3 s (the connection gives up at 1.5 s)."""
    with loopback_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    limits.forget_local_state()
    with celery_mode(eager=True):
        yield
    limits.forget_local_state()


# --- the doors, as a client sees them ----------------------------------------------------------------
@dataclass(frozen=True)
class Door:
    name: str
    path: str
    body: dict[str, Any]
    host: Callable[[Persona], str | None]
    authenticated: bool
    # Whether a line of the stream is the first text of the answer, or the start of a tool call.
    is_token: Callable[[str], bool]
    is_tool_call: Callable[[str], bool]


def _openai_token(line: str) -> bool:
    if not line.startswith("data: {"):
        return False
    choices = json.loads(line.removeprefix("data: "))["choices"]
    return bool(choices and choices[0]["delta"].get("content"))


DOORS = {
    "rest": Door(
        "rest",
        "/api/v1/chatbots/support/chat/",
        {"prompt": "Count to twelve.", "stream": True},
        lambda persona: None,
        True,
        lambda line: line == "event: token",
        lambda line: line == "event: tool_call",
    ),
    "openai": Door(
        "openai",
        "/api/v1/openai/chat/completions",
        {"model": "support", "messages": [{"role": "user", "content": "Count to twelve."}], "stream": True},
        lambda persona: None,
        True,
        _openai_token,
        # The OpenAI door shows no tool events: its first chunk (the role) is sent meanwhile.
        lambda line: line.startswith("data: {"),
    ),
    "public": Door(
        "public",
        "/chat/",
        {"prompt": "Count to twelve.", "stream": True},
        lambda persona: f"support.{persona.account.account_number}.api.example.com",
        False,
        lambda line: line == "event: token",
        lambda line: line == "event: tool_call",
    ),
}


def hang_up_when(door: Door, persona: Persona, server: Any, seen: Callable[[str], bool]) -> list[str]:
    """Stream the door's answer until `seen(line)`, then close the connection mid-stream."""
    headers = {"Authorization": f"Token {persona.key}"} if door.authenticated else {}
    host = door.host(persona)
    if host:
        headers["Host"] = host
    lines: list[str] = []
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=30) as client,
        client.stream("POST", door.path, json=door.body) as response,
    ):
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            lines.append(line)
            if seen(line):
                break
    return lines  # leaving the blocks closed the connection


def hang_up_before_any_answer(door: Door, persona: Persona, server: Any) -> None:
    headers = {"Authorization": f"Token {persona.key}"} if door.authenticated else {}
    host = door.host(persona)
    if host:
        headers["Host"] = host
    timeout = httpx.Timeout(30, read=0.5)
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=timeout) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post(door.path, json=door.body)


def setup_chatbot(owner: Persona, server: Any, *, plugins: list[str] | None = None) -> None:
    with http(owner, server) as client:
        if plugins == ["catalogue"]:
            apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=plugins, deployed=True)


def slow_api_plugin(owner: Persona, server: Any, target: LoopbackServer) -> None:
    with http(owner, server) as client:
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "ApiConnection",
                "metadata": {"name": "slow_api"},
                "spec": {"connection": {"baseUrl": target.url, "timeout": 1.5}},
            },
        )
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "ApiPlugin",
                "metadata": {"name": "lookup", "pluginClass": "api", "description": "Looks things up"},
                "spec": {
                    "selector": {"directive": "always"},
                    "connection": "slow_api",
                    "apiData": {"description": "Look things up", "endpoint": "/slow", "method": "GET"},
                },
            },
        )
        chatbot(client, plugins=["lookup"], deployed=True)


# --- what a cancelled turn must show ---------------------------------------------------------------
def prompt_estimate(request: RecordedRequest) -> int:
    """The pipeline's estimate of a request's prompt: its messages and tools as sent."""
    return estimate_tokens(json.dumps(request.messages) + (json.dumps(request.tools) if request.tools else ""))


def written(query: Callable[[], bool]) -> bool:
    """Poll the database until `query()` holds (15 s at most). The embedded SQLite answers "locked"
    while the turn's own thread writes: that is a "not yet"."""

    def attempt() -> bool:
        try:
            return query()
        except OperationalError:
            return False

    return wait_until(attempt, timeout=15)


def the_cancelled_turn() -> Turn:
    assert written(lambda: Turn.objects.filter(status="cancelled").exists()), "no cancelled turn"
    assert written(lambda: Charge.objects.filter(kind="completion").exists()), "no charge"
    return Turn.objects.get()


def assert_charged_and_counted(owner: Persona, turn: Turn, plugin_calls: int) -> None:
    event = UsageEvent.objects.get()
    assert (event.key, event.total_tokens, event.status) == (f"turn-{turn.pk}", turn.total_tokens, "done")
    completion = Charge.objects.get(kind="completion")
    assert (completion.turn_id, completion.prompt_tokens, completion.completion_tokens) == (
        turn.pk,
        turn.prompt_tokens,
        turn.completion_tokens,
    )
    expected_cost = (Decimal("0.15") * turn.prompt_tokens + Decimal("0.60") * turn.completion_tokens) / 1_000_000
    assert completion.cost == expected_cost.quantize(Decimal("0.00000001"))
    plugin_charges = list(Charge.objects.filter(kind="plugin").values_list("cost", flat=True))
    assert plugin_charges == [PLUGIN_PRICE] * plugin_calls
    # The budget counts the turn: the month's usage, and the reservation settled with what was
    # consumed (the Redis counter moved by exactly that, and no hold is left behind).
    assert limits.month_tokens_used(account=owner.account) == turn.total_tokens
    month = timezone.now().strftime("%Y-%m")
    scope = f"smarter:budget:{owner.account.account_number}:{month}"
    store = redis.Redis.from_url(settings.SMARTER.redis_url)
    assert wait_until(lambda: int(store.get(f"{scope}:used") or -1) == turn.total_tokens, timeout=5)
    assert store.hlen(f"{scope}:amounts") == 0 and store.zcard(f"{scope}:holds") == 0


def assert_streamed_part_billed(turn: Turn, request: RecordedRequest, before: tuple[int, int] = (0, 0)) -> None:
    """The call in flight: its prompt, and the words that had arrived when the client left."""
    assert turn.prompt_tokens == before[0] + prompt_estimate(request)
    arrived = max(0, request.events_sent - 1)  # the first event carries the role, no text
    assert arrived >= 1
    low, high = estimate_tokens(PIECES[0]), estimate_tokens("".join(PIECES[:arrived]))
    assert before[1] + low <= turn.completion_tokens <= before[1] + high
    assert turn.total_tokens == turn.prompt_tokens + turn.completion_tokens


# --- the tests -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("door", DOORS.values(), ids=list(DOORS))
def test_a_client_leaving_after_the_first_words_leaves_a_cancelled_turn_charged_for_them(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, door: Door
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(text_reply(ANSWER, chunk_delay=0.3))

    hang_up_when(door, owner, asgi_server, door.is_token)

    assert upstream.wait_for_disconnect(timeout=10) is not None, "the upstream call was not cancelled"
    turn = the_cancelled_turn()
    assert (turn.status, turn.error, turn.rounds, turn.model) == ("cancelled", ABANDONED, 1, "gpt-4o-mini")
    assert_streamed_part_billed(turn, upstream.chat_requests[0])
    # The conversation keeps the question; the broken-off answer is not stored as one.
    assert list(ChatMessage.objects.order_by("sequence").values_list("role", flat=True)) == ["user"]
    assert_charged_and_counted(owner, turn, plugin_calls=0)


@pytest.mark.parametrize("door", DOORS.values(), ids=list(DOORS))
def test_a_client_leaving_after_a_tool_round_is_charged_for_the_round_the_plugin_and_the_words_since(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, door: Door
) -> None:
    setup_chatbot(owner, asgi_server, plugins=["catalogue"])
    upstream.enqueue(
        tool_calls_reply(("catalogue", {"inquiry_type": "price"}), prompt_tokens=120, completion_tokens=12),
        text_reply(ANSWER, chunk_delay=0.3),
    )

    hang_up_when(door, owner, asgi_server, door.is_token)

    assert upstream.wait_for_disconnect(timeout=10) is not None
    turn = the_cancelled_turn()
    assert (turn.status, turn.rounds) == ("cancelled", 2)
    assert_streamed_part_billed(turn, upstream.chat_requests[1], before=(120, 12))
    call = ToolCall.objects.get()
    assert (call.plugin_name, call.result, call.error) == ("catalogue", "$12.50", "")
    # The tool round is stored whole (the call and its answer), the broken-off text is not.
    roles = list(ChatMessage.objects.order_by("sequence").values_list("role", flat=True))
    assert roles[-2:] == ["assistant", "tool"]
    assert_charged_and_counted(owner, turn, plugin_calls=1)


@pytest.mark.parametrize("door", DOORS.values(), ids=list(DOORS))
def test_a_client_leaving_before_any_answer_is_charged_for_the_prompt_the_upstream_read(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, door: Door
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(text_reply(ANSWER, delay=5))

    hang_up_before_any_answer(door, owner, asgi_server)

    assert upstream.wait_for_disconnect(timeout=10) is not None
    turn = the_cancelled_turn()
    assert turn.prompt_tokens == prompt_estimate(upstream.chat_requests[0])
    assert turn.completion_tokens == 0
    assert_charged_and_counted(owner, turn, plugin_calls=0)


@pytest.mark.parametrize("door", DOORS.values(), ids=list(DOORS))
def test_a_client_leaving_while_a_plugin_runs_waits_for_it_and_charges_it(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, target: LoopbackServer, door: Door
) -> None:
    slow_api_plugin(owner, asgi_server, target)
    upstream.enqueue(
        tool_calls_reply(("lookup", {}), prompt_tokens=80, completion_tokens=8), text_reply("never asked for")
    )

    hang_up_when(door, owner, asgi_server, door.is_tool_call)

    turn = the_cancelled_turn()
    assert (turn.prompt_tokens, turn.completion_tokens, turn.rounds) == (80, 8, 1)
    call = ToolCall.objects.get()
    assert call.plugin_name == "lookup" and "1.5" in call.error  # it ran to its own time limit
    assert [request.path for request in target.requests].count("/slow") == 1
    assert len(upstream.chat_requests) == 1  # the model is not asked again for a client that left
    assert_charged_and_counted(owner, turn, plugin_calls=1)


@pytest.mark.services
def test_a_cancelled_turn_is_charged_by_a_real_worker(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, redis_url: str
) -> None:
    database_url = mariadb_url_or_skip()
    flushed_redis_or_skip(redis_url)
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(text_reply(ANSWER, chunk_delay=0.3))
    worker = Worker(database_url=database_url, broker_url=redis_url, concurrency=1)
    with celery_mode(eager=False, broker_url=redis_url):
        worker.start()
        try:
            hang_up_when(DOORS["rest"], owner, asgi_server, DOORS["rest"].is_token)
            assert wait_until(lambda: Charge.objects.filter(kind="completion").exists(), timeout=60)  # MariaDB
        finally:
            worker.stop()

    turn = Turn.objects.get()
    assert turn.status == "cancelled"
    assert Charge.objects.get(kind="completion").total_tokens == turn.total_tokens > 0


# --- the pipeline itself: a consumer that stops, a task cancelled twice --------------------------------
def _turn(owner: Persona) -> TurnInput:
    chatbot_row = Chatbot.objects.get(account=owner.account, name="support")
    return TurnInput(
        account=owner.account,
        chatbot=chatbot_row,
        channel="api",
        prompt="Count to twelve.",
        stream=True,
        user=owner.user,
        api_key=owner.api_key,
    )


def test_a_consumer_that_closes_the_turn_after_its_first_words_records_it_as_cancelled(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(text_reply(ANSWER, chunk_delay=0.3))
    turn_input = _turn(owner)

    async def read_one_word() -> None:
        events = run_turn_events(turn_input)
        assert isinstance(await anext(events), TokenEvent)
        await events.aclose()  # the turn is written before this returns

    asyncio.run(read_one_word())

    turn = Turn.objects.get()
    assert (turn.status, turn.error) == ("cancelled", ABANDONED)
    assert upstream.wait_for_disconnect(timeout=10) is not None
    assert_streamed_part_billed(turn, upstream.chat_requests[0])
    assert_charged_and_counted(owner, turn, plugin_calls=0)


def test_a_turn_cancelled_twice_is_still_recorded(upstream: OpenAIStub, owner: Persona, asgi_server: Any) -> None:
    setup_chatbot(owner, asgi_server, plugins=["catalogue"])
    upstream.enqueue(
        tool_calls_reply(("catalogue", {"inquiry_type": "price"}), prompt_tokens=50, completion_tokens=5),
        text_reply(ANSWER, chunk_delay=0.3),
    )
    turn_input = _turn(owner)

    async def cancel_twice() -> None:
        talking = asyncio.Event()

        async def consume() -> None:
            async for event in run_turn_events(turn_input):
                if isinstance(event, TokenEvent):
                    talking.set()

        task = asyncio.ensure_future(consume())
        await talking.wait()
        task.cancel()
        await asyncio.sleep(0)  # the turn starts recording ...
        task.cancel()  # ... and is cancelled again
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # The write goes on by itself; this loop lives until it is done.
        for _ in range(500):
            if not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                break
            await asyncio.sleep(0.01)

    asyncio.run(cancel_twice())

    turn = the_cancelled_turn()
    assert turn.rounds == 2 and ToolCall.objects.count() == 1
    assert_streamed_part_billed(turn, upstream.chat_requests[1], before=(50, 5))
    assert_charged_and_counted(owner, turn, plugin_calls=1)
