"""The chatbot page's Channels section: each channel of the chatbot, whether it is ready, its
webhook URL, and its recent deliveries with every reply's status and error."""

from __future__ import annotations

import html

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.channels.models import InboundMessage, Reply
from smarter.apps.channels.selectors import webhook_url
from smarter.apps.channels.tests.support import apply, chatbot_manifest, set_up, twilio_manifest, whatsapp_manifest
from smarter.apps.dashboard.tests.helpers import signed_in

pytestmark = pytest.mark.django_db


class _Addresses:
    graph_url = "https://graph.example.test/v21.0"
    twilio_url = "https://api.twilio.example.test"


def test_the_chatbot_page_shows_its_channels_and_their_recent_deliveries(owner: Persona, teammate: Persona) -> None:
    channel = set_up(owner, whatsapp_manifest(_Addresses()))
    sms = twilio_manifest(_Addresses())
    del sms["spec"]["config"]["authToken"]
    apply(owner, sms)
    message = InboundMessage.objects.create(
        channel=channel,
        provider_message_id="wamid.C1",
        sender="15551230001",
        text="Where is my order?",
        status="answered",
    )
    Reply.objects.create(
        channel=channel,
        inbound=message,
        recipient="15551230001",
        text="On its way.",
        status="failed",
        attempts=5,
        error_code="131026",
        error="Message undeliverable",
    )

    page = html.unescape(signed_in(teammate).get("/dashboard/chatbots/support/").content.decode())

    section = page[page.index('<section class="card" id="channels">') :]
    assert 'id="channel-support_whatsapp"' in section and 'id="channel-support_sms"' in section
    assert webhook_url(channel) in section
    assert "spec.config.authToken: deliveries are refused until these are set" in section
    assert "Where is my order?" in section
    assert "[131026] Message undeliverable" in section
    assert "5 attempts" in section


def test_a_chatbot_without_channels_says_how_to_add_one(owner: Persona) -> None:
    apply(owner, chatbot_manifest("lonely"))

    page = signed_in(owner).get("/dashboard/chatbots/lonely/").content.decode()

    assert "This chatbot answers on no messaging number." in page


def test_another_accounts_channels_never_show(owner: Persona, outsider: Persona) -> None:
    set_up(owner, whatsapp_manifest(_Addresses()))
    apply(outsider, chatbot_manifest("support"))

    page = signed_in(outsider).get("/dashboard/chatbots/support/").content.decode()

    assert "support_whatsapp" not in page
    assert "This chatbot answers on no messaging number." in page
