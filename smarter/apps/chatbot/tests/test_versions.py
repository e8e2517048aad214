"""Configuration versions: every change is a version; compare two; roll back without undeploying."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY
from smarter.apps.chatbot import versions
from smarter.apps.chatbot.models import Chatbot, ChatbotVersion

pytestmark = pytest.mark.django_db


def bot(prompt: str, **config: Any) -> dict[str, Any]:
    return {
        "apiVersion": "smarter.sh/v1",
        "kind": "Chatbot",
        "metadata": {"name": "support"},
        "spec": {"config": {"defaultSystemRole": prompt, **config}},
    }


def apply(persona: Persona, document: dict[str, Any]) -> dict[str, Any]:
    response = persona.client.post(APPLY, data=document, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_every_change_is_a_version_and_an_unchanged_apply_is_not(owner: Persona) -> None:
    assert apply(owner, bot("Be brief."))["manifest"]["status"]["configurationVersion"] == 1
    assert apply(owner, bot("Be brief."))["manifest"]["status"]["configurationVersion"] == 1
    assert apply(owner, bot("Be thorough."))["manifest"]["status"]["configurationVersion"] == 2
    listed = owner.client.get("/api/v1/chatbots/support/versions/").json()["data"]["versions"]
    assert [(v["number"], v["note"], v["createdBy"]) for v in listed] == [
        (2, "updated", "owner"),
        (1, "created", "owner"),
    ]
    one = owner.client.get("/api/v1/chatbots/support/versions/1/").json()["data"]
    assert one["spec"]["config"]["defaultSystemRole"] == "Be brief."


def test_two_versions_compare_field_by_field(owner: Persona) -> None:
    apply(owner, bot("Be brief.", defaultTemperature=0.5))
    apply(owner, bot("Be thorough.", defaultTemperature=0.2))
    diff = owner.client.get("/api/v1/chatbots/support/versions/1/diff/2/").json()["data"]
    assert diff == {
        "from": 1,
        "to": 2,
        "changes": [
            {"path": "spec.config.defaultSystemRole", "before": "Be brief.", "after": "Be thorough."},
            {"path": "spec.config.defaultTemperature", "before": 0.5, "after": 0.2},
        ],
    }


def test_rolling_back_restores_the_prompt_but_keeps_the_chatbot_deployed(owner: Persona, teammate: Persona) -> None:
    apply(owner, bot("Be brief."))
    apply(owner, bot("Be thorough.", deployed=True))
    response = teammate.client.post("/api/v1/chatbots/support/versions/1/rollback/")
    assert response.status_code == 200, response.content
    assert response.json()["data"] == {
        "rolledBack": True,
        "current": {
            "number": 3,
            "createdAt": ChatbotVersion.objects.get(number=3).created_at.isoformat(),
            "createdBy": "teammate",
            "note": "rollback to version 1",
        },
    }
    chatbot = Chatbot.objects.get()
    assert chatbot.default_system_role == "Be brief."
    assert chatbot.deployed is True


def test_saving_sandbox_overrides_makes_a_version_and_nothing_when_they_change_nothing(owner: Persona) -> None:
    apply(owner, bot("Be brief."))
    from smarter.apps.account.selectors import caller_for_api_key

    caller = caller_for_api_key(owner.key)
    assert caller is not None
    chatbot = Chatbot.objects.get()
    saved = versions.chatbot_save_overrides(caller=caller, chatbot=chatbot, system_role="Be kind.", temperature=0.1)
    assert saved is not None and (saved.number, saved.note) == (2, "saved from the sandbox")
    chatbot.refresh_from_db()
    assert (chatbot.default_system_role, chatbot.default_temperature) == ("Be kind.", 0.1)
    assert versions.chatbot_save_overrides(caller=caller, chatbot=chatbot, system_role="Be kind.") is None


def test_versions_of_another_accounts_chatbot_are_404_and_unknown_numbers_too(
    owner: Persona, outsider: Persona
) -> None:
    apply(owner, bot("Be brief."))
    assert outsider.client.get("/api/v1/chatbots/support/versions/").status_code == 404
    assert outsider.client.post("/api/v1/chatbots/support/versions/1/rollback/").status_code == 404
    assert owner.client.get("/api/v1/chatbots/support/versions/9/").status_code == 404
    assert ChatbotVersion.objects.count() == 1
