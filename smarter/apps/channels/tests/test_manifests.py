"""Kind `Channel`: what apply accepts and refuses (each refusal at its field path, nothing
written), what describe shows, who may write what, and tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.channels.models import Channel
from smarter.apps.channels.tests.support import (
    SECRETS,
    apply,
    chatbot_manifest,
    manifest,
    set_up,
    twilio_manifest,
    whatsapp_manifest,
)

pytestmark = pytest.mark.django_db
APPLY = "/api/v1/cli/apply/"


class _Addresses:
    """Base URLs of a stand-in; the manifests only store them (nothing is sent here)."""

    graph_url = "https://graph.example.test/v21.0"
    twilio_url = "https://api.twilio.example.test"


STUB: Any = _Addresses()


def refused(persona: Persona, document: dict[str, Any], status: int = 400) -> list[dict[str, str]]:
    before = Channel.objects.count()
    response = persona.client.post(APPLY, document, format="json")
    assert response.status_code == status, response.content
    assert Channel.objects.count() == before
    return list(response.json()["errors"])


def locs(errors: list[dict[str, str]]) -> set[str]:
    return {error["loc"] for error in errors}


def test_a_whatsapp_channel_applies_and_describe_shows_its_webhook_url_and_readiness(owner: Persona) -> None:
    channel = set_up(owner, whatsapp_manifest(STUB))

    described = owner.client.get("/api/v1/cli/describe/Channel/?name=support_whatsapp").json()["data"]

    assert described["spec"] == {
        "chatbot": "support",
        "type": "whatsapp",
        "config": {
            "phoneNumberId": "106540352242922",
            "accessToken": "wa_access_token",
            "appSecret": "wa_app_secret",
            "verifyToken": "wa_verify_token",
            "graphBaseUrl": "https://graph.example.test/v21.0",
        },
        "limits": {"perMinute": 6, "perDay": 200},
        "optOutWords": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"],
        "optInWords": ["START", "UNSTOP"],
    }
    assert described["status"]["webhookUrl"] == f"http://localhost:8000/webhooks/{channel.public_id}/"
    assert (described["status"]["ready"], described["status"]["missing"]) == (True, [])
    listed = owner.client.get("/api/v1/cli/get/Channel/").json()["data"]["items"]
    assert listed == [
        {
            "name": "support_whatsapp",
            "chatbot": "support",
            "type": "whatsapp",
            "webhookUrl": described["status"]["webhookUrl"],
        }
    ]
    again = owner.client.post(APPLY, described, format="json").json()["data"]
    assert again["applied"] == "unchanged"


def test_a_channel_without_its_secrets_applies_but_says_what_it_lacks(owner: Persona) -> None:
    apply(owner, chatbot_manifest())
    document = whatsapp_manifest(STUB)
    for field in ("accessToken", "appSecret", "verifyToken"):
        del document["spec"]["config"][field]
    apply(owner, document)

    status = owner.client.get("/api/v1/cli/describe/Channel/?name=support_whatsapp").json()["data"]["status"]

    assert status["ready"] is False
    assert status["missing"] == ["spec.config.accessToken", "spec.config.appSecret", "spec.config.verifyToken"]


def test_a_twilio_channel_keeps_its_own_fields_and_switching_type_clears_the_others(owner: Persona) -> None:
    set_up(owner, whatsapp_manifest(STUB, name="support_line"))
    document = twilio_manifest(STUB, name="support_line")
    document["spec"]["config"]["publicUrl"] = "https://chat.acme.example/webhooks/x/"
    apply(owner, document)

    channel = Channel.objects.get(account=owner.account, name="support_line")
    assert (channel.type, channel.account_sid, channel.from_number) == (
        "twilio",
        "AC" + "0123456789abcdef" * 2,
        "+15557654321",
    )
    assert (channel.phone_number_id, channel.access_token, channel.app_secret, channel.graph_base_url) == (
        "",
        None,
        None,
        "",
    )
    assert channel.auth_token is not None and channel.auth_token.name == "twilio_auth_token"
    assert channel.public_url == "https://chat.acme.example/webhooks/x/"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"type": "twilio"},
            {
                "spec.config.accountSid",
                "spec.config.fromNumber",
                "spec.config.phoneNumberId",
                "spec.config.accessToken",
                "spec.config.appSecret",
                "spec.config.verifyToken",
                "spec.config.graphBaseUrl",
            },
        ),
        ({"type": "telegram"}, {"spec.type"}),
        ({"chatbot": "nobody"}, {"spec.chatbot"}),
        ({"config": {"phoneNumberId": "12ab"}}, {"spec.config.phoneNumberId"}),
        ({"config": {"phoneNumberId": "1", "appSecret": "no_such_secret"}}, {"spec.config.appSecret"}),
        ({"config": {"phoneNumberId": "1", "graphBaseUrl": "ftp://graph.example.test"}}, {"spec.config.graphBaseUrl"}),
        (
            {"config": {"phoneNumberId": "1", "graphBaseUrl": "http://169.254.169.254/latest"}},
            {"spec.config.graphBaseUrl"},
        ),
        ({"config": {"phoneNumberId": "1", "graphBaseUrl": "http://10.0.0.7/v21.0"}}, {"spec.config.graphBaseUrl"}),
        ({"config": {"phoneNumberId": "1", "extra": True}}, {"spec.config.extra"}),
        ({"config": "not an object"}, {"spec.config"}),
        ({"limits": {"perMinute": -1}}, {"spec.limits.perMinute"}),
        ({"optOutWords": ["two words"]}, {"spec.optOutWords[0]"}),
    ],
)
def test_a_bad_whatsapp_channel_is_refused_at_its_field_and_writes_nothing(
    owner: Persona, change: dict[str, Any], expected: set[str]
) -> None:
    apply(owner, chatbot_manifest())
    for name, value in SECRETS.items():
        apply(owner, manifest("Secret", name, {"config": {"value": value}}))
    document = whatsapp_manifest(STUB)
    document["spec"].update(change)

    assert locs(refused(owner, document)) == expected


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"accountSid": "AC123"}, {"spec.config.accountSid"}),
        ({"fromNumber": "5551234"}, {"spec.config.fromNumber"}),
        ({"fromNumber": "whatsapp:5551234"}, {"spec.config.fromNumber"}),
        ({"publicUrl": "javascript:alert(1)"}, {"spec.config.publicUrl"}),
        ({"authToken": "missing_secret"}, {"spec.config.authToken"}),
        ({"apiBaseUrl": "http://[::1]:8000"}, {"spec.config.apiBaseUrl"}),
    ],
)
def test_a_bad_twilio_channel_is_refused_at_its_field_and_writes_nothing(
    owner: Persona, config: dict[str, Any], expected: set[str]
) -> None:
    apply(owner, chatbot_manifest())
    apply(owner, manifest("Secret", "twilio_auth_token", {"config": {"value": "t"}}))
    document = twilio_manifest(STUB)
    document["spec"]["config"].update(config)

    assert locs(refused(owner, document)) == expected


def test_a_member_may_edit_a_channel_but_only_an_admin_may_name_or_swap_its_secrets(
    owner: Persona, teammate: Persona
) -> None:
    set_up(owner, whatsapp_manifest(STUB))
    apply(owner, manifest("Secret", "other_token", {"config": {"value": "x"}}))
    edited = whatsapp_manifest(STUB, limits={"perMinute": 2, "perDay": 20})
    apply(teammate, edited)
    assert Channel.objects.get(name="support_whatsapp").sender_turns_per_minute == 2

    swapped = whatsapp_manifest(STUB, limits={"perMinute": 2, "perDay": 20})
    swapped["spec"]["config"]["accessToken"] = "other_token"
    assert locs(refused(teammate, swapped, status=403)) == {"spec.config.accessToken"}
    moved = whatsapp_manifest(STUB, limits={"perMinute": 2, "perDay": 20})
    moved["spec"]["config"]["graphBaseUrl"] = "https://graph.evil.example/v21.0"
    assert locs(refused(teammate, moved, status=403)) == {"spec.config.graphBaseUrl"}
    assert teammate.client.delete("/api/v1/cli/delete/Channel/?name=support_whatsapp").status_code == 403
    channel = Channel.objects.get(name="support_whatsapp")
    assert channel.access_token is not None and channel.access_token.name == "wa_access_token"
    assert channel.graph_base_url == "https://graph.example.test/v21.0"


def test_a_secret_a_channel_uses_cannot_be_deleted(owner: Persona) -> None:
    set_up(owner, whatsapp_manifest(STUB))

    response = owner.client.delete("/api/v1/cli/delete/Secret/?name=wa_app_secret")

    assert response.status_code == 409, response.content
    assert "Channel support_whatsapp" in response.json()["description"]


def test_another_accounts_channel_is_not_found_to_read_change_or_delete(owner: Persona, outsider: Persona) -> None:
    set_up(owner, whatsapp_manifest(STUB))

    for path in (
        "/api/v1/cli/describe/Channel/?name=support_whatsapp",
        "/api/v1/channels/support_whatsapp/messages/",
    ):
        response = outsider.client.get(path)
        assert response.status_code == 404, (path, response.content)
    assert outsider.client.delete("/api/v1/cli/delete/Channel/?name=support_whatsapp").status_code == 404
    assert outsider.client.get("/api/v1/cli/get/Channel/").json()["data"]["items"] == []
    # Their own apply of the same name names a chatbot and Secrets they do not have.
    assert locs(refused(outsider, whatsapp_manifest(STUB))) == {
        "spec.chatbot",
        "spec.config.accessToken",
        "spec.config.appSecret",
        "spec.config.verifyToken",
    }
    assert Channel.objects.filter(name="support_whatsapp").count() == 1


def test_a_teammate_reads_the_channels_messages(owner: Persona, teammate: Persona) -> None:
    set_up(owner, whatsapp_manifest(STUB))

    response = teammate.client.get("/api/v1/channels/support_whatsapp/messages/")

    assert response.status_code == 200
    assert response.json()["data"] == {"items": []}
    bad = teammate.client.get("/api/v1/channels/support_whatsapp/messages/?limit=0")
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"loc": "limit", "msg": "expected 1 to 200"}]


def test_a_chatbot_a_channel_answers_with_is_not_deleted_until_the_channel_is(owner: Persona) -> None:
    set_up(owner, whatsapp_manifest(STUB))

    refused_delete = owner.client.delete("/api/v1/cli/delete/Chatbot/?name=support")

    assert refused_delete.status_code == 409, refused_delete.content
    assert refused_delete.json()["context"]["usedBy"] == ["Channel support_whatsapp"]
    assert Channel.objects.filter(name="support_whatsapp").exists()
    assert owner.client.delete("/api/v1/cli/delete/Channel/?name=support_whatsapp").status_code == 200
    assert owner.client.delete("/api/v1/cli/delete/Chatbot/?name=support").status_code == 200


def test_deleting_an_account_takes_its_chatbots_and_channels(owner: Persona) -> None:
    channel = set_up(owner, whatsapp_manifest(STUB))

    owner.account.delete()

    assert not Channel.objects.filter(pk=channel.pk).exists()
