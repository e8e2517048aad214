"""What a deployed chatbot's visitors read says nothing of how the platform is configured: the
offline model's note on `SMARTER_OPENAI_API_KEY` and an upstream's provider, model and timeout
are for the operator (the API, the cli, the sandbox), not for the public page and widget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.providers.offline import FOOTNOTE, HOW_TO_CONFIGURE
from smarter.apps.chatbot.tests.helpers import CATALOGUE, apply, chatbot_manifest
from smarter.testing.openai_stub import OpenAIStub, error_reply


@pytest.fixture
def owner(asgi_server: Any, smarter_settings: Any) -> Persona:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    smarter_settings.llm_provider = "offline"
    persona = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    apply(persona, CATALOGUE)
    apply(persona, chatbot_manifest("shop", plugins=["catalogue"], deployed=True))
    return persona


def visitor(owner: Persona, asgi_server: Any) -> httpx.Client:
    host = f"shop.{owner.account.account_number}.api.example.com"
    return httpx.Client(base_url=asgi_server.url, headers={"Host": host}, timeout=30)


def operator(owner: Persona, asgi_server: Any) -> httpx.Client:
    return httpx.Client(
        base_url=asgi_server.url,
        headers={"Host": "platform.example.com", "Authorization": f"Token {owner.key}"},
        timeout=30,
    )


def test_the_offline_model_answers_visitors_without_its_configuration_note(owner: Persona, asgi_server: Any) -> None:
    with visitor(owner, asgi_server) as page, operator(owner, asgi_server) as api:
        quoted = page.post("/chat/", json={"prompt": "What does the Gizmo cost?"}).json()["message"]["content"]
        unmatched = page.post("/chat/", json={"prompt": "Hello there"}).json()["message"]["content"]
        for_operator = api.post("/api/v1/chatbots/shop/chat/", json={"prompt": "Hello there"}).json()
    assert "$12.50" in quoted and FOOTNOTE not in quoted
    assert unmatched == (
        "Sorry, I have no answer about \u201cHello there\u201d. Try asking another way, or one of the example questions."
    )
    assert for_operator["message"]["content"].endswith(HOW_TO_CONFIGURE)


@pytest.fixture
def failing_upstream(owner: Persona, smarter_settings: Any) -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        yield stub


def test_an_upstream_failure_reads_as_not_available_to_a_visitor_and_in_full_to_the_operator(
    owner: Persona, asgi_server: Any, failing_upstream: OpenAIStub
) -> None:
    failing_upstream.enqueue(*[error_reply(500, "boom")] * 20)
    with visitor(owner, asgi_server) as page, operator(owner, asgi_server) as api:
        plain = page.post("/chat/", json={"prompt": "What does the Gizmo cost?"})
        streamed = page.post("/chat/", json={"prompt": "What does the Gizmo cost?", "stream": True})
        for_operator = api.post("/api/v1/chatbots/shop/chat/", json={"prompt": "What does the Gizmo cost?"})
    shown = "The assistant is not available right now; please try again in a moment."
    assert (plain.status_code, plain.json()["errorClass"], plain.json()["description"]) == (502, "UpstreamError", shown)
    assert list(plain.json()["context"]) == ["requestId"]  # no provider, no model
    # The model failed before the first event: the stream's answer is the error itself.
    assert (streamed.status_code, streamed.json()["description"]) == (502, shown)
    assert for_operator.status_code == 502
    assert for_operator.json()["description"].startswith("The LLM provider 'openai' answered HTTP 500")
