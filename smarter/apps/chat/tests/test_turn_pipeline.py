"""The one turn pipeline, driven through the REST chat door on a real ASGI server against the stub
upstream: the tool loop, its cap, failures fed back to the model, upstream errors, streaming."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import Chat, ChatMessage, PluginSelection, ToolCall, Turn
from smarter.apps.chat.pipeline import MAX_TOOL_ROUNDS
from smarter.apps.plugin.tests.conftest import mariadb_target  # noqa: F401  (a fixture)
from smarter.testing.openai_stub import OpenAIStub, error_reply, hang_reply, text_reply, tool_calls_reply

STATIC_PLUGIN = {
    "apiVersion": "smarter.sh/v1",
    "kind": "Plugin",
    "metadata": {"name": "catalogue", "pluginClass": "static", "description": "Our product catalogue"},
    "spec": {
        "selector": {"directive": "always"},
        "data": {
            "description": "Facts about the Gizmo: price and colours",
            "staticData": {"price": "$12.50", "colours": ["red", "teal"]},
        },
    },
}


@pytest.fixture
def upstream(smarter_settings: Any) -> Iterator[OpenAIStub]:
    """The platform's provider is an OpenAI-compatible stub on loopback."""
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        yield stub


@pytest.fixture
def owner(asgi_server: Any) -> Persona:
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


def http(persona: Persona, server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {persona.key}"}, timeout=30)


def apply(client: httpx.Client, manifest: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/cli/apply/", json=manifest)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def chatbot(client: httpx.Client, name: str = "support", plugins: list[str] | None = None, **config: Any) -> None:
    apply(
        client,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "Chatbot",
            "metadata": {"name": name},
            "spec": {
                "config": {"defaultModel": "gpt-4o-mini", "defaultSystemRole": "You sell Gizmos.", **config},
                "plugins": plugins or [],
            },
        },
    )


def sql_plugin(client: httpx.Client, database: str) -> None:
    apply(
        client,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "SqlConnection",
            "metadata": {"name": "courses_db"},
            "spec": {
                "connection": {
                    "dbEngine": "mysql",
                    "hostname": "127.0.0.1",
                    "port": 3306,
                    "database": database,
                    "username": "root",
                }
            },
        },
    )
    apply(
        client,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "SqlPlugin",
            "metadata": {"name": "courses", "pluginClass": "sql", "description": "Course catalogue"},
            "spec": {
                "selector": {"directive": "always"},
                "connection": "courses_db",
                "sqlData": {
                    "description": "Courses cheaper than a budget",
                    "sqlQuery": "SELECT title, cost FROM courses WHERE cost <= {max_cost} ORDER BY cost",
                    "parameters": [{"name": "max_cost", "type": "integer", "description": "budget", "required": True}],
                    "limit": 10,
                },
            },
        },
    )


def test_a_two_round_tool_loop_with_a_sql_plugin_on_mariadb_and_a_static_plugin(
    upstream: OpenAIStub,
    owner: Persona,
    asgi_server: Any,
    mariadb_target: dict[str, Any],  # noqa: F811
) -> None:
    with http(owner, asgi_server) as client:
        sql_plugin(client, mariadb_target["database"])
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["courses", "catalogue"])
        upstream.enqueue(
            tool_calls_reply(("courses", {"max_cost": 250})),
            tool_calls_reply(("catalogue", {"inquiry_type": "price"})),
            text_reply("Web apps and Databases fit; a Gizmo costs $12.50."),
        )
        response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Courses under 250, and Gizmo price?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == {"role": "assistant", "content": "Web apps and Databases fit; a Gizmo costs $12.50."}
    assert [(call["plugin"], call["arguments"]) for call in body["tool_calls"]] == [
        ("courses", {"max_cost": 250}),
        ("catalogue", {"inquiry_type": "price"}),
    ]
    assert body["tool_calls"][0]["result"] == {
        "columns": ["title", "cost"],
        "rows": [
            {"title": "Naïve café ☕", "cost": 50},
            {"title": "Web apps", "cost": 200},
            {"title": "Databases", "cost": 250},
        ],
        "rowCount": 3,
        "truncated": False,
    }
    assert body["tool_calls"][1]["result"] == "$12.50"
    requests = upstream.chat_requests
    assert len(requests) == 3
    assert requests[0].authorization == "Bearer sk-platform"
    assert {tool["function"]["name"] for tool in requests[0].tools} == {"courses", "catalogue"}
    assert requests[0].messages[0] == {"role": "system", "content": "You sell Gizmos."}
    # Each later round carries the previous tool results back to the model.
    tool_messages = [m for m in requests[2].messages if m["role"] == "tool"]
    assert [json.loads(m["content"]) for m in tool_messages] == [body["tool_calls"][0]["result"], "$12.50"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    # Everything is persisted: the turn, its messages in order, tool calls and selections.
    turn = Turn.objects.get()
    assert (turn.rounds, turn.status, turn.total_tokens) == (3, "ok", usage["total_tokens"])
    roles = list(ChatMessage.objects.order_by("sequence").values_list("role", flat=True))
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert list(ToolCall.objects.order_by("id").values_list("plugin_name", "round")) == [
        ("courses", 1),
        ("catalogue", 2),
    ]
    assert sorted(PluginSelection.objects.values_list("plugin_name", "selected", "rule")) == [
        ("catalogue", True, "always"),
        ("courses", True, "always"),
    ]


def test_the_tool_loop_stops_at_the_round_cap_and_forces_an_answer(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])
        upstream.enqueue(*[tool_calls_reply(("catalogue", {"inquiry_type": "price"}))] * 10)
        response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "price?"})
    assert response.status_code == 200
    requests = upstream.chat_requests
    assert len(requests) == MAX_TOOL_ROUNDS + 1
    assert all(request.tools for request in requests[:MAX_TOOL_ROUNDS])
    assert requests[MAX_TOOL_ROUNDS].tools == []  # the last call offers no tools
    assert len(response.json()["tool_calls"]) == MAX_TOOL_ROUNDS


def test_a_plugin_failing_mid_loop_is_fed_back_to_the_model(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])
        upstream.enqueue(
            tool_calls_reply(("catalogue", {"inquiry_type": "warranty"})),
            text_reply("Sorry, I have no warranty information."),
        )
        body = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "warranty?"}).json()
    assert body["message"]["content"] == "Sorry, I have no warranty information."
    assert "result" not in body["tool_calls"][0]
    error = body["tool_calls"][0]["error"]
    assert error == "argument 'inquiry_type' must be one of price, colours"
    tool_message = next(m for m in upstream.chat_requests[1].messages if m["role"] == "tool")
    assert json.loads(tool_message["content"]) == {"error": error}


def test_an_upstream_500_is_a_502_with_the_providers_message(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        upstream.enqueue(error_reply(500, "the model is on fire"))
        response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "hello"})
    assert response.status_code == 502
    body = response.json()
    assert body["errorClass"] == "UpstreamError"
    assert "the model is on fire" in body["description"]
    assert "sk-platform" not in response.text
    turn = Turn.objects.get()
    assert turn.status == "error" and "the model is on fire" in turn.error
    assert list(ChatMessage.objects.values_list("role", "content")) == [("user", "hello")]


def test_an_upstream_that_hangs_is_a_504_within_the_providers_timeout(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "Secret",
                "metadata": {"name": "stub_key"},
                "spec": {"config": {"value": "sk-own"}},
            },
        )
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "Provider",
                "metadata": {"name": "slowpoke"},
                "spec": {
                    "provider": {
                        "baseUrl": upstream.url,
                        "apiKey": "stub_key",
                        "defaultModel": "stub-model",
                        "timeout": 1,
                    }
                },
            },
        )
        chatbot(client, provider="slowpoke")
        upstream.enqueue(hang_reply())
        started = time.monotonic()
        response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "hello"})
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["errorClass"] == "UpstreamTimeout"
    assert 0.9 < elapsed < 5
    assert upstream.chat_requests[0].authorization == "Bearer sk-own"


def test_an_account_provider_pointing_at_loopback_is_refused_without_the_development_setting(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, smarter_settings: Any
) -> None:
    smarter_settings.allow_private_hosts = False
    with http(owner, asgi_server) as client:
        response = client.post(
            "/api/v1/cli/apply/",
            json={
                "apiVersion": "smarter.sh/v1",
                "kind": "Provider",
                "metadata": {"name": "sneaky"},
                "spec": {"provider": {"baseUrl": "http://169.254.169.254/v1", "defaultModel": "x"}},
            },
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == "spec.provider.baseUrl"
    assert upstream.chat_requests == []


def sse_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event or "message", json.loads(line.removeprefix("data: "))


def test_streaming_sends_tokens_tool_events_then_done_with_the_whole_body(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])
        upstream.enqueue(
            tool_calls_reply(("catalogue", {"inquiry_type": "colours"})), text_reply("Red or teal, your pick.")
        )
        with client.stream(
            "POST", "/api/v1/chatbots/support/chat/", json={"prompt": "colours?", "stream": True}
        ) as response:
            assert response.headers["content-type"] == "text/event-stream"
            events = list(sse_events(response))
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["tool_call", "tool_result"]
    assert kinds[-1] == "done"
    assert set(kinds[2:-1]) == {"token"}
    text = "".join(data["text"] for kind, data in events if kind == "token")
    done = events[-1][1]
    assert text == done["message"]["content"] == "Red or teal, your pick."
    assert done["tool_calls"][0]["result"] == ["red", "teal"]
    assert events[1][1]["result"] == ["red", "teal"]


def test_a_stream_error_after_the_first_event_arrives_as_an_error_event(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])
        upstream.enqueue(tool_calls_reply(("catalogue", {"inquiry_type": "price"})), error_reply(503, "overloaded"))
        with client.stream(
            "POST", "/api/v1/chatbots/support/chat/", json={"prompt": "price", "stream": True}
        ) as response:
            assert response.status_code == 200
            events = list(sse_events(response))
    assert [kind for kind, _ in events] == ["tool_call", "tool_result", "error"]
    assert events[-1][1]["errorClass"] == "UpstreamError" and events[-1][1]["status"] == 502


def test_a_client_that_disconnects_cancels_the_upstream_call(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        upstream.enqueue(text_reply("one two three four five six seven eight nine ten", chunk_delay=0.3))
        with client.stream(
            "POST", "/api/v1/chatbots/support/chat/", json={"prompt": "count", "stream": True}
        ) as response:
            lines = response.iter_lines()
            assert next(lines) == "event: token"
        # leaving the block closes the connection mid-stream
    record = upstream.wait_for_disconnect(timeout=10)
    assert record is not None, "the upstream request was not cancelled"
    # What the turn records and charges then: test_abandoned_turns.


def test_the_session_continues_with_its_history_and_an_unknown_session_is_404(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        upstream.enqueue(text_reply("Hello Ada."), text_reply("Your name is Ada."))
        first = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "I am Ada"}).json()
        second = client.post(
            "/api/v1/chatbots/support/chat/", json={"prompt": "Who am I?", "session_key": first["session_key"]}
        ).json()
        missing = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "hi", "session_key": "nope"})
    assert second["session_key"] == first["session_key"]
    # Hex: a key must never start with "-", where a command line would read it as an option.
    assert len(first["session_key"]) == 48 and all(c in "0123456789abcdef" for c in first["session_key"])
    assert [(m["role"], m["content"]) for m in upstream.chat_requests[1].messages] == [
        ("system", "You sell Gizmos."),
        ("user", "I am Ada"),
        ("assistant", "Hello Ada."),
        ("user", "Who am I?"),
    ]
    assert missing.status_code == 404
    assert Chat.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 32_001}, "prompt"),
        ({"prompt": "hi", "stream": "often"}, "stream"),
        ({"prompt": "hi", "colour": "red"}, "colour"),
    ],
)
def test_bad_chat_bodies_are_400_with_the_field_and_call_nothing(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, body: dict[str, Any], loc: str
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        response = client.post("/api/v1/chatbots/support/chat/", json=body)
    assert response.status_code == 400
    assert [error["loc"] for error in response.json()["errors"]] == [loc]
    assert upstream.chat_requests == [] and not Turn.objects.exists()


def test_an_llm_plugins_prompt_overlay_applies_only_once_the_model_calls_it(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    llm_plugin = {
        **STATIC_PLUGIN,
        "spec": {
            **STATIC_PLUGIN["spec"],
            "selector": {"directive": "llm"},
            "prompt": {"systemRole": "Quote prices in euros too.", "temperature": 0.1},
        },
    }
    with http(owner, asgi_server) as client:
        apply(client, llm_plugin)
        chatbot(client, plugins=["catalogue"])
        upstream.enqueue(
            tool_calls_reply(("catalogue", {"inquiry_type": "price"})), text_reply("$12.50 (about €11.60).")
        )
        client.post("/api/v1/chatbots/support/chat/", json={"prompt": "How much?"})
    first, second = upstream.chat_requests
    assert first.messages[0]["content"] == "You sell Gizmos."
    assert [tool["function"]["name"] for tool in first.tools] == ["catalogue"]  # offered from the start
    assert second.messages[0]["content"] == "You sell Gizmos.\n\nQuote prices in euros too."
    assert first.body["temperature"] == 0.5 and second.body["temperature"] == 0.1
