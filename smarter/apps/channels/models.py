"""Channels (a chatbot on a WhatsApp or Twilio number), the people who write to them, and each
message in and out.

An inbound message is stored once per (channel, provider message id): Meta and Twilio deliver
again whatever they think was not acknowledged, and the unique key is what makes a replay (even
a hundred at once) answer once. A reply is stored before it is sent, one row per part of a long
answer, and carries the provider's delivery status, which only moves forward.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone

from smarter.apps.account.models import Account, Secret, TimestampedModel
from smarter.apps.chatbot.models import Chatbot


class ChannelType(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp Cloud API"
    TWILIO = "twilio", "Twilio (SMS, or WhatsApp through Twilio)"


def new_public_id() -> str:
    """The webhook's path segment: random, so a channel's URL tells nothing about its account."""
    return secrets.token_urlsafe(18)


class Channel(TimestampedModel):
    """A chatbot reachable on a messaging number. The fields of both types live on one row; those
    of the other type stay blank."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="channels")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    tags = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=list, blank=True)
    # RESTRICT: a chatbot is not deleted from under a live number (409); an account's deletion
    # still takes both.
    chatbot = models.ForeignKey(Chatbot, on_delete=models.RESTRICT, related_name="channels")
    type = models.CharField(max_length=10, choices=ChannelType.choices)
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    # WhatsApp Cloud API
    phone_number_id = models.CharField(max_length=64, blank=True)
    access_token = models.ForeignKey(Secret, on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    app_secret = models.ForeignKey(Secret, on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    verify_token = models.ForeignKey(Secret, on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    graph_base_url = models.URLField(max_length=500, blank=True)
    # Twilio
    account_sid = models.CharField(max_length=64, blank=True)
    auth_token = models.ForeignKey(Secret, on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    from_number = models.CharField(max_length=64, blank=True)
    api_base_url = models.URLField(max_length=500, blank=True)
    public_url = models.URLField(max_length=500, blank=True)
    # What one sender may ask, and the words that stop and restart replies.
    sender_turns_per_minute = models.PositiveIntegerField(default=6)
    sender_turns_per_day = models.PositiveIntegerField(default=200)
    opt_out_words = models.JSONField(default=list)
    opt_in_words = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="channel_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """One sender on one channel: their conversation (a chat session), whether they opted out,
    and when they last wrote (WhatsApp's 24-hour customer-care window opens then)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="contacts")
    sender = models.CharField(max_length=64, help_text="wa_id, or the Twilio From address")
    session_key = models.CharField(max_length=64, blank=True)
    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "sender"], name="contact_unique_sender")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.sender}"


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received, waiting for a worker"
    ANSWERING = "answering", "The turn is running"
    ANSWERED = "answered", "Answered"
    IGNORED = "ignored", "Not answered (opted out, or not for this number)"
    REFUSED = "refused", "Refused by a limit"
    FAILED = "failed", "The turn failed"


class InboundMessage(models.Model):
    """One message a sender wrote, stored once whatever the number of deliveries."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbound")
    provider_message_id = models.CharField(max_length=128)
    sender = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, default="text", help_text="text, or the media type sent")
    text = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="when the sender sent it, per the provider")
    status = models.CharField(max_length=10, choices=InboundStatus.choices, default=InboundStatus.RECEIVED)
    detail = models.CharField(max_length=500, blank=True, help_text="why it was ignored, refused or failed")
    session_key = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "provider_message_id"], name="inbound_unique_delivery")
        ]
        indexes = [models.Index(fields=["channel", "sender", "-received_at"], name="inbound_by_sender")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.provider_message_id}"


class ReplyStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to be sent"
    SENT = "sent", "Accepted by the provider"
    DELIVERED = "delivered", "Delivered to the phone"
    READ = "read", "Read"
    FAILED = "failed", "Not delivered"


# The order a delivery status moves in: a callback that arrives late never moves it back.
REPLY_STATUS_RANK = {
    ReplyStatus.QUEUED: 0,
    ReplyStatus.SENT: 1,
    ReplyStatus.DELIVERED: 2,
    ReplyStatus.READ: 3,
    ReplyStatus.FAILED: 4,
}


class Reply(models.Model):
    """One message sent back: a whole answer, or one part of an answer too long for one message."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="replies")
    inbound = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="replies")
    part = models.PositiveSmallIntegerField(default=1)
    recipient = models.CharField(max_length=64)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=ReplyStatus.choices, default=ReplyStatus.QUEUED)
    provider_message_id = models.CharField(max_length=128, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=32, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["inbound_id", "part"]
        constraints = [models.UniqueConstraint(fields=["inbound", "part"], name="reply_unique_part")]

    def __str__(self) -> str:
        return f"{self.inbound_id} part {self.part}"
