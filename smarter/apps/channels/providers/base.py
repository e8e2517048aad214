"""The shape of a provider adapter, and what its parsers share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from smarter.apps.channels.records import Delivery, Outgoing, SendFailed
from smarter.lib.errors import FieldError, ValidationFailed

if TYPE_CHECKING:
    from smarter.apps.channels.models import Channel

SEND_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Credentials:
    """A channel's Secrets, revealed for one delivery or one send (empty: not configured)."""

    access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    auth_token: str = ""

    def values(self) -> list[str]:
        return [value for value in (self.access_token, self.app_secret, self.verify_token, self.auth_token) if value]


class ProviderAdapter:
    type: ClassVar[str]
    # The longest text one message may carry; a longer answer is sent in parts.
    max_length: ClassVar[int]
    # What the webhook answers when it took a delivery.
    ack_content_type: ClassVar[str] = "application/json"

    def missing(self, channel: Channel, credentials: Credentials) -> list[str]:
        """The manifest fields a channel needs before it takes deliveries (it refuses them until then)."""
        raise NotImplementedError

    def signature_refusal(
        self, channel: Channel, credentials: Credentials, body: bytes, headers: Mapping[str, str]
    ) -> str | None:
        """Why the delivery is not proven to come from the provider; None when it is."""
        raise NotImplementedError

    def parse(self, channel: Channel, body: bytes, content_type: str) -> Delivery:
        """The delivery's messages and statuses; a 400 naming the field when it is malformed."""
        raise NotImplementedError

    def ack_body(self, delivery: Delivery) -> bytes:
        return b'{"received": true}'

    def customer_care_window(self, channel: Channel) -> bool:
        """Whether the channel is WhatsApp (directly or through Twilio), whose 24-hour rule
        applies: free-form replies only within 24 hours of the customer's last message."""
        raise NotImplementedError

    def send(self, client: httpx.Client, channel: Channel, credentials: Credentials, outgoing: Outgoing) -> str:
        """Send one message; the provider's id for it. Raises SendFailed."""
        raise NotImplementedError


def malformed(loc: str, message: str) -> ValidationFailed:
    return ValidationFailed("The delivery is malformed; nothing was stored.", errors=[FieldError(loc=loc, msg=message)])


def http_failure(response: httpx.Response, code: str, message: str) -> SendFailed:
    """A refusal by status: worth trying again on 408, 429 and 5xx, not on another 4xx."""
    retryable = response.status_code in (408, 425, 429) or response.status_code >= 500
    return SendFailed(message or f"HTTP {response.status_code}", code=code, retryable=retryable)


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
