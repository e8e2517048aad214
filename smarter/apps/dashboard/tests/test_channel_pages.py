"""Channels in the console: the list (type, chatbot, webhook URL with a copy button, whether
ready, errors) and a channel's page (settings, counts, recent deliveries with their replies and
the provider's errors); the owner and a teammate see them, an outsider finds none (404)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.channels.models import Channel, InboundMessage, Reply
from smarter.apps.channels.selectors import webhook_url
from smarter.apps.channels.tests.support import apply, chatbot_manifest, set_up, twilio_manifest, whatsapp_manifest
from smarter.apps.dashboard.tests.helpers import signed_in

pytestmark = pytest.mark.django_db


class _Addresses:
    graph_url = "https://graph.example.test/v21.0"
    twilio_url = "https://api.twilio.example.test"


@pytest.fixture
def channels(owner: Persona) -> tuple[Channel, Channel]:
    """A ready WhatsApp channel with a delivery whose reply failed, and an SMS channel that
    lacks its auth token."""
    whatsapp = set_up(owner, whatsapp_manifest(_Addresses()))
    sms = twilio_manifest(_Addresses())
    del sms["spec"]["config"]["authToken"]
    apply(owner, sms)
    message = InboundMessage.objects.create(
        channel=whatsapp,
        provider_message_id="wamid.C1",
        sender="15551230001",
        text="Where is my order?",
        status="answered",
    )
    Reply.objects.create(
        channel=whatsapp,
        inbound=message,
        recipient="15551230001",
        text="On its way.",
        status="failed",
        attempts=5,
        error_code="131026",
        error="Message undeliverable",
    )
    return whatsapp, Channel.objects.get(name="support_sms")


def text_of(response: Any) -> str:
    return html.unescape(response.content.decode())


def row_of(page: str, name: str) -> str:
    row = page[page.index(f'data-channel="{name}"') :]
    return row[: row.index("</tr>")]


@pytest.mark.parametrize("persona", ["owner", "teammate"])
def test_the_owner_and_a_teammate_see_the_accounts_channels(
    persona: str, request: pytest.FixtureRequest, channels: tuple[Channel, Channel]
) -> None:
    whatsapp, sms = channels
    response = signed_in(request.getfixturevalue(persona)).get("/dashboard/channels/")
    assert response.status_code == 200
    page = text_of(response)
    assert [row["name"] for row in response.context["channels"]] == ["support_sms", "support_whatsapp"]

    row = row_of(page, "support_whatsapp")
    assert '<span class="pill">whatsapp</span>' in row
    assert '<a href="/dashboard/chatbots/support/">support</a>' in row
    assert f">{webhook_url(whatsapp)}</span>" in row and "data-copy=" in row
    assert '<span class="pill ok">ready</span>' in row
    assert '<td class="num errors"><span class="pill bad">1</span></td>' in row  # the failed reply

    row = row_of(page, "support_sms")
    assert '<span class="pill">twilio</span>' in row and f">{webhook_url(sms)}</span>" in row
    assert 'title="Missing: spec.config.authToken">not ready</span>' in row
    assert '<td class="num errors">0</td>' in row
    assert 'href="/dashboard/manifests/Channel/new/"' in page


@pytest.mark.parametrize("persona", ["owner", "teammate"])
def test_a_channels_page_shows_its_settings_counts_and_recent_deliveries(
    persona: str, request: pytest.FixtureRequest, channels: tuple[Channel, Channel]
) -> None:
    whatsapp, _ = channels
    response = signed_in(request.getfixturevalue(persona)).get("/dashboard/channels/support_whatsapp/")
    assert response.status_code == 200
    page = text_of(response)
    assert f'<span class="mono small" id="webhook-url">{webhook_url(whatsapp)}</span>' in page
    assert 'data-copy="webhook-url"' in page
    assert '<a href="/dashboard/chatbots/support/" id="channel-chatbot">support</a>' in page
    assert '<dt class="mono small">phoneNumberId</dt><dd class="mono small">106540352242922</dd>' in page
    assert '<dt class="mono small">accessToken</dt><dd class="mono small">wa_access_token</dd>' in page
    assert 'id="count-answered">1<' in page
    assert 'id="count-replies-failed"><span class="pill bad">1</span>' in page
    deliveries = page[page.index('<section class="card" id="deliveries">') :]
    assert re.findall(r'<tr class="delivery" data-message="([^"]+)"', deliveries) == ["wamid.C1"]
    assert "Where is my order?" in deliveries and "On its way." in deliveries
    assert "[131026] Message undeliverable" in deliveries and "5 attempts" in deliveries
    for action in ("manifest", "edit", "delete"):
        assert f'href="/dashboard/manifests/Channel/support_whatsapp/{action}/"' in page


def test_a_channel_that_lacks_a_secret_says_which_and_has_no_deliveries(
    owner: Persona, channels: tuple[Channel, Channel]
) -> None:
    page = text_of(signed_in(owner).get("/dashboard/channels/support_sms/"))
    assert '<span class="pill warn" id="channel-state">not ready</span>' in page
    assert 'Deliveries are refused until these are set: <span class="mono">spec.config.authToken</span>' in page
    assert 'id="no-deliveries"' in page


def test_the_outsider_finds_no_channel_of_another_account(
    owner: Persona, outsider: Persona, channels: tuple[Channel, Channel]
) -> None:
    apply(outsider, chatbot_manifest("support"))
    client = signed_in(outsider)
    assert client.get("/dashboard/channels/support_whatsapp/").status_code == 404
    assert client.get("/dashboard/channels/support_sms/").status_code == 404
    listed = client.get("/dashboard/channels/")
    assert listed.context["channels"] == []
    assert 'id="no-channels"' in listed.content.decode()
    assert "support_whatsapp" not in listed.content.decode()


def test_the_navigation_marks_channels(owner: Persona) -> None:
    page = signed_in(owner).get("/dashboard/channels/").content.decode()
    assert '<a href="/dashboard/channels/" class="active">Channels</a>' in page
