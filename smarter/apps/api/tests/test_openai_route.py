"""The OpenAI completions path answered in front of Django (`openai_route`): what it serves, what
it leaves to Django, and that a client cannot tell the two apart (status, body, headers, logs)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.db import OperationalError

from conftest import AsgiServer
from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.api.openai_route import PATH, OpenAIChatRoute
from smarter.apps.chat.models import Turn
from smarter.apps.chat.tests import test_turn_pipeline
from smarter.apps.chat.tests.test_turn_pipeline import chatbot, http
from smarter.testing.openai_stub import OpenAIStub, text_reply

upstream = test_turn_pipeline.upstream  # the same stub upstream fixture as the pipeline's tests

ASK = {"model": "support", "messages": [{"role": "user", "content": "Hello?"}]}
# Headers that differ between any two answers, whoever gives them.
PER_ANSWER = {"date", "server", "content-length", "x-request-id"}


@pytest.fixture
def owner(asgi_server: Any) -> Persona:
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


@pytest.fixture
def outsider(asgi_server: Any) -> Persona:
    return make_persona(make_account("Globex"), "outsider", Role.ADMIN)


async def _teapot(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Stands in for Django: whatever the route passes on answers 418."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 418, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"passed on"})


@pytest.fixture
def route_only(transactional_db: None) -> Iterator[AsgiServer]:
    server = AsgiServer(app=OpenAIChatRoute(_teapot))
    server.start()
    yield server
    server.stop()


def _cancelled_turn_recorded(timeout: float = 10) -> bool:
    """Poll for the one turn, recorded as cancelled by the request's own task (SQLite answers
    "locked" while that task writes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if list(Turn.objects.values_list("status", flat=True)) == ["cancelled"]:
                return True
        except OperationalError:
            pass
        time.sleep(0.05)
    return False


def _with_key(persona: Persona, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {persona.key}", **headers}


def test_the_route_answers_completions_on_the_platform_hosts_and_passes_everything_else_on(
    upstream: OpenAIStub, owner: Persona, outsider: Persona, asgi_server: Any, route_only: AsgiServer
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
    upstream.enqueue(text_reply("Hello from the route."))
    with httpx.Client(base_url=route_only.url, timeout=30) as client:
        answered = client.post(PATH, json=ASK, headers=_with_key(owner))
        assert answered.status_code == 200, answered.text
        assert answered.json()["choices"][0]["message"]["content"] == "Hello from the route."
        # Another account's chatbot is not found, here as under Django.
        foreign = client.post(PATH, json=ASK, headers=_with_key(outsider))
        assert foreign.status_code == 404
        assert foreign.json()["error"]["message"] == "Chatbot 'support' was not found in your account."
        passed_on = [
            client.get("/api/v1/openai/models", headers=_with_key(owner)),
            client.get(PATH, headers=_with_key(owner)),
            client.post(f"{PATH}/", json=ASK, headers=_with_key(owner)),
            client.post(PATH, json=ASK, headers=_with_key(owner, Host="support.1234-5678-9012.api.example.com")),
            client.post(PATH, json=ASK, headers=_with_key(owner, Host="elsewhere.example")),
        ]
    assert [(response.status_code, response.text) for response in passed_on] == [(418, "passed on")] * 5
    assert len(upstream.chat_requests) == 1 and Turn.objects.count() == 1


@pytest.mark.parametrize("key", ["valid", "wrong"])
def test_a_client_cannot_tell_the_route_from_django(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, key: str
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
    upstream.enqueue(text_reply("Same answer."), text_reply("Same answer."))
    headers = _with_key(owner) if key == "valid" else {"Authorization": "Bearer sk-not-a-key"}
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        # The path without a slash is the route's; with one, Django answers it.
        route = client.post(PATH, json=ASK, headers=headers)
        django = client.post(f"{PATH}/", json=ASK, headers=headers)
    assert route.status_code == django.status_code == (200 if key == "valid" else 401)

    def comparable(response: httpx.Response) -> dict[str, str]:
        return {name: value for name, value in response.headers.items() if name not in PER_ANSWER}

    assert comparable(route) == comparable(django)
    assert route.headers["x-request-id"] and route.headers["x-request-id"] != django.headers["x-request-id"]
    if key == "valid":
        first, second = route.json(), django.json()
        for body in (first, second):
            body.pop("id"), body.pop("created")
        assert first == second
    else:
        assert route.json()["error"] == django.json()["error"]
        assert route.json()["errorClass"] == django.json()["errorClass"] == "NotAuthenticated"


def test_behind_https_the_route_sends_hsts_and_leaves_plain_http_to_django_to_redirect(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, route_only: AsgiServer, settings: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = False
    upstream.enqueue(text_reply("Over HTTPS."))
    with httpx.Client(base_url=route_only.url, timeout=30) as client:
        plain = client.post(PATH, json=ASK, headers=_with_key(owner))
        secure = client.post(PATH, json=ASK, headers=_with_key(owner, **{"X-Forwarded-Proto": "https"}))
    assert plain.status_code == 418
    assert secure.status_code == 200
    assert secure.headers["strict-transport-security"] == "max-age=3600; includeSubDomains"


def test_a_client_that_leaves_before_the_answer_cancels_the_turn_and_the_upstream_call(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
    upstream.enqueue(text_reply("Too late.", delay=5))
    body = json.dumps(ASK).encode()
    host, port = asgi_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {owner.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 10
        while not upstream.chat_requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert upstream.chat_requests, "the turn never reached the upstream"
    # The socket is closed: the upstream call must be dropped, and the turn recorded as cancelled.
    assert upstream.wait_for_disconnect(timeout=10) is not None, "the upstream request was not cancelled"
    assert _cancelled_turn_recorded()


def test_an_oversized_body_is_413_and_reaches_nothing(upstream: OpenAIStub, owner: Persona, asgi_server: Any) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
        huge = {**ASK, "messages": [{"role": "user", "content": "x" * 300_000}]}
        response = client.post(PATH, json=huge, headers=_with_key(owner))
    assert response.status_code == 413
    assert response.json()["errorClass"] == "PayloadTooLarge"
    assert response.json()["error"]["message"] == "A chat request may be at most 262144 bytes."
    assert upstream.chat_requests == [] and not Turn.objects.exists()


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "smarter.access" and r.getMessage().startswith(f"POST {PATH} ")]


def test_the_access_log_line_carries_the_request_id_and_the_account(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
    upstream.enqueue(text_reply("Logged."))
    with caplog.at_level(logging.INFO, logger="smarter.access"), httpx.Client(base_url=asgi_server.url) as client:
        response = client.post(PATH, json=ASK, headers=_with_key(owner, **{"X-Request-ID": "trace-0123456789"}))
        deadline = time.monotonic() + 5
        while not _access_lines(caplog) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert response.status_code == 200 and response.headers["x-request-id"] == "trace-0123456789"
    [line] = _access_lines(caplog)
    assert line.getMessage() == f"POST {PATH} 200"
    assert (line.request_id, line.account) == ("trace-0123456789", owner.account.account_number)  # type: ignore[attr-defined]
    assert line.status == 200 and line.ms > 0  # type: ignore[attr-defined]


def test_a_stream_client_that_leaves_midway_cancels_the_upstream_call(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)
    upstream.enqueue(text_reply("one two three four five six seven eight nine ten", chunk_delay=0.3))
    with (
        httpx.Client(base_url=asgi_server.url, timeout=30) as client,
        client.stream("POST", PATH, json={**ASK, "stream": True}, headers=_with_key(owner)) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        first = next(line for line in response.iter_lines() if line.startswith("data: "))
        assert json.loads(first[6:])["object"] == "chat.completion.chunk"
        # leaving the block closes the connection mid-stream
    assert upstream.wait_for_disconnect(timeout=10) is not None, "the upstream request was not cancelled"
    assert _cancelled_turn_recorded()  # what it is charged: chat/tests/test_abandoned_turns


def test_at_shutdown_the_kept_upstream_sessions_are_closed(upstream: OpenAIStub) -> None:
    from smarter.apps.chat.providers import ProviderRequest, provider_for
    from smarter.apps.chat.providers.base import Message
    from smarter.apps.chat.providers.clients import upstream_session

    route = OpenAIChatRoute(_teapot)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def go() -> tuple[bool, bool]:
        provider = provider_for("openai", api_key="sk-platform", base_url=upstream.url)
        await provider.complete(ProviderRequest(messages=[Message.user("Hi")], model="stub-model"))
        session = upstream_session(base_url=upstream.url, api_key="sk-platform", guarded=False)
        open_before = not session.closed
        await route({"type": "lifespan"}, receive, send)
        return open_before, session.closed

    assert asyncio.run(go()) == (True, True)
    assert [message["type"] for message in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
