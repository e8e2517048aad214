"""What the channel tests share: the manifests of a chatbot on a WhatsApp or Twilio channel
whose provider API is a stand-in on loopback, and deliveries signed as the providers sign them."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

import httpx

from smarter.apps.account.tests.factories import Persona
from smarter.apps.channels.models import Channel
from smarter.testing.messaging_stub import MessagingStub, meta_signature, twilio_signature

APP_SECRET = "meta-app-secret-7f3a9c21"
ACCESS_TOKEN = "EAAG-access-token-5d1e8b7c9a"
VERIFY_TOKEN = "verify-me-0b6e4f"
AUTH_TOKEN = "twilio-auth-token-8c2d4e6f"
PHONE_NUMBER_ID = "106540352242922"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
FROM_NUMBER = "+15557654321"
SECRETS = {
    "wa_access_token": ACCESS_TOKEN,
    "wa_app_secret": APP_SECRET,
    "wa_verify_token": VERIFY_TOKEN,
    "twilio_auth_token": AUTH_TOKEN,
}


def broker_idle(url: str, queue: str = "smarter") -> bool:
    """Whether the workers on the Redis broker at `url` have nothing left to do: no task waits
    in `queue`, and none is taken but unfinished (tasks are acknowledged late, so a running task
    and a retry held for its countdown both stay in the transport's `unacked` table)."""
    import redis

    client = redis.Redis.from_url(url)
    # The transport keeps one list per priority level, each named after the queue.
    lists = [key for key in client.scan_iter(f"{queue}*") if client.type(key) == b"list"]
    return sum(int(client.llen(key)) for key in lists) == 0 and int(client.hlen("unacked")) == 0


def manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def chatbot_manifest(name: str = "support") -> dict[str, Any]:
    config = {"defaultModel": "gpt-4o-mini", "defaultSystemRole": "You sell Gizmos."}
    return manifest("Chatbot", name, {"config": config, "plugins": [], "functions": []})


def whatsapp_manifest(
    stub: MessagingStub, name: str = "support_whatsapp", chatbot: str = "support", **extra: Any
) -> dict[str, Any]:
    config = {
        "phoneNumberId": PHONE_NUMBER_ID,
        "accessToken": "wa_access_token",
        "appSecret": "wa_app_secret",
        "verifyToken": "wa_verify_token",
        "graphBaseUrl": stub.graph_url,
    }
    return manifest("Channel", name, {"chatbot": chatbot, "type": "whatsapp", "config": config, **extra})


def twilio_manifest(
    stub: MessagingStub, name: str = "support_sms", chatbot: str = "support", **extra: Any
) -> dict[str, Any]:
    config = {
        "accountSid": ACCOUNT_SID,
        "authToken": "twilio_auth_token",
        "fromNumber": FROM_NUMBER,
        "apiBaseUrl": stub.twilio_url,
    }
    return manifest("Channel", name, {"chatbot": chatbot, "type": "twilio", "config": config, **extra})


def apply(persona: Persona, document: dict[str, Any]) -> dict[str, Any]:
    response = persona.client.post("/api/v1/cli/apply/", document, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json()["data"])


def set_up(persona: Persona, channel: dict[str, Any]) -> Channel:
    """The secrets, the chatbot and the channel, applied by `persona`; the stored channel."""
    for name, value in SECRETS.items():
        apply(persona, manifest("Secret", name, {"config": {"value": value}}))
    apply(persona, chatbot_manifest(channel["spec"]["chatbot"]))
    apply(persona, channel)
    return Channel.objects.get(account=persona.account, name=channel["metadata"]["name"])


def webhook_path(channel: Channel) -> str:
    return f"/webhooks/{channel.public_id}/"


def messages_shown(persona: Persona, channel: Channel) -> list[dict[str, Any]]:
    """The channel's messages, newest first, each with its replies' delivery status, as the
    account sees them (`/api/v1/channels/<name>/messages/`)."""
    response = persona.client.get(f"/api/v1/channels/{channel.name}/messages/")
    assert response.status_code == 200, response.content
    return list(response.json()["data"]["items"])


# --- WhatsApp deliveries ------------------------------------------------------------------------
def wa_message(
    message_id: str, sender: str, text: str, *, kind: str = "text", sent_at: float | None = None, **part: Any
) -> dict[str, Any]:
    """A message as Meta delivers it; sent now unless `sent_at` (epoch seconds) says otherwise."""
    timestamp = str(int(time.time() if sent_at is None else sent_at))
    message: dict[str, Any] = {"from": sender, "id": message_id, "timestamp": timestamp, "type": kind}
    message[kind] = {"body": text} if kind == "text" else part
    return message


def wa_status(message_id: str, status: str, *, code: int | None = None, title: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": "1555",
    }
    if code is not None:
        body["errors"] = [{"code": code, "title": title}]
    return body


def wa_change(
    messages: list[dict[str, Any]] = (),  # type: ignore[assignment]
    statuses: list[dict[str, Any]] = (),  # type: ignore[assignment]
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15551234567", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Ada"}, "wa_id": m["from"]} for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"field": "messages", "value": value}


def wa_delivery(*changes: dict[str, Any], entries: int = 1) -> bytes:
    """A delivery: `changes` spread over `entries` entries, as Meta batches them."""
    spread: list[list[dict[str, Any]]] = [[] for _ in range(entries)]
    for index, change in enumerate(changes):
        spread[index % entries].append(change)
    return wa_batch(*spread)


def wa_batch(*entries: list[dict[str, Any]]) -> bytes:
    """A delivery of these entries, each the list of its changes, in this order."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": f"WABA{number}", "changes": changes} for number, changes in enumerate(entries)],
    }
    return json.dumps(payload).encode()


def post_whatsapp(
    client: httpx.Client, channel: Channel, body: bytes, *, secret: str = APP_SECRET, signature: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    given = meta_signature(body, secret) if signature is None else signature
    if given:
        headers["X-Hub-Signature-256"] = given
    return client.post(webhook_path(channel), content=body, headers=headers)


# --- Twilio deliveries ----------------------------------------------------------------------------
def twilio_inbound(sid: str, sender: str, text: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": FROM_NUMBER,
        "Body": text,
        "NumMedia": "0",
        "SmsStatus": "received",
        **extra,
    }


def post_twilio(
    client: httpx.Client,
    channel: Channel,
    params: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    signed_url: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    from smarter.apps.channels.selectors import webhook_url

    url = signed_url or channel.public_url or webhook_url(channel)
    given = twilio_signature(url, params, token) if signature is None else signature
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if given:
        headers["X-Twilio-Signature"] = given
    return client.post(webhook_path(channel), content=urllib.parse.urlencode(params).encode(), headers=headers)
