"""The console's sections about channels: on the chatbot page, the chatbot's channels, whether
each is ready, its webhook URL, and its recent deliveries with every reply's status and error
(a failed send is visible here, with the provider's code); on a channel's page, that channel's
recent deliveries."""

from __future__ import annotations

from typing import Any

from smarter.apps.channels import selectors
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.lib.console_panels import Panel, register_panel

RECENT = 20


def chatbot_channels(caller: Any, chatbot_name: str) -> dict[str, Any]:
    chatbot = chatbot_get(account=caller.account, name=chatbot_name)
    if chatbot is None:
        return {"channels": []}
    channels = []
    for channel in selectors.channels_of_chatbot(account=caller.account, chatbot=chatbot):
        channels.append(
            {
                "name": channel.name,
                "type": channel.get_type_display(),
                "webhook_url": selectors.webhook_url(channel),
                "missing": selectors.missing_fields(channel),
                "deliveries": selectors.recent_deliveries(channel, limit=RECENT),
            }
        )
    return {"channels": channels}


def channel_deliveries(caller: Any, channel_name: str) -> dict[str, Any]:
    """The channel's newest deliveries, each with its replies (none for another account's)."""
    channel = selectors.channel_get(account=caller.account, name=channel_name)
    if channel is None:
        return {"deliveries": [], "limit": selectors.RECENT_DELIVERIES}
    return {"deliveries": selectors.recent_deliveries(channel), "limit": selectors.RECENT_DELIVERIES}


def register_panels() -> None:
    register_panel(Panel(page="chatbot", template="channels/chatbot_channels.html", context=chatbot_channels))
    register_panel(Panel(page="channel", template="channels/channel_deliveries.html", context=channel_deliveries))
