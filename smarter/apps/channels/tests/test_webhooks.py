"""The channels door as Meta and Twilio use it, against the served platform (eager workers: the
turn and the reply run before the webhook answers here), a stub model and stand-in provider
APIs on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.channels.models import Channel, InboundMessage, Reply
from smarter.apps.channels.tests.support import (
    ACCESS_TOKEN,
    post_twilio,
    post_whatsapp,
    set_up,
    twilio_inbound,
    twilio_manifest,
    wa_change,
    wa_delivery,
    wa_message,
    whatsapp_manifest,
)
from smarter.apps.chat.models import Chat
from smarter.testing.messaging_stub import MessagingStub
from smarter.testing.openai_stub import OpenAIStub, RecordedRequest, ScriptedReply, text_reply


@pytest.fixture
def acme(asgi_server: Any) -> Any:
    return make_account("Acme")


@pytest.fixture
def owner(acme: Any) -> Persona:
    return make_persona(acme, "owner", Role.ADMIN)


@pytest.fixture
def provider_api(smarter_settings: Any) -> Iterator[MessagingStub]:
    smarter_settings.allow_private_hosts = True
    with MessagingStub() as stub:
        yield stub


@pytest.fixture
def web(asgi_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        yield client


def echo(request: RecordedRequest) -> ScriptedReply:
    return text_reply(f"You said: {request.messages[-1]['content']}")


def test_a_whatsapp_message_gets_one_reply_with_the_answer(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))

    response = post_whatsapp(web, channel, wa_delivery(wa_change([wa_message("wamid.A1", "15551230001", "Hi")])))

    assert response.status_code == 200, response.text
    assert provider_api.wait_for(lambda: len(provider_api.sends) == 1)
    (send,) = provider_api.sends
    assert (send.provider, send.to, send.text) == ("whatsapp", "15551230001", "You said: Hi")
    assert send.authorization == f"Bearer {ACCESS_TOKEN}"
    assert send.body["context"] == {"message_id": "wamid.A1"}
    message = InboundMessage.objects.get(channel=channel)
    assert message.status == "answered"
    reply = Reply.objects.get(inbound=message)
    assert (reply.status, reply.provider_message_id) == ("sent", send.provider_id)
    assert Chat.objects.get(session_key=message.session_key).channel == "whatsapp"


def test_a_twilio_sms_gets_one_reply_with_the_answer(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, twilio_manifest(provider_api))

    response = post_twilio(web, channel, twilio_inbound("SM" + "a" * 32, "+15550001111", "Hello"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert provider_api.wait_for(lambda: len(provider_api.sends) == 1)
    (send,) = provider_api.sends
    assert (send.provider, send.to, send.text) == ("twilio", "+15550001111", "You said: Hello")
    assert send.body["From"] == "+15557654321"
    assert Channel.objects.get(pk=channel.pk).type == "twilio"
