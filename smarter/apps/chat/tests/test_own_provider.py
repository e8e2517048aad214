"""A chatbot on its account's own Provider: every turn reads the provider and its key as stored
now, in one statement, so a key rotated or a provider re-pointed applies to the very next turn,
and another account's provider of the same name is never used."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.tests.test_turn_pipeline import apply, chatbot, http, upstream  # noqa: F401
from smarter.apps.chatbot.selectors import provider_get, provider_of_turn
from smarter.testing.openai_stub import OpenAIStub, text_reply


@pytest.fixture
def owner(asgi_server: Any) -> Persona:
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


@pytest.fixture
def outsider(asgi_server: Any) -> Persona:
    return make_persona(make_account("Globex"), "outsider", Role.ADMIN)


def _own_provider(client: httpx.Client, *, base_url: str, key: str, name: str = "mine") -> None:
    apply(
        client,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "Secret",
            "metadata": {"name": f"{name}_key"},
            "spec": {"config": {"value": key}},
        },
    )
    apply(
        client,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "Provider",
            "metadata": {"name": name},
            "spec": {"provider": {"baseUrl": base_url, "apiKey": f"{name}_key", "defaultModel": "stub-model"}},
        },
    )


def _turn(client: httpx.Client, prompt: str) -> httpx.Response:
    response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": prompt})
    assert response.status_code == 200, response.text
    return response


def test_a_rotated_key_and_a_re_pointed_provider_apply_to_the_very_next_turn(
    upstream: OpenAIStub,  # noqa: F811
    owner: Persona,
    asgi_server: Any,
) -> None:
    with OpenAIStub() as elsewhere, http(owner, asgi_server) as client:
        _own_provider(client, base_url=upstream.url, key="sk-first")
        chatbot(client, provider="mine")
        upstream.enqueue(text_reply("One."), text_reply("Two."))
        elsewhere.enqueue(text_reply("Three."))
        assert _turn(client, "one?").json()["message"]["content"] == "One."
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "Secret",
                "metadata": {"name": "mine_key"},
                "spec": {"config": {"value": "sk-rotated"}},
            },
        )
        assert _turn(client, "two?").json()["message"]["content"] == "Two."
        _own_provider(client, base_url=elsewhere.url, key="sk-rotated")
        assert _turn(client, "three?").json()["message"]["content"] == "Three."
    assert [request.authorization for request in upstream.chat_requests] == ["Bearer sk-first", "Bearer sk-rotated"]
    assert [request.authorization for request in elsewhere.chat_requests] == ["Bearer sk-rotated"]


def test_another_accounts_provider_of_the_same_name_is_never_used(
    upstream: OpenAIStub,  # noqa: F811
    owner: Persona,
    outsider: Persona,
    asgi_server: Any,
) -> None:
    with OpenAIStub() as theirs:
        with http(outsider, asgi_server) as client:
            _own_provider(client, base_url=theirs.url, key="sk-outsider")
        with http(owner, asgi_server) as client:
            _own_provider(client, base_url=upstream.url, key="sk-owner")
            chatbot(client, provider="mine")
            upstream.enqueue(text_reply("Mine."))
            assert _turn(client, "whose?").json()["message"]["content"] == "Mine."
        assert theirs.chat_requests == []
    assert [request.authorization for request in upstream.chat_requests] == ["Bearer sk-owner"]
    found = provider_of_turn(account=outsider.account, name="mine")
    assert found is not None and found.base_url == theirs.url.rstrip("/")
    assert provider_of_turn(account=owner.account, name="nobodys") is None


def test_the_turn_reads_the_provider_and_its_key_as_the_orm_would_in_one_statement(
    upstream: OpenAIStub,  # noqa: F811
    owner: Persona,
    asgi_server: Any,
) -> None:
    with http(owner, asgi_server) as client:
        _own_provider(client, base_url=upstream.url, key="sk-owner")
    expected = provider_get(account=owner.account, name="mine")
    assert expected is not None and expected.api_key is not None
    with CaptureQueriesContext(connection) as queries:
        found = provider_of_turn(account=owner.account, name="mine")
    assert len(queries) == 1
    assert found is not None and found.api_key is not None
    fields = [field.attname for field in type(expected)._meta.concrete_fields]
    assert [getattr(found, name) for name in fields] == [getattr(expected, name) for name in fields]
    secret_fields = [field.attname for field in type(expected.api_key)._meta.concrete_fields]
    assert [getattr(found.api_key, name) for name in secret_fields] == [
        getattr(expected.api_key, name) for name in secret_fields
    ]
    assert found.account is owner.account
