"""Deleting a whole account takes everything of it, even resources that refuse a single delete."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.models import Account, ApiKey, Role, Secret
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.api.tests.helpers import APPLY
from smarter.apps.chatbot.models import Chatbot, Provider
from smarter.apps.plugin.models import Plugin, SqlConnection

pytestmark = pytest.mark.django_db


def manifest(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}


@pytest.fixture
def furnished(owner: Persona) -> Persona:
    """An account whose resources all depend on each other."""
    documents = [
        manifest("Secret", "shared", {"config": {"value": "pw"}}),
        manifest("ApiKey", "widget", {"config": {}}),
        manifest(
            "SqlConnection",
            "warehouse",
            {
                "connection": {
                    "dbEngine": "mysql",
                    "hostname": "db.example.com",
                    "database": "w",
                    "username": "u",
                    "password": "shared",
                }
            },
        ),
        manifest(
            "Provider",
            "own_llm",
            {"provider": {"baseUrl": "https://llm.example.com/v1", "apiKey": "shared", "defaultModel": "m"}},
        ),
        manifest(
            "Plugin",
            "faq",
            {"selector": {"directive": "always"}, "data": {"description": "FAQ", "staticData": {"a": 1}}},
            pluginClass="static",
        ),
        manifest("Chatbot", "support", {"config": {"provider": "own_llm"}, "plugins": ["faq"], "apiKey": "widget"}),
    ]
    for document in documents:
        response = owner.client.post(APPLY, data=document, format="json")
        assert response.status_code == 200, response.content
    return owner


def test_resources_in_use_refuse_a_single_delete_with_409(furnished: Persona) -> None:
    for kind, name, used_by in [
        ("secret", "shared", "Provider own_llm, SqlConnection warehouse"),
        ("apikey", "widget", "Chatbot support"),
        ("plugin", "faq", "Chatbot support"),
        ("provider", "own_llm", "Chatbot support"),
    ]:
        response = furnished.client.post(f"/api/v1/cli/delete/{kind}/?name={name}")
        assert response.status_code == 409, (kind, response.content)
        assert used_by in response.json()["description"]
    assert Secret.objects.filter(name="shared").exists() and ApiKey.objects.filter(name="widget").exists()


def test_removing_a_member_whose_key_protects_a_chatbot_is_refused(furnished: Persona) -> None:
    teammate = make_persona(furnished.account, "mate", Role.MEMBER)
    ApiKey.objects.filter(name="widget").update(user=teammate.user)
    response = furnished.client.post("/api/v1/cli/delete/user/?name=mate")
    assert response.status_code == 409
    assert "Chatbot support" in response.json()["description"]
    assert teammate.account.memberships.filter(user=teammate.user).exists()


def test_the_platform_operator_deletes_a_whole_account_and_everything_in_it(furnished: Persona) -> None:
    operator = make_persona(make_account("Operator"), "operator", Role.ADMIN)
    operator.user.is_superuser = True
    operator.user.save()
    response = operator.client.post(f"/api/v1/cli/delete/account/?name={furnished.account.name}")
    assert response.status_code == 200, response.content
    assert not Account.objects.filter(pk=furnished.account.pk).exists()
    for model in (Secret, ApiKey, SqlConnection, Provider, Plugin, Chatbot):
        assert not model.objects.filter(account_id=furnished.account.pk).exists(), model.__name__
