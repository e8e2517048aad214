"""A delivery's messages are stored once per provider message id, whether the webhook stores
them in autocommit (as it does) or a caller stores them inside its own transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from smarter.apps.account.tests.factories import Persona
from smarter.apps.channels.models import Channel, InboundMessage
from smarter.apps.channels.records import Delivery, InboundRecord
from smarter.apps.channels.services import delivery_record
from smarter.apps.channels.tests.support import set_up, whatsapp_manifest
from smarter.testing.messaging_stub import MessagingStub

MESSAGE = InboundRecord(provider_message_id="wamid.R1", sender="15551230001", kind="text", text="Hi")


@pytest.fixture
def channel(smarter_settings: Any, owner: Persona) -> Channel:
    smarter_settings.allow_private_hosts = True  # the provider's API is on loopback
    return set_up(owner, whatsapp_manifest(MessagingStub(port=9)))  # never called: nothing is sent


@pytest.mark.django_db(transaction=True)
def test_a_message_delivered_twice_in_autocommit_is_stored_once(channel: Channel) -> None:
    first = delivery_record(channel=channel, delivery=Delivery(messages=[MESSAGE]))
    again = delivery_record(channel=channel, delivery=Delivery(messages=[MESSAGE]))

    stored = InboundMessage.objects.get(channel=channel)
    assert (first.new, first.replayed) == ([stored.pk], 0)
    assert (again.new, again.replayed) == ([], 1)
    assert (stored.provider_message_id, stored.sender, stored.text) == ("wamid.R1", "15551230001", "Hi")


def test_a_message_delivered_twice_inside_a_transaction_is_stored_once_and_the_transaction_goes_on(
    channel: Channel,
) -> None:
    with transaction.atomic():
        first = delivery_record(channel=channel, delivery=Delivery(messages=[MESSAGE]))
        again = delivery_record(channel=channel, delivery=Delivery(messages=[MESSAGE]))
        # The duplicate key rolled back to its savepoint only: the transaction still takes queries.
        count = InboundMessage.objects.filter(channel=channel).count()

    assert (len(first.new), again.new, again.replayed, count) == (1, [], 1, 1)
