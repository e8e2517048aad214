"""The outbound guard at connect time, through a real chat turn on the ASGI server: a stored base
URL that leads to a refused address, by a name that resolves there or by a Unicode spelling written
straight into the database (as a row from before apply normalised URLs would be), is refused when
the turn runs, for the provider's aiohttp client and for a REST plugin's httpx client. The upstream
listening on loopback receives nothing; each test also shows that it is reachable when allowed, so
the refusal is the guard's and not a dead server's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ToolCall
from smarter.apps.chat.providers import clients
from smarter.apps.chatbot.models import Provider
from smarter.apps.plugin.models import ApiConnection
from smarter.apps.plugin.tests.servers import LoopbackServer, loopback_server
from smarter.lib import outbound
from smarter.lib.outbound import OutboundRefused
from smarter.testing import spellings
from smarter.testing.openai_stub import OpenAIStub, text_reply, tool_calls_reply

UNICODE_LOOPBACK = {
    "fullwidth digits": spellings.digits("127.0.0.1", spellings.FULLWIDTH_DIGITS),
    "ideographic full stops": spellings.dots("127.0.0.1", spellings.IDEOGRAPHIC_FULL_STOP),
    "circled digits": spellings.circled("127.0.0.1"),
    "mathematical bold digits": spellings.digits("127.0.0.1", spellings.MATHEMATICAL_BOLD_DIGITS),
    "fullwidth hexadecimal": spellings.digits("0x7f.1", spellings.FULLWIDTH_DIGITS),
}


@pytest.fixture
def strict(smarter_settings: Any) -> Any:
    smarter_settings.allow_private_hosts = False
    return smarter_settings


@pytest.fixture
def owner(asgi_server: Any) -> Persona:
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


@pytest.fixture
def client(owner: Persona, asgi_server: Any) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Token {owner.key}"}
    with httpx.Client(base_url=asgi_server.url, headers=headers, timeout=30) as http:
        yield http


def apply(client: httpx.Client, kind: str, name: str, spec: dict[str, Any]) -> None:
    document = {"apiVersion": "smarter.sh/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    response = client.post("/api/v1/cli/apply/", json=document)
    assert response.status_code == 200, response.text


def chat(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/api/v1/chatbots/support/chat/", json={"prompt": "hello", **body})


# --- the provider's aiohttp client -------------------------------------------------------------
@pytest.fixture
def own_provider(client: httpx.Client, strict: Any, openai_stub: OpenAIStub) -> OpenAIStub:
    """A Provider at a public-looking name, on the stub's port, and a chatbot using it."""
    spec = {"provider": {"baseUrl": f"http://llm.example.com:{openai_stub.port}/v1", "defaultModel": "stub-model"}}
    apply(client, "Provider", "own", spec)
    apply(client, "Chatbot", "support", {"config": {"provider": "own"}})
    return openai_stub


def refused_by_the_provider(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["errorClass"] == "UpstreamError" and body["status"] == 502
    assert body["description"].startswith("The LLM provider 'own' is refused as a destination: ")
    assert reason in body["description"]


def test_a_provider_name_that_resolves_to_loopback_is_refused_when_the_turn_runs(
    client: httpx.Client, own_provider: OpenAIStub
) -> None:
    with outbound.override_host("llm.example.com", ["127.0.0.1"]):
        refused_by_the_provider(chat(client), "llm.example.com may not be reached: 127.0.0.1 is a loopback address")
    assert own_provider.chat_requests == []
    own_provider.enqueue(text_reply("Reached."))
    with outbound.override_host("llm.example.com", ["127.0.0.1"], trusted=True):
        assert chat(client).json()["message"]["content"] == "Reached."
    assert len(own_provider.chat_requests) == 1


@pytest.mark.parametrize("spelling", UNICODE_LOOPBACK)
def test_a_stored_provider_url_in_a_unicode_spelling_of_loopback_is_refused_when_the_turn_runs(
    client: httpx.Client, own_provider: OpenAIStub, strict: Any, spelling: str
) -> None:
    Provider.objects.update(base_url=f"http://{UNICODE_LOOPBACK[spelling]}:{own_provider.port}/v1")
    refused_by_the_provider(chat(client), "127.0.0.1 is a loopback address")
    with client.stream("POST", "/api/v1/chatbots/support/chat/", json={"prompt": "hi", "stream": True}) as response:
        response.read()  # refused before the first event: the error envelope, not a stream
    refused_by_the_provider(response, "127.0.0.1 is a loopback address")
    assert own_provider.chat_requests == []
    strict.allow_private_hosts = True  # the very same row reaches the stub once allowed
    own_provider.enqueue(text_reply("Reached."))
    assert chat(client).json()["message"]["content"] == "Reached."
    assert len(own_provider.chat_requests) == 1


def test_a_stored_provider_url_at_a_metadata_address_stays_refused_with_private_hosts_allowed(
    client: httpx.Client, own_provider: OpenAIStub, smarter_settings: Any
) -> None:
    smarter_settings.allow_private_hosts = True
    fullwidth = spellings.digits("169.254.169.254", spellings.FULLWIDTH_DIGITS)
    Provider.objects.update(base_url=f"http://{fullwidth}/v1")
    refused_by_the_provider(chat(client), "169.254.169.254 is a cloud metadata address")


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", UNICODE_LOOPBACK["fullwidth digits"]])
def test_the_providers_kept_session_checks_every_socket_even_to_an_address_it_never_resolves(
    strict: Any, openai_stub: OpenAIStub, host: str
) -> None:
    # Without the provider's own check of the URL: the session's socket factory alone refuses.
    async def post() -> int:
        session = clients.upstream_session(base_url="http://own.example/v1", api_key="sk-own", guarded=True)
        try:
            async with session.post(f"http://{host}:{openai_stub.port}/v1/chat/completions", data=b"{}") as response:
                return response.status
        finally:
            await clients.close_sessions()

    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is a loopback address"):
        asyncio.run(post())
    assert openai_stub.chat_requests == []


# --- a REST plugin's httpx client ---------------------------------------------------------------
@pytest.fixture
def rest_target() -> Iterator[LoopbackServer]:
    with loopback_server() as server:
        yield server


@pytest.fixture
def rest_plugin(
    client: httpx.Client, strict: Any, openai_stub: OpenAIStub, smarter_settings: Any, rest_target: LoopbackServer
) -> OpenAIStub:
    """The platform's model (the stub, the operator's own endpoint) asks for the `lookup` tool, a
    REST plugin whose connection names a public-looking host on the target's port."""
    smarter_settings.llm_provider = "openai"
    smarter_settings.openai_base_url = openai_stub.url
    smarter_settings.openai_api_key = "sk-platform"
    with outbound.override_host("crm.example.com", ["127.0.0.1"]):  # its health check stays on the machine
        apply(client, "ApiConnection", "crm", {"connection": {"baseUrl": f"http://crm.example.com:{rest_target.port}"}})
        apply(
            client,
            "ApiPlugin",
            "lookup",
            {
                "selector": {"directive": "always"},
                "connection": "crm",
                "apiData": {"description": "Look items up", "endpoint": "/echo"},
            },
        )
    apply(client, "Chatbot", "support", {"config": {"defaultModel": "gpt-4o-mini"}, "plugins": ["lookup"]})
    rest_target.requests.clear()
    return openai_stub


def tool_error_of_turn(client: httpx.Client, stub: OpenAIStub) -> str:
    stub.enqueue(tool_calls_reply(("lookup", {})), text_reply("I could not look it up."))
    response = chat(client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"]["content"] == "I could not look it up."
    error = body["tool_calls"][0]["error"]
    assert ToolCall.objects.get().error == error  # what was stored is what was answered
    return str(error)


def test_a_plugin_host_that_resolves_to_loopback_is_refused_when_the_tool_runs(
    client: httpx.Client, rest_plugin: OpenAIStub, rest_target: LoopbackServer
) -> None:
    with outbound.override_host("crm.example.com", ["127.0.0.1"]):
        error = tool_error_of_turn(client, rest_plugin)
    assert error == "refused: crm.example.com may not be reached: 127.0.0.1 is a loopback address"
    assert rest_target.requests == []


@pytest.mark.parametrize("spelling", UNICODE_LOOPBACK)
def test_a_stored_plugin_url_in_a_unicode_spelling_of_loopback_is_refused_when_the_tool_runs(
    client: httpx.Client, rest_plugin: OpenAIStub, rest_target: LoopbackServer, strict: Any, spelling: str
) -> None:
    ApiConnection.objects.update(base_url=f"http://{UNICODE_LOOPBACK[spelling]}:{rest_target.port}")
    error = tool_error_of_turn(client, rest_plugin)
    assert error == "refused: 127.0.0.1 may not be reached: 127.0.0.1 is a loopback address"
    assert rest_target.requests == []
    strict.allow_private_hosts = True  # the very same row reaches the target once allowed
    rest_plugin.enqueue(tool_calls_reply(("lookup", {})), text_reply("Found it."))
    assert chat(client).json()["message"]["content"] == "Found it."
    assert [request.path for request in rest_target.requests] == ["/echo"]
