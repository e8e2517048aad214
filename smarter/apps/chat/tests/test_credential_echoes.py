"""No credential leaves through a chat: a plugin target that echoes its token, and an LLM endpoint
that quotes its key in an error, on a real ASGI server. The model's messages, the answer (JSON
and streamed), the stored tool calls, `logs`, the sandbox inspector, a deployed chatbot's
visitors and the error envelope show `***` and none of the credential's forms."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from django.test import Client

from smarter.apps.account import services as account_services
from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ChatMessage, ToolCall, Turn
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, http, sse_events
from smarter.apps.plugin.tests.echo_server import EchoServer, echo_server
from smarter.apps.plugin.tests.test_credential_echoes import AUTH, SCRUBBED_WORDS, leaked_forms
from smarter.testing.openai_stub import OpenAIStub, error_reply, text_reply, tool_calls_reply

SECRET = 'S3cr3t/t0k+en"&<v>=x'


@pytest.fixture
def owner(asgi_server: Any, smarter_settings: Any) -> Persona:
    smarter_settings.allow_private_hosts = True  # the echo target and the stub are on loopback
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with echo_server() as server:
        yield server


def echo_plugin(client: httpx.Client, owner: Persona, echo: EchoServer, auth: str, route: str) -> None:
    account_services.secret_create(account=owner.account, name="api_secret", value=SECRET)
    connection = {"baseUrl": echo.url, "timeout": 5, **AUTH[auth]}
    apply(client, _manifest("ApiConnection", "echo_api", {"connection": connection}))
    apply(
        client,
        _manifest(
            "ApiPlugin",
            "account_status",
            {
                "selector": {"directive": "always"},
                "connection": "echo_api",
                "apiData": {"description": "Look up the account status", "endpoint": route},
            },
        ),
    )


def _manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for form in leaked_forms(SECRET):
            assert form not in text, (form, text[:300])


def stored_texts() -> list[str]:
    """Everything the turn left in the database, as text."""
    rows = [
        *ToolCall.objects.values("result", "error", "executed", "arguments"),
        *ChatMessage.objects.values("content", "tool_calls"),
        *Turn.objects.values("request_messages", "error"),
    ]
    return [json.dumps(row, default=str, ensure_ascii=False) for row in rows]


@pytest.fixture
def upstream(smarter_settings: Any) -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        yield stub


@pytest.mark.parametrize("auth", sorted(AUTH))
@pytest.mark.parametrize("route", ["/json", "/status/401", "/text"])
def test_an_echoed_plugin_credential_reaches_neither_the_model_nor_the_answer_nor_the_records(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, echo: EchoServer, auth: str, route: str
) -> None:
    with http(owner, asgi_server) as client:
        echo_plugin(client, owner, echo, auth, route)
        chatbot(client, plugins=["account_status"])
        upstream.enqueue(tool_calls_reply(("account_status", {})), text_reply("Checked."))
        answered = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "my account status?"})
        upstream.enqueue(tool_calls_reply(("account_status", {})), text_reply("Checked again."))
        with client.stream(
            "POST", "/api/v1/chatbots/support/chat/", json={"prompt": "again?", "stream": True}
        ) as response:
            events = list(sse_events(response))
        logs = client.get("/api/v1/cli/logs/chatbot/?name=support")
    assert answered.status_code == 200, answered.text
    call = answered.json()["tool_calls"][0]
    if route == "/text":
        assert call["result"] == f"Your request carried {SCRUBBED_WORDS[auth]}."
    assert "***" in json.dumps(call)
    assert [kind for kind, _ in events][:2] == ["tool_call", "tool_result"] and events[-1][0] == "done"
    # What the model was sent as the tool's answer, both times.
    tool_messages = [m for request in upstream.chat_requests for m in request.messages if m["role"] == "tool"]
    assert len(tool_messages) == 2 and all("***" in message["content"] for message in tool_messages)
    inspector = signed_in(owner).get(f"/dashboard/chatbots/support/sandbox/turns/{Turn.objects.first().pk}/")
    assert inspector.status_code == 200
    assert_no_secret(
        answered.text,
        json.dumps(events, ensure_ascii=False),
        json.dumps(tool_messages, ensure_ascii=False),
        logs.text,
        inspector.content.decode(),
        *stored_texts(),
    )


def signed_in(persona: Persona) -> Client:
    client = Client()
    client.force_login(persona.user)  # type: ignore[arg-type]
    return client


# --- a deployed chatbot's anonymous visitor ---------------------------------------------------------
@pytest.mark.parametrize("auth", sorted(AUTH))
def test_the_offline_model_quoting_an_echo_to_a_visitor_shows_stars(
    owner: Persona, asgi_server: Any, echo: EchoServer, smarter_settings: Any, auth: str
) -> None:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    smarter_settings.llm_provider = "offline"
    with http(owner, asgi_server) as client:
        echo_plugin(client, owner, echo, auth, "/json")
        chatbot(client, "shop", plugins=["account_status"], provider="offline", deployed=True)
    host = f"shop.{owner.account.account_number}.api.example.com"
    with httpx.Client(base_url=asgi_server.url, headers={"Host": host}, timeout=30) as visitor:
        answered = visitor.post("/chat/", json={"prompt": "What is my account status?"})
        streamed = visitor.post("/chat/", json={"prompt": "What is my account status?", "stream": True})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert [call["plugin"] for call in body["tool_calls"]] == ["account_status"]
    content = body["message"]["content"]
    assert "According to account_status" in content and "***" in content
    assert streamed.status_code == 200 and "***" in streamed.text
    assert_no_secret(answered.text, content, streamed.text, *stored_texts())


# --- an LLM endpoint quoting its key ---------------------------------------------------------------
KEY = 'gsk_live/0123+4567"89&x'


@pytest.mark.parametrize(
    ("echoed", "shown"),
    [
        (KEY, "***."),
        (f"Bearer {KEY}", "***"),  # a `Bearer <anything>` is dropped whole, with what sticks to it
        (quote(KEY, safe=""), "***."),
        (quote_plus(KEY), "***."),
        (json.dumps(KEY)[1:-1], "***."),
        (base64.b64encode(KEY.encode()).decode(), "***."),
    ],
    ids=["raw", "bearer", "url", "form", "json", "base64"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_provider_error_quoting_its_key_shows_stars_in_the_error_envelope(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, echoed: str, shown: str, stream: bool
) -> None:
    account_services.secret_create(account=owner.account, name="llm_key", value=KEY)
    with http(owner, asgi_server) as client:
        provider = {"baseUrl": upstream.url, "apiKey": "llm_key", "defaultModel": "stub-model"}
        apply(client, _manifest("Provider", "acme_llm", {"provider": provider}))
        apply(client, STATIC_PLUGIN)
        chatbot(client, provider="acme_llm", plugins=["catalogue"])
        failure = error_reply(401, f"Incorrect API key provided: {echoed}. See your dashboard.")
        if stream:  # the failure comes mid-stream, after a tool round: an `error` event
            upstream.enqueue(tool_calls_reply(("catalogue", {"inquiry_type": "price"})), failure)
        else:
            upstream.enqueue(failure)
        response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "hello", "stream": stream})
    assert upstream.chat_requests[-1].authorization == f"Bearer {KEY}"
    if stream:
        assert response.status_code == 200
        events = list(sse_events(response))
        assert [kind for kind, _ in events] == ["tool_call", "tool_result", "error"]
        envelope = events[-1][1]
    else:
        assert response.status_code == 502
        envelope = response.json()
    assert (envelope["errorClass"], envelope["status"]) == ("UpstreamError", 502)
    assert envelope["description"] == (
        f"The LLM provider 'acme_llm' answered HTTP 401: Incorrect API key provided: {shown} See your dashboard."
    )
    for text in (response.text, *stored_texts()):
        for form in (KEY, quote(KEY, safe=""), quote_plus(KEY), json.dumps(KEY)[1:-1], KEY[:8]):
            assert form not in text
