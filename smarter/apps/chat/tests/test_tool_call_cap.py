"""One model reply asking for a hundred tool calls runs at most SMARTER_MAX_TOOL_CALLS_PER_ROUND of
them, the first ones; every other call is answered with a tool error, so the conversation stays
valid for the model and the turn still answers. Calls that never ran are stored (the inspector
shows what the model asked) and never charged; rounds stay capped too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from smarter.apps.account.billing.models import Charge
from smarter.apps.account.models import Role
from smarter.apps.account.tests.billing_support import celery_mode
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ToolCall, Turn
from smarter.apps.chat.pipeline import MAX_TOOL_ROUNDS, TOO_MANY_CALLS
from smarter.apps.chat.tests import test_turn_pipeline
from smarter.apps.chat.tests.test_turn_pipeline import apply, chatbot, http, sse_events
from smarter.apps.plugin.tests.servers import LoopbackServer, loopback_server
from smarter.testing.openai_stub import OpenAIStub, text_reply, tool_calls_reply

upstream = test_turn_pipeline.upstream  # the platform's provider is the stub, with the platform's key

ASKED = 100


@pytest.fixture
def owner(asgi_server: Any) -> Persona:
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


@pytest.fixture
def target() -> Iterator[LoopbackServer]:
    with loopback_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _eager_charges() -> Iterator[None]:
    with celery_mode(eager=True):
        yield


def lookup_chatbot(owner: Persona, server: Any, target: LoopbackServer) -> None:
    """A chatbot whose `lookup` plugin calls GET /users/<id> on the loopback target."""
    with http(owner, server) as client:
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "ApiConnection",
                "metadata": {"name": "users_api"},
                "spec": {"connection": {"baseUrl": target.url, "timeout": 5}},
            },
        )
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "ApiPlugin",
                "metadata": {"name": "lookup", "pluginClass": "api", "description": "Looks a user up"},
                "spec": {
                    "selector": {"directive": "always"},
                    "connection": "users_api",
                    "apiData": {
                        "description": "Look a user up by id",
                        "endpoint": "/users/{id}",
                        "method": "GET",
                        "parameters": [{"name": "id", "type": "integer", "description": "id", "required": True}],
                    },
                },
            },
        )
        chatbot(client, plugins=["lookup"])
    target.requests.clear()  # applying the connection checked that it answers


def hundred_calls(**options: Any) -> Any:
    return tool_calls_reply(*[("lookup", {"id": number}) for number in range(ASKED)], **options)


def user_lookups(target: LoopbackServer) -> list[str]:
    return [request.path for request in target.requests if request.path.startswith("/users/")]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("cap", [None, 1, 3], ids=["default", "one", "three"])
def test_a_hundred_tool_calls_in_one_reply_run_at_most_the_cap_and_the_turn_answers(
    upstream: OpenAIStub,
    owner: Persona,
    asgi_server: Any,
    target: LoopbackServer,
    smarter_settings: Any,
    cap: int | None,
    stream: bool,
) -> None:
    if cap is not None:
        smarter_settings.max_tool_calls_per_round = cap
    allowed = cap or 8
    lookup_chatbot(owner, asgi_server, target)
    upstream.enqueue(hundred_calls(), text_reply("I looked up the first users."))
    refusal = TOO_MANY_CALLS.format(cap=allowed)

    with http(owner, asgi_server) as client:
        if stream:
            with client.stream(
                "POST", "/api/v1/chatbots/support/chat/", json={"prompt": "Look everyone up.", "stream": True}
            ) as response:
                events = list(sse_events(response))
            kinds = [kind for kind, _ in events]
            assert kinds.count("tool_call") == ASKED and kinds.count("tool_result") == ASKED
            assert kinds[-1] == "done"
            body = events[-1][1]
        else:
            response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Look everyone up."})
            assert response.status_code == 200, response.text
            body = response.json()

    # At most the cap ran, the first calls, each once (in parallel: in any order).
    assert sorted(user_lookups(target)) == sorted(f"/users/{number}" for number in range(allowed))
    assert body["message"]["content"] == "I looked up the first users."
    calls = body["tool_calls"]
    assert len(calls) == ASKED
    assert [call["result"]["user"] for call in calls[:allowed]] == [str(number) for number in range(allowed)]
    assert all(call["error"] == refusal and "result" not in call for call in calls[allowed:])
    # Every call has its answer in the conversation the model gets back.
    second = upstream.chat_requests[1]
    answers = [json.loads(message["content"]) for message in second.messages if message["role"] == "tool"]
    assert len(answers) == ASKED
    assert answers[allowed:] == [{"error": refusal}] * (ASKED - allowed)
    # Stored: every call the model asked for; charged: only those that ran.
    turn = Turn.objects.get()
    assert (turn.status, turn.rounds) == ("ok", 2)
    assert ToolCall.objects.count() == ASKED
    assert ToolCall.objects.filter(error=refusal).count() == ASKED - allowed
    assert Charge.objects.filter(kind="plugin").count() == allowed


def test_the_cap_holds_in_every_round_and_rounds_stay_capped(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, target: LoopbackServer, smarter_settings: Any
) -> None:
    smarter_settings.max_tool_calls_per_round = 3
    lookup_chatbot(owner, asgi_server, target)
    upstream.enqueue(*[hundred_calls()] * (MAX_TOOL_ROUNDS + 3))

    with http(owner, asgi_server) as client:
        response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Look everyone up, again."})

    assert response.status_code == 200, response.text
    assert len(upstream.chat_requests) == MAX_TOOL_ROUNDS + 1
    assert upstream.chat_requests[-1].tools == []  # the last call offers no tools: the model must answer
    assert len(user_lookups(target)) == 3 * MAX_TOOL_ROUNDS
    assert Charge.objects.filter(kind="plugin").count() == 3 * MAX_TOOL_ROUNDS


@pytest.mark.parametrize("value", ["0", "-1", "129", "many"])
def test_the_setting_refuses_a_value_outside_one_to_128(value: str) -> None:
    from smarter.common.conf import ConfigurationError, load_settings

    with pytest.raises(ConfigurationError, match="SMARTER_MAX_TOOL_CALLS_PER_ROUND"):
        load_settings(max_tool_calls_per_round=value)


def test_the_setting_defaults_to_eight() -> None:
    from smarter.common.conf import load_settings

    assert load_settings().max_tool_calls_per_round == 8
