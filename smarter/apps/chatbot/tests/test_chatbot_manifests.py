"""The Chatbot and Provider kinds: references checked in the caller's account, roles, conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account import services as account_services
from smarter.apps.account.features.services import feature_switch_set
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot
from smarter.apps.chatbot.models import Chatbot

pytestmark = pytest.mark.django_db

STATIC = {
    "apiVersion": "smarter.sh/v1",
    "kind": "Plugin",
    "metadata": {"name": "faq", "pluginClass": "static"},
    "spec": {"selector": {"directive": "always"}, "data": {"description": "FAQ", "staticData": {"hours": "9-5"}}},
}


def bot(name: str = "support", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": "Chatbot", "metadata": {"name": name}, "spec": spec}


def apply(persona: Persona, document: dict[str, Any]) -> Any:
    return persona.client.post(APPLY, data=document, format="json")


def test_a_chatbot_with_plugins_and_functions_describes_its_hosts_and_tools(
    owner: Persona, smarter_settings: Any
) -> None:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    assert apply(owner, STATIC).status_code == 200
    response = apply(owner, bot("help_desk", plugins=["faq"], functions=["calculator"], config={"appName": "Help"}))
    assert response.status_code == 200, response.content
    status = response.json()["data"]["manifest"]["status"]
    number = owner.account.account_number
    assert status["defaultHost"] == f"help-desk.{number}.api.example.com"
    assert status["defaultUrl"] == f"http://help-desk.{number}.api.example.com/"
    assert status["sandboxUrl"] == "http://platform.example.com/dashboard/chatbots/help_desk/sandbox/"
    assert status["tools"] == ["calculator", "faq"]
    assert status["deployed"] is False and status["customUrl"] is None
    again = apply(owner, bot("help_desk", plugins=["faq"], functions=["calculator"], config={"appName": "Help"}))
    assert again.json()["data"]["applied"] == "unchanged"


@pytest.mark.parametrize(
    ("spec", "loc"),
    [
        ({"plugins": ["nope"]}, "spec.plugins[0]"),
        ({"functions": ["get_current_weather"]}, "spec.functions"),
        ({"config": {"provider": "anthropic_direct"}}, "spec.config.provider"),
        ({"config": {"defaultTemperature": 3}}, "spec.config.defaultTemperature"),
        ({"config": {"subdomain": "Not_A_Label"}}, "spec.config.subdomain"),
        ({"config": {"customDomain": "not a domain"}}, "spec.config.customDomain"),
        ({"config": {"appLogoUrl": "javascript:alert(1)"}}, "spec.config.appLogoUrl"),
        ({"apiKey": "missing_key"}, "spec.apiKey"),
        ({"config": {"colour": "red"}}, "spec.config.colour"),
    ],
)
def test_a_bad_chatbot_is_400_at_the_field_and_changes_nothing(owner: Persona, spec: dict[str, Any], loc: str) -> None:
    before = database_snapshot()
    response = apply(owner, bot(**spec))
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["loc"] == loc
    assert database_snapshot() == before


def test_another_accounts_plugin_cannot_be_attached(owner: Persona, outsider: Persona) -> None:
    apply(owner, STATIC)
    response = apply(outsider, bot(plugins=["faq"]))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"loc": "spec.plugins[0]", "msg": "no plugin named 'faq' in your account"}]


def test_a_plugin_in_use_cannot_be_deleted_and_the_refusal_names_the_chatbot(owner: Persona) -> None:
    apply(owner, STATIC)
    apply(owner, bot(plugins=["faq"]))
    response = owner.client.post("/api/v1/cli/delete/plugin/?name=faq")
    assert response.status_code == 409
    assert "Chatbot support" in response.json()["description"]
    assert owner.client.post("/api/v1/cli/delete/chatbot/?name=support").status_code == 200
    assert owner.client.post("/api/v1/cli/delete/plugin/?name=faq").status_code == 200


def test_members_tune_chatbots_but_only_admins_deploy_or_require_keys(owner: Persona, teammate: Persona) -> None:
    assert apply(teammate, bot(config={"appName": "Mine"})).status_code == 200
    refused = apply(teammate, bot(config={"appName": "Mine", "deployed": True}))
    assert refused.status_code == 403
    account_services.api_key_create(account=owner.account, user=owner.user, name="widget_key")
    assert apply(teammate, bot(config={"appName": "Mine"}, apiKey="widget_key")).status_code == 403
    assert apply(owner, bot(config={"appName": "Mine", "deployed": True}, apiKey="widget_key")).status_code == 200
    assert Chatbot.objects.get().deployed is True


def test_the_outsider_gets_404_for_another_accounts_chatbot(owner: Persona, outsider: Persona) -> None:
    apply(owner, bot())
    for verb in ("describe", "delete", "get"):
        assert outsider.client.post(f"/api/v1/cli/{verb}/chatbot/?name=support").status_code == 404
    assert outsider.client.post("/api/v1/cli/chat/support/", {"prompt": "hi"}, format="json").status_code == 404
    assert Chatbot.objects.count() == 1


def test_a_provider_in_use_cannot_be_deleted(owner: Persona, settings: Any) -> None:
    account_services.secret_create(account=owner.account, name="groq_key", value="gsk")
    provider = {
        "apiVersion": "smarter.sh/v1",
        "kind": "Provider",
        "metadata": {"name": "groq"},
        "spec": {
            "provider": {"baseUrl": "https://api.groq.com/openai/v1", "apiKey": "groq_key", "defaultModel": "llama"}
        },
    }
    assert apply(owner, provider).status_code == 200
    assert apply(owner, bot(config={"provider": "groq"})).status_code == 200
    response = owner.client.post("/api/v1/cli/delete/provider/?name=groq")
    assert response.status_code == 409 and "Chatbot support" in response.json()["description"]
    assert owner.client.post("/api/v1/cli/delete/secret/?name=groq_key").status_code == 409
    described = owner.client.get("/api/v1/cli/describe/provider/?name=groq").json()["data"]
    assert described["spec"]["provider"]["apiKey"] == "groq_key"
    assert "gsk" not in str(described)
    assert described["status"]["usedBy"] == ["support"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/v1",
        "http://[::ffff:127.0.0.1]/v1",
        "http://2130706433/v1",
        "http://10.0.0.5/v1",
        "ftp://x/v1",
    ],
)
def test_a_provider_may_not_point_at_internal_addresses(owner: Persona, url: str) -> None:
    provider = {
        "apiVersion": "smarter.sh/v1",
        "kind": "Provider",
        "metadata": {"name": "internal"},
        "spec": {"provider": {"baseUrl": url, "defaultModel": "x"}},
    }
    response = apply(owner, provider)
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == "spec.provider.baseUrl"


def test_custom_domains_follow_the_accounts_feature_switch(owner: Persona) -> None:
    feature_switch_set(feature="custom_domains", account=owner.account, active=False)
    refused = apply(owner, bot(config={"customDomain": "chat.example.com"}))
    assert refused.status_code == 403
    assert refused.json()["description"] == "Custom domains are not enabled for your account."
    assert not Chatbot.objects.exists()
    feature_switch_set(feature="custom_domains", account=owner.account, active=True)  # as the admin site does
    allowed = apply(owner, bot(config={"customDomain": "chat.example.com"}))
    assert allowed.status_code == 200, allowed.json()
