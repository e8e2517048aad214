"""A chat turn with a knowledge plugin, on a real ASGI server against the stub upstream: the model
asks the knowledge tool, the tool searches the knowledge base, and the answer carries the chunks
it read as `citations` (REST body and the stream's `done` event); the OpenAI-compatible door
stays exactly OpenAI's shape."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ToolCall
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, sse_events
from smarter.testing.openai_stub import OpenAIStub, text_reply, tool_calls_reply

QUESTION = "What does the warranty cover?"
MANUAL = """# Gizmo manual

## Charging

Charge the Gizmo for two hours before its first use. A full charge lasts a week.

## Warranty

The Gizmo carries a two-year warranty covering the battery and the casing. Dropping it is not covered.

## Cleaning

Wipe the Gizmo with a dry cloth. Never put it in water.
"""
KNOWLEDGE_BASE = {
    "apiVersion": "smarter.sh/v1",
    "kind": "KnowledgeBase",
    "metadata": {"name": "gizmo_docs"},
    "spec": {"embedding": {"provider": "local"}, "retrieval": {"mode": "hybrid", "topK": 3}},
}
KNOWLEDGE_PLUGIN = {
    "apiVersion": "smarter.sh/v1",
    "kind": "KnowledgePlugin",
    "metadata": {"name": "manual_search", "pluginClass": "knowledge"},
    "spec": {
        "selector": {"directive": "always"},
        "knowledge": {"knowledgeBase": "gizmo_docs", "topK": 2, "description": "Searches the Gizmo manual"},
    },
}


@pytest.fixture
def upstream(smarter_settings: Any, tmp_path: Path) -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        smarter_settings.knowledge_dir = str(tmp_path / "knowledge")
        yield stub


@pytest.fixture
def owner(asgi_server: Any) -> Persona:
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


def http(persona: Persona, server: Any) -> httpx.Client:
    # Ingestion runs eagerly in the request here; the first one in a process loads the local
    # embedding model (torch), which takes longer than a chat turn.
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {persona.key}"}, timeout=180)


def ready_manual(client: httpx.Client) -> int:
    """The knowledge base with the manual in it, ingested; the document's id."""
    apply(client, KNOWLEDGE_BASE)
    added = client.post("/api/v1/knowledge/gizmo_docs/documents/", json={"name": "gizmo-manual.md", "text": MANUAL})
    assert added.status_code == 202, added.text
    document_id = int(added.json()["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/knowledge/gizmo_docs/documents/{document_id}/").json()["data"]["status"]
        if status in ("ready", "failed"):
            break
        time.sleep(0.1)
    assert status == "ready"
    return document_id


def search(client: httpx.Client) -> list[dict[str, Any]]:
    """What the plugin's search finds for the question (its topK: 2), through the search endpoint."""
    response = client.post("/api/v1/knowledge/gizmo_docs/search/", json={"query": QUESTION, "topK": 2})
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["results"])


def setup_chatbot(client: httpx.Client) -> tuple[int, list[dict[str, Any]]]:
    document_id = ready_manual(client)
    apply(client, KNOWLEDGE_PLUGIN)
    chatbot(client, plugins=["manual_search"])
    return document_id, search(client)


def without_text(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: result[key] for key in ("document", "documentId", "chunk", "score")} for result in results]


def test_a_rest_turn_cites_exactly_the_chunks_the_knowledge_tool_handed_the_model(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        document_id, results = setup_chatbot(client)
        upstream.enqueue(tool_calls_reply(("manual_search", {"query": QUESTION})), text_reply("Two years."))
        body = client.post("/api/v1/chatbots/support/chat/", json={"prompt": QUESTION}).json()
    assert [result["document"] for result in results] == ["gizmo-manual.md", "gizmo-manual.md"]
    assert {result["documentId"] for result in results} == {document_id}
    assert "two-year warranty" in results[0]["text"]
    assert body["message"] == {"role": "assistant", "content": "Two years."}
    assert body["citations"] == without_text(results)
    assert body["tool_calls"][0]["plugin"] == "manual_search"
    assert body["tool_calls"][0]["result"] == {"results": results}
    # The model read the chunks' text as the tool's answer...
    tool_message = upstream.chat_requests[1].body["messages"][-1]
    assert tool_message["role"] == "tool"
    assert json.loads(tool_message["content"]) == {"results": results}
    # ...and the turn keeps them, scores and text, with its tool call.
    stored = ToolCall.objects.get()
    assert stored.result == {"results": results}
    assert stored.executed == {"knowledgeBase": "gizmo_docs", "query": QUESTION, "topK": 2}


def test_the_stream_done_event_carries_the_same_citations(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        _, results = setup_chatbot(client)
        upstream.enqueue(tool_calls_reply(("manual_search", {"query": QUESTION})), text_reply("Two years."))
        with client.stream("POST", "/api/v1/chatbots/support/chat/", json={"prompt": QUESTION, "stream": True}) as r:
            events = list(sse_events(r))
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["tool_call", "tool_result"] and kinds[-1] == "done"
    assert events[1][1]["result"] == {"results": results}
    assert events[-1][1]["citations"] == without_text(results)


def test_the_sessions_history_carries_each_answers_citations_after_the_turns(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    """What a page shows again after a reload: the answer that came from the manual with its
    citations, exactly as its turn answered them; an answer that searched nothing without any."""
    with http(owner, asgi_server) as client:
        _, results = setup_chatbot(client)
        upstream.enqueue(tool_calls_reply(("manual_search", {"query": QUESTION})), text_reply("Two years."))
        first = client.post("/api/v1/chatbots/support/chat/", json={"prompt": QUESTION}).json()
        session_key = first["session_key"]
        upstream.enqueue(text_reply("You are welcome."))
        client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Thanks!", "session_key": session_key})
        upstream.enqueue(tool_calls_reply(("manual_search", {"query": "   "})), text_reply("Sorry."))
        client.post("/api/v1/chatbots/support/chat/", json={"prompt": "And dropping it?", "session_key": session_key})
        history = client.get(f"/api/v1/chatbots/support/config/?session_key={session_key}").json()["history"]
    assert first["citations"] == without_text(results)
    assert history == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Two years.", "citations": without_text(results)},
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You are welcome."},
        {"role": "user", "content": "And dropping it?"},
        # The knowledge tool ran and found nothing: an empty list, as the turn's own body said.
        {"role": "assistant", "content": "Sorry.", "citations": []},
    ]


def test_a_failed_search_is_the_tools_error_and_cites_nothing(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        setup_chatbot(client)
        upstream.enqueue(tool_calls_reply(("manual_search", {"query": "   "})), text_reply("Sorry."))
        body = client.post("/api/v1/chatbots/support/chat/", json={"prompt": QUESTION}).json()
    assert body["tool_calls"][0]["error"] == "argument 'query' is empty; ask with the user's question"
    assert body["citations"] == []
    tool_message = upstream.chat_requests[1].body["messages"][-1]
    assert json.loads(tool_message["content"]) == {"error": "argument 'query' is empty; ask with the user's question"}


def test_a_turn_without_a_knowledge_plugin_has_no_citations_field(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])
        upstream.enqueue(tool_calls_reply(("catalogue", {"inquiry_type": "price"})), text_reply("$12.50"))
        body = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "price?"}).json()
    assert sorted(body) == ["message", "session_key", "tool_calls", "turn", "usage"]


def test_the_openai_door_stays_openai_shaped_with_a_knowledge_plugin(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        setup_chatbot(client)
        for _ in range(2):
            upstream.enqueue(tool_calls_reply(("manual_search", {"query": QUESTION})), text_reply("Two years."))
        raw = client.post(
            "/api/v1/openai/chat/completions",
            json={"model": "support", "messages": [{"role": "user", "content": QUESTION}]},
        ).json()
    assert sorted(raw) == ["choices", "created", "id", "model", "object", "system_fingerprint", "usage"]
    assert sorted(raw["choices"][0]["message"]) == ["content", "refusal", "role"]
    sdk = OpenAI(base_url=f"{asgi_server.url}/api/v1/openai", api_key=owner.key, max_retries=0)
    completion = sdk.chat.completions.create(model="support", messages=[{"role": "user", "content": QUESTION}])
    assert completion.choices[0].message.content == "Two years."
