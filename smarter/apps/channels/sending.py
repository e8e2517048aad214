"""Sending a message's replies through the provider's REST API, in order, with the guarded HTTP
client (the channel's base URL is the tenant's choice).

A part the provider refuses for a reason that may pass (a 5xx, a rate limit, no answer) is
tried again later by the task, with backoff; the parts after it wait for it. A part refused for
good (a bad number, a bad token), or on the last attempt, is marked failed with the provider's
code and words, and the parts after it with it. WhatsApp lets a business send free-form text
only within 24 hours of the customer's last message: a reply that would be later (a long
queue, a retry) is refused with that rule named, not sent into an error or dropped. Every
Secret of the channel is scrubbed from what is stored.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from smarter.apps.channels.models import Channel, Contact, InboundMessage, Reply, ReplyStatus
from smarter.apps.channels.providers import adapter_for
from smarter.apps.channels.providers.base import SEND_TIMEOUT_SECONDS
from smarter.apps.channels.records import Outgoing, SendFailed
from smarter.apps.channels.services import credentials_of
from smarter.lib import metrics
from smarter.lib.outbound import OutboundRefused, guarded_client
from smarter.lib.redaction import Redactor

log = logging.getLogger(__name__)

CUSTOMER_CARE_WINDOW = timedelta(hours=24)
WINDOW_CODE = "24h-window"
WINDOW_RULE = (
    "Not sent: WhatsApp allows free-form replies only within 24 hours of the customer's last message "
    "(the customer service window); after it, only an approved template message may be sent."
)


class TransientSendError(Exception):
    """A part was refused for a reason that may pass: the task tries again later. `attempts`:
    how many times that part has been tried."""

    def __init__(self, message: str, *, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


def backoff_seconds(attempts: int) -> float:
    """The wait before the next attempt: SMARTER_CHANNEL_RETRY_SECONDS, doubled after each."""
    return float(settings.SMARTER.channel_retry_seconds) * (2 ** max(attempts - 1, 0))


def replies_send(*, message_id: int, final_attempt: bool = False) -> str:
    """Send the message's unsent replies in order; `sent`, `failed`, or TransientSendError. A
    part's attempt is its last at SMARTER_CHANNEL_SEND_ATTEMPTS, or when `final_attempt` (no
    broker to try again later)."""
    message = (
        InboundMessage.objects.select_related(
            "channel", "channel__access_token", "channel__app_secret", "channel__verify_token", "channel__auth_token"
        )
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return "gone"
    pending = list(Reply.objects.filter(inbound=message, status=ReplyStatus.QUEUED).order_by("part"))
    if not pending:
        return "sent"
    channel = message.channel
    adapter = adapter_for(channel.type)
    if adapter.customer_care_window(channel) and _window_closed(message):
        return _fail(channel, pending, WINDOW_RULE, WINDOW_CODE)
    credentials = credentials_of(channel)
    missing = adapter.missing(channel, credentials)
    if missing:
        return _fail(channel, pending, f"Not sent: the channel lacks {', '.join(missing)}.", "not-configured")
    most_attempts = int(settings.SMARTER.channel_send_attempts)
    redactor = Redactor.of(*credentials.values(), username=channel.account_sid or None)
    with guarded_client(timeout=SEND_TIMEOUT_SECONDS, max_redirects=0) as client:
        for index, reply in enumerate(pending):
            Reply.objects.filter(pk=reply.pk).update(attempts=F("attempts") + 1)
            outgoing = Outgoing(
                recipient=reply.recipient,
                text=reply.text,
                reply_to=message.provider_message_id if reply.part == 1 and channel.type == "whatsapp" else "",
            )
            try:
                provider_id = adapter.send(client, channel, credentials, outgoing)
            except SendFailed as failure:
                error = redactor.text(failure.message)
                attempts = reply.attempts + 1
                if failure.retryable and not final_attempt and attempts < most_attempts:
                    Reply.objects.filter(pk=reply.pk).update(error=error[:1000], error_code=failure.code)
                    raise TransientSendError(error, attempts=attempts) from None
                return _fail(channel, pending[index:], error, failure.code)
            except OutboundRefused as refused:
                refusal = f"Not sent: the provider's address is refused ({refused})."
                return _fail(channel, pending[index:], refusal, "refused")
            Reply.objects.filter(pk=reply.pk, status=ReplyStatus.QUEUED).update(
                status=ReplyStatus.SENT, provider_message_id=provider_id, error="", error_code=""
            )
            metrics.channel_reply_observe(channel_type=channel.type, outcome="sent")
    return "sent"


def _window_closed(message: InboundMessage) -> bool:
    last = (
        Contact.objects.filter(channel_id=message.channel_id, sender=message.sender)
        .values_list("last_inbound_at", flat=True)
        .first()
    )
    written = last or message.sent_at or message.received_at
    return timezone.now() - written >= CUSTOMER_CARE_WINDOW


def _fail(channel: Channel, replies: list[Reply], error: str, code: str) -> str:
    first, rest = replies[0], replies[1:]
    for _ in replies:
        metrics.channel_reply_observe(channel_type=channel.type, outcome="failed")
    Reply.objects.filter(pk=first.pk).update(status=ReplyStatus.FAILED, error=error[:1000], error_code=code[:32])
    if rest:
        Reply.objects.filter(pk__in=[reply.pk for reply in rest]).update(
            status=ReplyStatus.FAILED, error=f"Not sent: part {first.part} before it failed.", error_code=code[:32]
        )
    log.warning("channel reply failed", extra={"inbound": first.inbound_id, "code": code})
    return "failed"
