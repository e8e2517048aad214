"""`deploy` and `undeploy`: admin only, tenant-scoped, journaled, idempotent; status shows the hosts."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest, deploy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hosts(smarter_settings: Any) -> None:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"


def test_an_admin_deploys_and_undeploys_a_chatbot_and_its_status_says_where_it_answers(owner: Persona) -> None:
    apply(owner, chatbot_manifest("help_desk", appName="Help"))
    response = deploy(owner, "help_desk")
    assert response.status_code == 200, response.content
    body = response.json()
    number = owner.account.account_number
    assert body["thing"] == "Chatbot" and body["metadata"]["command"] == "deploy"
    status = body["data"]["status"]
    assert {key: status[key] for key in ("deployed", "defaultHost", "defaultUrl", "customUrl", "sandboxUrl")} == {
        "deployed": True,
        "defaultHost": f"help-desk.{number}.api.example.com",
        "defaultUrl": f"http://help-desk.{number}.api.example.com/",
        "customUrl": None,
        "sandboxUrl": "http://platform.example.com/dashboard/chatbots/help_desk/sandbox/",
    }
    assert status["dnsVerificationStatus"] == "Not applicable"
    assert body["data"]["spec"]["config"]["deployed"] is True
    assert Chatbot.objects.get(name="help_desk").deployed is True
    assert deploy(owner, "help_desk").status_code == 200  # again: nothing changes, no error
    undeployed = deploy(owner, "help_desk", "undeploy")
    assert undeployed.status_code == 200
    assert undeployed.json()["data"]["status"]["deployed"] is False
    assert Chatbot.objects.get(name="help_desk").deployed is False
    journal = list(JournalEntry.objects.filter(command__in=["deploy", "undeploy"]).order_by("id"))
    assert [(e.command, e.kind, e.name, e.status_code) for e in journal] == [
        ("deploy", "Chatbot", "help_desk", 200),
        ("deploy", "Chatbot", "help_desk", 200),
        ("undeploy", "Chatbot", "help_desk", 200),
    ]


def test_the_name_may_be_given_in_the_path_and_the_manifest_flag_deploys_too(owner: Persona) -> None:
    apply(owner, chatbot_manifest("support"))
    assert owner.client.post("/api/v1/cli/deploy/chatbots/support/").status_code == 200
    assert Chatbot.objects.get(name="support").deployed is True
    data = apply(owner, chatbot_manifest("support", deployed=False))
    assert data["manifest"]["status"]["deployed"] is False


def test_a_member_may_not_deploy_or_undeploy(owner: Persona, teammate: Persona) -> None:
    apply(owner, chatbot_manifest("support", deployed=True))
    apply(owner, chatbot_manifest("draft"))
    before = database_snapshot()
    for verb, name in (("deploy", "draft"), ("undeploy", "support")):
        response = deploy(teammate, name, verb)
        assert response.status_code == 403
        assert response.json()["errorClass"] == "PermissionDenied"
        assert response.json()["description"] == f"Only an account admin may {verb} a chatbot."
    assert database_snapshot() == before
    journal = JournalEntry.objects.filter(user=teammate.user).order_by("id")
    assert list(journal.values_list("command", "name", "status_code")) == [
        ("deploy", "draft", 403),
        ("undeploy", "support", 403),
    ]


def test_an_outsider_cannot_see_another_accounts_chatbot(owner: Persona, outsider: Persona) -> None:
    apply(owner, chatbot_manifest("support", deployed=True))
    before = database_snapshot()
    for verb in ("deploy", "undeploy"):
        response = deploy(outsider, "support", verb)
        assert response.status_code == 404
        assert response.json()["description"] == "Chatbot 'support' was not found in your account."
    assert database_snapshot() == before


def test_only_a_chatbot_deploys_and_a_name_is_required(owner: Persona) -> None:
    plugin = owner.client.post("/api/v1/cli/deploy/Plugin/?name=faq")
    assert plugin.status_code == 400
    assert plugin.json()["errors"] == [{"loc": "kind", "msg": "must be Chatbot"}]
    unnamed = owner.client.post("/api/v1/cli/deploy/Chatbot/")
    assert unnamed.status_code == 400
    assert unnamed.json()["errors"] == [{"loc": "name", "msg": "required"}]
    assert owner.client.get("/api/v1/cli/deploy/Chatbot/?name=x").status_code == 405
    assert deploy(owner, "ghost").status_code == 404


def test_two_chatbots_of_an_account_cannot_share_a_host(owner: Persona) -> None:
    apply(owner, chatbot_manifest("support"))
    before = database_snapshot()
    response = owner.client.post(
        "/api/v1/cli/apply/", data=chatbot_manifest("helper", subdomain="support"), format="json"
    )
    assert response.status_code == 409
    assert response.json()["description"] == (
        "Another chatbot of your account already answers on the host label 'support'; choose another subdomain."
    )
    assert database_snapshot() == before
