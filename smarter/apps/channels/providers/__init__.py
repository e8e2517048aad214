"""The two providers a channel speaks to, behind one shape (`base.ProviderAdapter`): how a
webhook delivery is verified and read, and how a reply is sent."""

from __future__ import annotations

from smarter.apps.channels.providers.base import Credentials, ProviderAdapter
from smarter.apps.channels.providers.twilio import TwilioAdapter
from smarter.apps.channels.providers.whatsapp import WhatsAppAdapter

ADAPTERS: dict[str, ProviderAdapter] = {"whatsapp": WhatsAppAdapter(), "twilio": TwilioAdapter()}


def adapter_for(channel_type: str) -> ProviderAdapter:
    return ADAPTERS[channel_type]


__all__ = ["ADAPTERS", "Credentials", "ProviderAdapter", "adapter_for"]
