"""Twilio Programmable Messaging (SMS, MMS, and WhatsApp through Twilio).

A delivery is form-encoded and proven by `X-Twilio-Signature`, checked with the `twilio`
package's RequestValidator against the channel's `publicUrl`: the URL as Twilio called it. A
proxy that rewrites the scheme, host or port in front of the platform changes the URL the
platform sees, which is why the configured URL is used and never one rebuilt from the request.
Without `publicUrl`, the URL is `status.webhookUrl`, built from the configured platform host.
An inbound message carries `MessageSid`, `From` and `Body`; a status callback carries
`MessageStatus`. A reply is `POST {apiBaseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json`.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from django.http import QueryDict
from twilio.request_validator import RequestValidator

from smarter.apps.channels.addresses import webhook_url
from smarter.apps.channels.models import Channel
from smarter.apps.channels.providers.base import Credentials, ProviderAdapter, http_failure, json_of, malformed
from smarter.apps.channels.records import Delivery, InboundRecord, Outgoing, SendFailed, StatusRecord

# Twilio's message states, in ours; those before "sent" do not move a reply.
STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}
INBOUND_STATES = frozenset({"", "received", "receiving"})
LONGEST_ID = 64
LONGEST_SENDER = 64
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioAdapter(ProviderAdapter):
    type = "twilio"
    max_length = 1600  # Twilio's limit for one message body
    ack_content_type = "text/xml"  # an empty TwiML response: the reply is sent later, by the API

    def missing(self, channel: Channel, credentials: Credentials) -> list[str]:
        needed = {
            "spec.config.accountSid": channel.account_sid,
            "spec.config.authToken": credentials.auth_token,
            "spec.config.fromNumber": channel.from_number,
        }
        return [field for field, value in needed.items() if not value]

    def signature_refusal(
        self, channel: Channel, credentials: Credentials, body: bytes, headers: Mapping[str, str]
    ) -> str | None:
        if not credentials.auth_token:
            return "this channel has no authToken: it takes no delivery until one is set"
        given = headers.get("X-Twilio-Signature")
        if not given:
            return "X-Twilio-Signature is missing"
        try:
            params = QueryDict(body, encoding="utf-8")
        except UnicodeDecodeError:
            return "the body is not form-encoded UTF-8"
        if not RequestValidator(credentials.auth_token).validate(signed_url(channel), params, given.strip()):
            return "X-Twilio-Signature does not match publicUrl and the body"
        return None

    def parse(self, channel: Channel, body: bytes, content_type: str) -> Delivery:
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise malformed("(root)", "expected application/x-www-form-urlencoded")
        try:
            params = QueryDict(body, encoding="utf-8")
        except UnicodeDecodeError:
            raise malformed("(root)", "the body is not UTF-8") from None
        sid = _field(params, "MessageSid") if "MessageSid" in params else _field(params, "SmsSid")
        if params.get("AccountSid") and params.get("AccountSid") != channel.account_sid:
            return Delivery(elsewhere=1)
        state = params.get("MessageStatus", params.get("SmsStatus", ""))
        if state not in INBOUND_STATES:
            ours = STATUSES.get(state)
            if ours is None:
                return Delivery()  # queued, sending...: nothing to record
            code = params.get("ErrorCode", "")[:32]
            error = params.get("ErrorMessage", "") or (f"Twilio error {code}" if code else "")
            return Delivery(statuses=[StatusRecord(sid, ours, code, error[:1000])])
        sender = _field(params, "From", longest=LONGEST_SENDER)
        text = params.get("Body", "").strip()
        kind = "text"
        try:
            media = int(params.get("NumMedia", "0") or 0)
        except ValueError:
            raise malformed("NumMedia", "expected a whole number") from None
        if media > 0:
            kind = "media"
        return Delivery(messages=[InboundRecord(provider_message_id=sid, sender=sender, kind=kind, text=text)])

    def ack_body(self, delivery: Delivery) -> bytes:
        return EMPTY_TWIML

    def customer_care_window(self, channel: Channel) -> bool:
        return channel.from_number.startswith("whatsapp:")

    def send(self, client: httpx.Client, channel: Channel, credentials: Credentials, outgoing: Outgoing) -> str:
        url = f"{channel.api_base_url.rstrip('/')}/2010-04-01/Accounts/{channel.account_sid}/Messages.json"
        form = {"To": outgoing.recipient, "From": channel.from_number, "Body": outgoing.text}
        form["StatusCallback"] = signed_url(channel)
        try:
            response = client.post(url, data=form, auth=(channel.account_sid, credentials.auth_token))
        except httpx.HTTPError as error:
            raise SendFailed(f"Twilio did not answer: {type(error).__name__}", retryable=True) from None
        answer = json_of(response)
        if response.status_code >= 400:
            raise http_failure(response, str(answer.get("code", "")), str(answer.get("message", ""))[:500])
        if not answer.get("sid"):
            raise SendFailed("Twilio answered without a message sid", retryable=False)
        return str(answer["sid"])[:LONGEST_ID]


def signed_url(channel: Channel) -> str:
    """The URL Twilio signs: `publicUrl` when set (a proxy in front changes what Twilio calls),
    else the channel's webhook URL on the configured platform host."""
    return channel.public_url or webhook_url(channel)


def _field(params: QueryDict, name: str, *, longest: int = LONGEST_ID) -> str:
    value = params.get(name, "")
    if not value or len(value) > longest:
        raise malformed(name, f"expected a string of 1 to {longest} characters")
    return value
