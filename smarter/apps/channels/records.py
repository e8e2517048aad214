"""What a provider's webhook delivery says, once read: the messages people wrote and the
delivery statuses of what we sent. The provider adapters (`providers/`) build these; the
services store them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Message kinds answered from their text; a media kind is answered from its caption, or with
# the notice that only text is supported when it has none.
TEXT_KINDS = frozenset({"text", "button", "interactive"})
MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker", "location", "contacts", "media"})


@dataclass(frozen=True)
class InboundRecord:
    provider_message_id: str
    sender: str
    kind: str  # a TEXT_KINDS or MEDIA_KINDS name, else a kind that is not answered (a reaction)
    text: str
    sent_at: datetime | None = None


@dataclass(frozen=True)
class StatusRecord:
    """A delivery status of a message we sent, in our words (`models.ReplyStatus`)."""

    provider_message_id: str
    status: str
    error_code: str = ""
    error: str = ""


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: its messages, statuses, and how many entries were for another number."""

    messages: list[InboundRecord] = field(default_factory=list)
    statuses: list[StatusRecord] = field(default_factory=list)
    elsewhere: int = 0


@dataclass(frozen=True)
class Outgoing:
    """One message to send, with what the provider needs to address it."""

    recipient: str
    text: str
    reply_to: str = ""  # the provider message id answered (WhatsApp shows the reply in context)


class SendFailed(Exception):
    """The provider did not take a message: its error code and words, and whether trying again
    later may help (a 5xx, a rate limit, a network failure) or not (a bad number, a bad token)."""

    def __init__(self, message: str, *, code: str = "", retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
