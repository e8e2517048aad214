"""Reads of the channels app, scoped by the account."""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Count, Max, QuerySet

from smarter.apps.account.models import Account
from smarter.apps.channels.addresses import webhook_url as webhook_url
from smarter.apps.channels.models import Channel, InboundMessage, Reply
from smarter.apps.channels.providers import Credentials, adapter_for
from smarter.apps.chatbot.models import Chatbot

RECENT_DELIVERIES = 50


def channels_of(account: Account) -> QuerySet[Channel]:
    return Channel.objects.filter(account=account).select_related("chatbot")


def channel_get(*, account: Account, name: str) -> Channel | None:
    return channels_of(account).filter(name=name).first()


def channels_of_chatbot(*, account: Account, chatbot: Chatbot) -> QuerySet[Channel]:
    return channels_of(account).filter(chatbot=chatbot)


WEBHOOK_CACHE_SECONDS = 5.0  # a change of a channel (a rotated Secret) reaches its webhook within this
_webhook_channels: dict[str, tuple[Channel, float]] = {}


def channel_for_webhook(public_id: str) -> Channel | None:
    """The channel a webhook URL names, with what a delivery needs: its Secrets (the account and
    the chatbot are the worker's business, not the webhook's). Kept by the process for a few
    seconds: building this query cost more CPU than the rest of an acknowledgement
    (docs/performance.md, "Channels"). An unknown id is never kept."""
    now = time.monotonic()
    kept = _webhook_channels.get(public_id)
    if kept is not None and now - kept[1] < WEBHOOK_CACHE_SECONDS:
        return kept[0]
    try:
        # get(), not first(), which orders by the primary key; no joins the delivery does not read.
        channel = Channel.objects.select_related("access_token", "app_secret", "verify_token", "auth_token").get(
            public_id=public_id
        )
    except Channel.DoesNotExist:
        _webhook_channels.pop(public_id, None)
        return None
    if len(_webhook_channels) > 10_000:
        _webhook_channels.clear()
    _webhook_channels[public_id] = (channel, now)
    return channel


def forget_webhook_channels() -> None:
    """Forget what the process keeps (a test that changes a channel between deliveries)."""
    _webhook_channels.clear()


def recent_deliveries(channel: Channel, *, limit: int = RECENT_DELIVERIES) -> list[InboundMessage]:
    """The newest inbound messages, each with its replies."""
    return list(
        InboundMessage.objects.filter(channel=channel)
        .prefetch_related("replies")
        .order_by("-received_at", "-id")[:limit]
    )


def channel_status(channel: Channel) -> dict[str, Any]:
    inbound = dict(
        InboundMessage.objects.filter(channel=channel).values_list("status").annotate(count=Count("id")).order_by()
    )
    replies = dict(Reply.objects.filter(channel=channel).values_list("status").annotate(count=Count("id")).order_by())
    last = InboundMessage.objects.filter(channel=channel).aggregate(last=Max("received_at"))["last"]
    missing = missing_fields(channel)
    return {
        "webhookUrl": webhook_url(channel),
        "ready": not missing,
        "missing": missing,
        "messages": {status: inbound.get(status, 0) for status in ("answered", "refused", "ignored", "failed")},
        "replies": {status: replies.get(status, 0) for status in ("sent", "delivered", "read", "failed")},
        "lastMessageAt": last.isoformat() if last else None,
    }


def missing_fields(channel: Channel) -> list[str]:
    """The manifest fields the channel lacks before it takes deliveries (no Secret is decrypted)."""
    names = ("access_token", "app_secret", "verify_token", "auth_token")
    present = Credentials(**{name: "set" if getattr(channel, f"{name}_id") else "" for name in names})
    return adapter_for(channel.type).missing(channel, present)
