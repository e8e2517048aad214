"""An upstream answer cut short (the connection dropped mid-stream, a stream that stops without a
finish reason or [DONE], a JSON body cut off) is an error turn on every door: `event: error` with
the 502 envelope on the SSE doors, OpenAI's error on the OpenAI door, 502 on the JSON doors; the
turn is stored with status `error` and no answer, and charged for what the upstream consumed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from smarter.apps.account.billing.models import Charge, UsageEvent
from smarter.apps.account.models import Role
from smarter.apps.account.tests.billing_support import celery_mode
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ChatMessage, ToolCall, Turn
from smarter.apps.chat.providers.base import estimate_tokens
from smarter.apps.chat.tests import test_turn_pipeline
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, http, sse_events
from smarter.testing.openai_stub import (
    OpenAIStub,
    RecordedRequest,
    ScriptedReply,
    error_reply,
    text_reply,
    tool_calls_reply,
)

upstream = test_turn_pipeline.upstream  # the platform's provider is the stub, with the platform's key

ANSWER = "one two three four"
# (the reply, the text the client sees before the error): the stub sends the role chunk, then the
# answer word by word, the finish, the usage, [DONE]; `cut_after` sends only that many.
CUTS = {
    "dropped before any word": (text_reply(ANSWER, cut_after=1), ""),
    "dropped after two words": (text_reply(ANSWER, cut_after=3), "one two "),
    "ended after two words": (text_reply(ANSWER, cut_after=3, cut_cleanly=True), "one two "),
    "every word, no finish": (text_reply(ANSWER, cut_after=5, cut_cleanly=True), ANSWER),
    "dropped mid tool call": (tool_calls_reply(("catalogue", {"inquiry_type": "price"}), cut_after=3), ""),
}
CUT_MESSAGES = (
    "The LLM provider 'openai' broke off its answer before it was complete.",
    "The LLM provider 'openai' ended its answer before it was complete.",
)


@pytest.fixture
def owner(asgi_server: Any, smarter_settings: Any) -> Persona:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


@pytest.fixture(autouse=True)
def _eager_charges() -> Iterator[None]:
    with celery_mode(eager=True):
        yield


def setup_chatbot(owner: Persona, server: Any) -> None:
    with http(owner, server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"], deployed=True)


def prompt_estimate(request: RecordedRequest) -> int:
    return estimate_tokens(json.dumps(request.messages) + (json.dumps(request.tools) if request.tools else ""))


def fragment_of(reply: ScriptedReply, text: str) -> str:
    """What the provider had received of a cut reply: its text, or the tool call's name and the
    first third of its arguments (the stub sends arguments in three fragments)."""
    if not reply.tool_calls:
        return text
    call = reply.tool_calls[0]
    arguments = call.arguments_json
    return call.name + arguments[: -(-len(arguments) // 3)]


def assert_error_turn(request: RecordedRequest, fragment: str, before: tuple[int, int] = (0, 0)) -> Turn:
    """Stored as an error, never as an answer, and charged for what the upstream consumed."""
    turn = Turn.objects.get()
    assert turn.status == "error"
    assert turn.error in CUT_MESSAGES
    assert turn.prompt_tokens == before[0] + prompt_estimate(request)
    assert turn.completion_tokens == before[1] + estimate_tokens(fragment)
    event = UsageEvent.objects.get()
    assert event.total_tokens == turn.total_tokens > 0
    completion = Charge.objects.get(kind="completion")
    assert (completion.prompt_tokens, completion.completion_tokens) == (turn.prompt_tokens, turn.completion_tokens)
    expected = (Decimal("0.15") * turn.prompt_tokens + Decimal("0.60") * turn.completion_tokens) / 1_000_000
    assert completion.cost == expected.quantize(Decimal("0.00000001"))
    return turn


def _rest_stream(client: httpx.Client) -> list[tuple[str, Any]]:
    """The REST door's answer as (event, data): its SSE events, or one `error` for a refusal that
    came before the first event (the stream had not started: its own status, 502)."""
    with client.stream("POST", "/api/v1/chatbots/support/chat/", json={"prompt": "Count.", "stream": True}) as r:
        if r.status_code != 200:
            assert r.status_code == 502
            return [("error", json.loads(r.read()))]
        return list(sse_events(r))


@pytest.mark.parametrize(("reply", "seen"), CUTS.values(), ids=list(CUTS))
def test_the_rest_stream_ends_with_an_error_event_and_stores_an_error_turn(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, reply: ScriptedReply, seen: str
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(reply)
    with http(owner, asgi_server) as client:
        events = _rest_stream(client)

    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "error" and "done" not in kinds
    assert set(kinds[:-1]) <= {"token"}
    assert "".join(data["text"] for kind, data in events if kind == "token") == seen
    error = events[-1][1]
    assert (error["errorClass"], error["status"]) == ("UpstreamError", 502)
    assert error["description"] in CUT_MESSAGES
    assert (error["context"]["provider"], error["context"]["model"]) == ("openai", "gpt-4o-mini")
    assert_error_turn(upstream.chat_requests[0], fragment_of(reply, seen))
    assert not ToolCall.objects.exists()  # a tool call cut short never runs
    assert list(ChatMessage.objects.values_list("role", flat=True)) == ["user"]  # the fragment is not stored


def test_a_stream_cut_after_a_tool_round_keeps_the_round_and_charges_both_calls(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(
        tool_calls_reply(("catalogue", {"inquiry_type": "price"}), prompt_tokens=100, completion_tokens=10),
        text_reply(ANSWER, cut_after=3),
    )
    with http(owner, asgi_server) as client:
        events = _rest_stream(client)

    assert [kind for kind, _ in events] == ["tool_call", "tool_result", "token", "token", "error"]
    assert events[-1][1]["status"] == 502
    assert_error_turn(upstream.chat_requests[1], "one two ", before=(100, 10))
    assert ToolCall.objects.get().result == "$12.50"
    assert Charge.objects.filter(kind="plugin").count() == 1
    roles = list(ChatMessage.objects.order_by("sequence").values_list("role", flat=True))
    assert roles == ["user", "assistant", "tool"]  # the round is whole; the broken answer is not stored


@pytest.mark.parametrize(("reply", "seen"), list(CUTS.values())[:4], ids=list(CUTS)[:4])
def test_the_openai_stream_ends_with_an_openai_error_and_never_a_finish(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, reply: ScriptedReply, seen: str
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(reply)
    body = {"model": "support", "messages": [{"role": "user", "content": "Count."}], "stream": True}
    with http(owner, asgi_server) as client:
        response = client.post("/api/v1/openai/chat/completions", json=body)

    if not seen:  # broken off before the first word: the stream never started, its status says so
        assert response.status_code == 502
        chunks, error = [], response.json()
    else:
        assert response.status_code == 200
        frames = [frame.removeprefix("data: ") for frame in response.text.split("\n\n") if frame]
        assert "[DONE]" not in frames
        payloads = [json.loads(frame) for frame in frames]
        chunks, error = payloads[:-1], payloads[-1]
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks)
    assert "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks) == seen
    assert error["error"]["type"] == "api_error" and error["error"]["code"] == "UpstreamError"
    assert error["error"]["message"] in CUT_MESSAGES
    assert (error["errorClass"], error["status"]) == ("UpstreamError", 502)
    assert_error_turn(upstream.chat_requests[0], seen)
    assert list(ChatMessage.objects.values_list("role", flat=True)) == ["user"]


VISITOR_MESSAGE = "The assistant is not available right now; please try again in a moment."


@pytest.mark.parametrize(("reply", "seen"), list(CUTS.values())[1:4], ids=list(CUTS)[1:4])
def test_a_deployed_chatbots_stream_ends_with_an_error_event(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, reply: ScriptedReply, seen: str
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(reply)
    host = f"support.{owner.account.account_number}.api.example.com"
    with (
        httpx.Client(base_url=asgi_server.url, headers={"Host": host}, timeout=30) as visitor,
        visitor.stream("POST", "/chat/", json={"prompt": "Count.", "stream": True}) as response,
    ):
        assert response.status_code == 200
        events = list(sse_events(response))

    assert [kind for kind, _ in events][-1] == "error" and "done" not in [kind for kind, _ in events]
    # A visitor is told the assistant is unavailable; the provider's words stay in the turn's record.
    assert events[-1][1]["status"] == 502 and events[-1][1]["description"] == VISITOR_MESSAGE
    assert "".join(data["text"] for kind, data in events if kind == "token") == seen
    assert_error_turn(upstream.chat_requests[0], seen)


@pytest.mark.parametrize("cleanly", [False, True], ids=["dropped", "ended"])
@pytest.mark.parametrize("door", ["rest", "openai", "public", "cli"])
def test_a_json_answer_cut_short_is_a_502_on_the_json_doors(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, door: str, cleanly: bool
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(text_reply("An answer long enough to be cut.", cut_after=70, cut_cleanly=cleanly))
    host = f"support.{owner.account.account_number}.api.example.com"
    with http(owner, asgi_server) as client:
        if door == "rest":
            response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Count."})
        elif door == "openai":
            body = {"model": "support", "messages": [{"role": "user", "content": "Count."}]}
            response = client.post("/api/v1/openai/chat/completions", json=body)
        elif door == "public":
            response = httpx.post(f"{asgi_server.url}/chat/", json={"prompt": "Count."}, headers={"Host": host})
        else:
            response = client.post("/api/v1/cli/chat/support/?uid=laptop", json={"prompt": "Count."})

    assert response.status_code == 502, response.text
    body = response.json()
    assert (body["errorClass"], body["status"]) == ("UpstreamError", 502)
    recorded = (
        "The LLM provider 'openai' sent an answer that could not be read."
        if cleanly
        else "The LLM provider 'openai' broke off its answer before it was complete."
    )
    # A deployed chatbot's visitor is told the assistant is unavailable, without the provider.
    assert body["description"] == (VISITOR_MESSAGE if door == "public" else recorded)
    turn = Turn.objects.get()
    assert (turn.status, turn.error) == ("error", recorded)
    # Charged for the prompt the upstream read; the answer never arrived whole.
    assert (turn.prompt_tokens, turn.completion_tokens) == (prompt_estimate(upstream.chat_requests[0]), 0)
    assert Charge.objects.get(kind="completion").prompt_tokens == turn.prompt_tokens
    assert list(ChatMessage.objects.values_list("role", flat=True)) == ["user"]


def test_an_upstream_that_refuses_the_request_costs_nothing(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    setup_chatbot(owner, asgi_server)
    upstream.enqueue(error_reply(503, "overloaded"))
    with http(owner, asgi_server) as client:
        response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Count."})

    assert response.status_code == 502
    turn = Turn.objects.get()
    assert (turn.status, turn.total_tokens) == ("error", 0)
    assert Charge.objects.get(kind="completion").cost == 0
