"""WhatsApp Cloud API (Meta's Graph API).

A delivery is proven by `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body
with the app secret, compared in constant time. Its JSON holds entries, each with changes, each
with messages and statuses: every one of them is read (a batched delivery carries several, and
a delivery for another phone number of the same app is counted, not answered). A reply is
`POST {graphBaseUrl}/{phoneNumberId}/messages` with the access token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from smarter.apps.channels.models import Channel
from smarter.apps.channels.providers.base import Credentials, ProviderAdapter, http_failure, json_of, malformed
from smarter.apps.channels.records import Delivery, InboundRecord, Outgoing, SendFailed, StatusRecord

SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
# Meta's error codes worth trying again: rate limits and its own temporary failures.
RETRYABLE_CODES = frozenset({"4", "80007", "130429", "131000", "131016", "133004"})
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
LONGEST_ID = 128
LONGEST_SENDER = 64


class WhatsAppAdapter(ProviderAdapter):
    type = "whatsapp"
    max_length = 4096  # a text message's body

    def missing(self, channel: Channel, credentials: Credentials) -> list[str]:
        needed = {
            "spec.config.phoneNumberId": channel.phone_number_id,
            "spec.config.accessToken": credentials.access_token,
            "spec.config.appSecret": credentials.app_secret,
            "spec.config.verifyToken": credentials.verify_token,
        }
        return [field for field, value in needed.items() if not value]

    def signature_refusal(
        self, channel: Channel, credentials: Credentials, body: bytes, headers: Mapping[str, str]
    ) -> str | None:
        if not credentials.app_secret:
            return "this channel has no appSecret: it takes no delivery until one is set"
        given = headers.get("X-Hub-Signature-256")
        if not given:
            return "X-Hub-Signature-256 is missing"
        match = SIGNATURE.fullmatch(given.strip())
        if match is None:
            return "X-Hub-Signature-256 is not sha256=<64 hex digits>"
        expected = hmac.new(credentials.app_secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match.group(1).lower()):
            return "X-Hub-Signature-256 does not match the body"
        return None

    def handshake(self, credentials: Credentials, params: Mapping[str, str]) -> str | None:
        """The challenge to echo when Meta subscribes the webhook with our verify token; else None."""
        token = params.get("hub.verify_token", "")
        if params.get("hub.mode") != "subscribe" or not credentials.verify_token or not token:
            return None
        if not hmac.compare_digest(token.encode(), credentials.verify_token.encode()):
            return None
        return params.get("hub.challenge")

    def parse(self, channel: Channel, body: bytes, content_type: str) -> Delivery:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise malformed("(root)", "the body is not JSON") from None
        if not isinstance(payload, dict):
            raise malformed("(root)", "expected an object")
        if payload.get("object") != "whatsapp_business_account":
            raise malformed("object", "expected whatsapp_business_account")
        messages: list[InboundRecord] = []
        statuses: list[StatusRecord] = []
        elsewhere = 0
        for e, entry in enumerate(_list(payload, "entry", "entry")):
            where = f"entry[{e}]"
            _object(entry, where)
            for c, change in enumerate(_list(entry, "changes", f"{where}.changes")):
                at = f"{where}.changes[{c}]"
                _object(change, at)
                if change.get("field") != "messages":
                    continue  # account updates, template reviews...: nothing to answer
                value = change.get("value")
                _object(value, f"{at}.value")
                metadata = value.get("metadata") or {}
                _object(metadata, f"{at}.value.metadata")
                found = _messages(value, f"{at}.value")
                found_statuses = _statuses(value, f"{at}.value")
                if str(metadata.get("phone_number_id", "")) != channel.phone_number_id:
                    elsewhere += len(found) + len(found_statuses)
                    continue
                messages.extend(found)
                statuses.extend(found_statuses)
        return Delivery(messages=messages, statuses=statuses, elsewhere=elsewhere)

    def customer_care_window(self, channel: Channel) -> bool:
        return True

    def send(self, client: httpx.Client, channel: Channel, credentials: Credentials, outgoing: Outgoing) -> str:
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": outgoing.recipient,
            "type": "text",
            "text": {"preview_url": False, "body": outgoing.text},
        }
        if outgoing.reply_to:
            body["context"] = {"message_id": outgoing.reply_to}
        url = f"{channel.graph_base_url.rstrip('/')}/{channel.phone_number_id}/messages"
        try:
            response = client.post(url, json=body, headers={"Authorization": f"Bearer {credentials.access_token}"})
        except httpx.HTTPError as error:
            raise SendFailed(f"the Graph API did not answer: {type(error).__name__}", retryable=True) from None
        answer = json_of(response)
        if response.status_code >= 400:
            given = answer.get("error")
            problem: dict[str, Any] = given if isinstance(given, dict) else {}
            code = str(problem.get("code", ""))
            failure = http_failure(response, code, str(problem.get("message", ""))[:500])
            failure.retryable = failure.retryable or code in RETRYABLE_CODES
            raise failure
        sent = answer.get("messages")
        if not isinstance(sent, list) or not sent or not isinstance(sent[0], dict) or not sent[0].get("id"):
            raise SendFailed("the Graph API answered without a message id", retryable=False)
        return str(sent[0]["id"])[:LONGEST_ID]


def _object(value: Any, loc: str) -> None:
    if not isinstance(value, dict):
        raise malformed(loc, "expected an object")


def _list(container: dict[str, Any], key: str, loc: str) -> list[Any]:
    value = container.get(key, [])
    if not isinstance(value, list):
        raise malformed(loc, "expected a list")
    return value


def _text(value: Any, loc: str, *, longest: int) -> str:
    if not isinstance(value, str) or not value or len(value) > longest:
        raise malformed(loc, f"expected a string of 1 to {longest} characters")
    return value


def _sent_at(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _messages(value: dict[str, Any], at: str) -> list[InboundRecord]:
    records = []
    for m, message in enumerate(_list(value, "messages", f"{at}.messages")):
        loc = f"{at}.messages[{m}]"
        _object(message, loc)
        kind = str(message.get("type", ""))[:20] or "unknown"
        records.append(
            InboundRecord(
                provider_message_id=_text(message.get("id"), f"{loc}.id", longest=LONGEST_ID),
                sender=_text(message.get("from"), f"{loc}.from", longest=LONGEST_SENDER),
                kind=kind,
                text=_text_of(message, kind),
                sent_at=_sent_at(message.get("timestamp")),
            )
        )
    return records


def _text_of(message: dict[str, Any], kind: str) -> str:
    """What the sender wrote: a text's body, a media's caption, the title of a button chosen."""
    part = message.get(kind)
    part = part if isinstance(part, dict) else {}
    if kind == "text":
        text = part.get("body")
    elif kind == "button":
        text = part.get("text")
    elif kind == "interactive":
        chosen = part.get("button_reply") or part.get("list_reply") or {}
        text = chosen.get("title") if isinstance(chosen, dict) else None
    else:
        text = part.get("caption")
    return text.strip() if isinstance(text, str) else ""


def _statuses(value: dict[str, Any], at: str) -> list[StatusRecord]:
    records = []
    for s, status in enumerate(_list(value, "statuses", f"{at}.statuses")):
        loc = f"{at}.statuses[{s}]"
        _object(status, loc)
        ours = STATUSES.get(str(status.get("status", "")))
        if ours is None:
            continue  # e.g. "deleted": not a delivery state we track
        errors = status.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        records.append(
            StatusRecord(
                provider_message_id=_text(status.get("id"), f"{loc}.id", longest=LONGEST_ID),
                status=ours,
                error_code=str(first.get("code", ""))[:32],
                error=str(first.get("title") or first.get("message") or "")[:1000],
            )
        )
    return records
