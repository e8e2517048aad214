"""Every door adapts the same turn: the OpenAI SDK, the cli chat verbs, config and logs; tenancy
across accounts and sessions; many slow streams at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import NotFoundError, OpenAI

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import Chat, Turn
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, http
from smarter.testing.openai_stub import OpenAIStub, text_reply, tool_calls_reply


@pytest.fixture
def upstream(smarter_settings: Any) -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        yield stub


@pytest.fixture
def acme(asgi_server: Any) -> Any:
    return make_account("Acme")


@pytest.fixture
def owner(acme: Any) -> Persona:
    return make_persona(acme, "owner", Role.ADMIN)


@pytest.fixture
def teammate(acme: Any) -> Persona:
    return make_persona(acme, "teammate", Role.MEMBER)


@pytest.fixture
def outsider(asgi_server: Any) -> Persona:
    return make_persona(make_account("Globex"), "outsider", Role.ADMIN)


def test_the_openai_sdk_gets_a_completion_and_a_stream_with_the_same_text(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])
    answer = "A Gizmo costs $12.50 and comes in red or teal."
    for _ in range(2):
        upstream.enqueue(tool_calls_reply(("catalogue", {"inquiry_type": "price"})), text_reply(answer))
    sdk = OpenAI(base_url=f"{asgi_server.url}/api/v1/openai", api_key=owner.key, max_retries=0)
    assert [model.id for model in sdk.models.list()] == ["support"]
    completion = sdk.chat.completions.create(model="support", messages=[{"role": "user", "content": "Gizmo price?"}])
    assert completion.object == "chat.completion"
    assert completion.model == "support"
    assert completion.choices[0].message.content == answer
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    stream = sdk.chat.completions.create(
        model="support",
        messages=[{"role": "user", "content": "Gizmo price?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == completion.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == completion.usage.total_tokens
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    # The plugin ran server-side; the client only saw the answer.
    assert len(upstream.chat_requests) == 4
    with pytest.raises(NotFoundError) as raised:
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert "Chatbot 'nope' was not found" in raised.value.message


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"model": "support", "messages": []}, "messages"),
        ({"model": "support", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "support", "messages": [{"role": "user", "content": "x" * 32_001}]}, "messages[0].content"),
        ({"model": "support", "messages": [{"role": "user", "content": "x"}] * 101}, "messages"),
        ({"model": "support", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6}, "max_tokens"),
        ({"model": "support", "messages": [{"role": "system", "content": "only a system message"}]}, "messages"),
    ],
)
def test_the_openai_door_validates_messages_and_limits(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, body: dict[str, Any], loc: str
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        response = client.post("/api/v1/openai/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["loc"] == loc
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert upstream.chat_requests == [] and not Turn.objects.exists()


def test_the_cli_chat_keeps_a_session_per_uid_until_new_session(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        upstream.enqueue(text_reply("one"), text_reply("two"), text_reply("three"))
        first = client.post("/api/v1/cli/chat/support/?uid=laptop-1", json={"prompt": "a"}).json()
        second = client.post("/api/v1/cli/chat/support/?uid=laptop-1", json={"prompt": "b"}).json()
        fresh = client.post("/api/v1/cli/chat/support/?uid=laptop-1&new_session=true", json={"prompt": "c"}).json()
        config = client.post("/api/v1/cli/chat/config/support/", params={"session_key": second["data"]["session_key"]})
        logs = client.post("/api/v1/cli/logs/chatbot/?name=support").json()
    assert first["thing"] == "Chat" and first["metadata"]["command"] == "chat"
    assert first["data"]["message"]["content"] == "one"
    assert second["data"]["session_key"] == first["data"]["session_key"]
    assert fresh["data"]["session_key"] != first["data"]["session_key"]
    assert [(m["role"], m["content"]) for m in config.json()["data"]["history"]] == [
        ("user", "a"),
        ("assistant", "one"),
        ("user", "b"),
        ("assistant", "two"),
    ]
    turns = logs["data"]["turns"]
    assert [(t["prompt"], t["answer"], t["turn"]) for t in turns] == [
        ("c", "three", 1),
        ("b", "two", 2),
        ("a", "one", 1),
    ]
    assert all(t["totalTokens"] == t["promptTokens"] + t["completionTokens"] > 0 for t in turns)
    for t in turns:  # priced from the table: gpt-4o-mini at $0.15 and $0.60 per million tokens
        assert t["model"] == "gpt-4o-mini"
        assert t["cost"] == pytest.approx((0.15 * t["promptTokens"] + 0.60 * t["completionTokens"]) / 1_000_000)


def test_two_accounts_and_two_sessions_never_see_each_others_history(
    upstream: OpenAIStub, owner: Persona, teammate: Persona, outsider: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as acme, http(outsider, asgi_server) as globex, http(teammate, asgi_server) as mate:
        chatbot(acme)
        chatbot(globex)  # same chatbot name, other account
        upstream.enqueue(text_reply("acme secret answer"), text_reply("globex answer"), text_reply("teammate answer"))
        owner_turn = acme.post("/api/v1/chatbots/support/chat/", json={"prompt": "acme secret"}).json()
        globex.post("/api/v1/chatbots/support/chat/", json={"prompt": "globex question"})
        mate.post("/api/v1/chatbots/support/chat/", json={"prompt": "teammate question"})
        assert [m["content"] for m in upstream.chat_requests[1].messages] == ["You sell Gizmos.", "globex question"]
        assert [m["content"] for m in upstream.chat_requests[2].messages] == ["You sell Gizmos.", "teammate question"]
        stolen = globex.post(
            "/api/v1/chatbots/support/chat/", json={"prompt": "x", "session_key": owner_turn["session_key"]}
        )
        assert stolen.status_code == 404
        assert (
            globex.get("/api/v1/chatbots/support/config/", params={"session_key": owner_turn["session_key"]}).json()[
                "history"
            ]
            == []
        )
        assert globex.post(f"/api/v1/cli/logs/chat/?name={owner_turn['session_key']}").status_code == 404
        assert globex.get(f"/api/v1/cli/get/chathistory/?name={owner_turn['session_key']}").status_code == 404
        listed = [item["name"] for item in globex.get("/api/v1/cli/get/chats/").json()["data"]["items"]]
        assert owner_turn["session_key"] not in listed and len(listed) == 1
        assert globex.post("/api/v1/chatbots/other/chat/", json={"prompt": "x"}).status_code == 404
        # The teammate (same account) may read the session.
        assert mate.post(f"/api/v1/cli/logs/chat/?name={owner_turn['session_key']}").status_code == 200
    assert len(upstream.chat_requests) == 3


def test_the_read_only_chat_kinds_list_and_refuse_apply(upstream: OpenAIStub, owner: Persona, asgi_server: Any) -> None:
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])
        upstream.enqueue(tool_calls_reply(("catalogue", {"inquiry_type": "price"})), text_reply("$12.50"))
        session = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "price"}).json()["session_key"]
        history = client.get(f"/api/v1/cli/get/chathistory/?name={session}").json()["data"]["items"]
        tools = client.get("/api/v1/cli/get/chattoolcalls/").json()["data"]["items"]
        usage = client.get("/api/v1/cli/get/chatpluginusage/").json()["data"]["items"]
        refused = client.post(
            "/api/v1/cli/apply/",
            json={"apiVersion": "smarter.sh/v1", "kind": "Chat", "metadata": {"name": "x"}, "spec": {}},
        )
        deleted = client.post(f"/api/v1/cli/delete/chat/?name={session}")
    # Newest first: the answer, the tool result, the call, the question.
    assert [(item["role"], item["sequence"]) for item in history] == [
        ("assistant", 4),
        ("tool", 3),
        ("assistant", 2),
        ("user", 1),
    ]
    assert [(t["plugin"], t["arguments"], t["result"]) for t in tools] == [
        ("catalogue", {"inquiry_type": "price"}, "$12.50")
    ]
    assert [(u["plugin"], u["selected"], u["rule"]) for u in usage] == [("catalogue", True, "always")]
    assert refused.status_code == 400 and refused.json()["errors"][0] == {"loc": "kind", "msg": "read-only"}
    assert deleted.status_code == 200 and not Chat.objects.exists()


def test_fifty_slow_streamed_turns_run_concurrently(upstream: OpenAIStub, owner: Persona, asgi_server: Any) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
    upstream.default_reply = text_reply("slow but steady", delay=1.0)

    async def one(client: httpx.AsyncClient) -> str:
        text = ""
        async with client.stream("POST", "/api/v1/chatbots/support/chat/", json={"prompt": "hi", "stream": True}) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("data: ") and '"text"' in line:
                    text += json.loads(line[6:])["text"]
        return text

    async def all_of_them() -> list[str]:
        limits = httpx.Limits(max_connections=100)
        headers = {"Authorization": f"Token {owner.key}"}
        async with httpx.AsyncClient(base_url=asgi_server.url, headers=headers, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(one(client) for _ in range(50)))

    started = time.monotonic()
    texts = asyncio.run(all_of_them())
    elapsed = time.monotonic() - started
    assert texts == ["slow but steady"] * 50
    assert elapsed < 15, f"50 one-second turns took {elapsed:.1f} s"
    assert Turn.objects.count() == 50
