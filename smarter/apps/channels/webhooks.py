"""The channels door: `/webhooks/<id>/`, where Meta and Twilio deliver messages.

Public (the providers hold no API key), so a delivery is proven before anything else is done
with it: the channel named by the URL's random id, ready (every field it needs is set), then the
provider's signature over the raw bytes of the body (`providers/`). A missing, malformed or
wrong signature is a 403 and nothing is stored; so is every delivery to a channel that is not
ready (it fails closed). Proven deliveries count against the channel's rate; unproven ones
against their address's. A proven delivery is read whole (a malformed one is a 400,
nothing stored), its messages are stored once each and handed to the workers, and it is
acknowledged at once: the turn and the reply run in the background, whatever the model's
latency. Meta's subscription handshake (GET with `hub.challenge`) answers the challenge when the
verify token matches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from celery import current_app
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from smarter.apps.account.billing.limits import door_admit, rate_check, visitor_key
from smarter.apps.channels import selectors, services
from smarter.apps.channels.models import Channel
from smarter.apps.channels.providers import adapter_for
from smarter.apps.channels.providers.whatsapp import WhatsAppAdapter
from smarter.lib import metrics
from smarter.lib.client_address import client_ip
from smarter.lib.db_threads import in_db_thread
from smarter.lib.errors import (
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    SmarterError,
)
from smarter.lib.http.errors import error_response, internal_error

log = logging.getLogger(__name__)

LARGEST_DELIVERY = 1024 * 1024  # bytes; Meta batches at most a few hundred KiB, Twilio far less


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str
    new: list[int] = field(default_factory=list)
    outcome: str = "accepted"  # for the deliveries metric: accepted, duplicate, status, handshake


@dataclass
class _Seen:
    """What the metrics learn of a delivery while it is read: the channel's type, once found."""

    channel_type: str = "other"


def _channel(public_id: str, seen: _Seen) -> Channel:
    channel = selectors.channel_for_webhook(public_id)
    if channel is None:
        raise NotFound("No channel answers at this address.")
    seen.channel_type = channel.type
    return channel


def _refused(client: str | None, reason: str) -> SmarterError:
    """The 403 of an unproven delivery; past SMARTER_RATE_LIMIT_CHANNEL_REFUSALS_PER_MINUTE from
    one address, a 429. Only proven deliveries count against the channel's own limit, so unsigned
    posts from whoever learned the address cannot spend it."""
    per_minute = int(settings.SMARTER.rate_limit_channel_refusals_per_minute)
    wait = rate_check(key=f"webhook-refused:{visitor_key(client)}", per_minute=per_minute)
    if wait:
        metrics.rate_limit_refused("channel_refusals")
        return RateLimited(
            "Too many unproven deliveries from this address.", headers={"Retry-After": str(max(1, round(wait)))}
        )
    return PermissionDenied(reason)


def receive(
    public_id: str, body: bytes, headers: Mapping[str, str], content_type: str, client: str | None, seen: _Seen
) -> Answer:
    """A POST: proven, read, stored; what to answer and the messages to hand over."""
    channel = _channel(public_id, seen)
    missing = selectors.missing_fields(channel)
    if missing:
        reason = f"This channel is not ready (it lacks {', '.join(missing)}): it takes no delivery until then."
        raise _refused(client, reason)
    adapter = adapter_for(channel.type)
    credentials = services.credentials_of(channel, only=("app_secret", "auth_token"))
    refusal = adapter.signature_refusal(channel, credentials, body, headers)
    if refusal is not None:
        log.warning("channel delivery refused", extra={"channel": channel.pk, "reason": refusal})
        raise _refused(client, f"The delivery is not signed by the provider: {refusal}.")
    per_minute = int(settings.SMARTER.rate_limit_channel_webhook_per_minute)
    door_admit(
        key=f"webhook:{channel.pk}", per_minute=per_minute, what="to this channel's webhook", limit="channel_webhook"
    )
    delivery = adapter.parse(channel, body, content_type)
    received = services.delivery_record(channel=channel, delivery=delivery)
    outcome = "accepted" if received.new else ("duplicate" if received.replayed else "status")
    if received.new and not current_app.conf.task_always_eager:
        # Published from this thread: one hand-off fewer. Run eagerly (no broker), the turn
        # would run here and wait on this pool's own threads, so the view dispatches instead.
        services.inbound_dispatch(received.new)
        return Answer(200, adapter.ack_body(delivery), adapter.ack_content_type, outcome=outcome)
    return Answer(200, adapter.ack_body(delivery), adapter.ack_content_type, received.new, outcome=outcome)


def handshake(public_id: str, params: dict[str, str], client: str | None, seen: _Seen) -> Answer:
    """Meta's GET: the challenge echoed when the verify token is ours, else 403."""
    channel = _channel(public_id, seen)
    adapter = adapter_for(channel.type)
    if not isinstance(adapter, WhatsAppAdapter):
        raise MethodNotAllowed("Twilio delivers with POST only.")
    challenge = adapter.handshake(services.credentials_of(channel, only=("verify_token",)), params)
    if challenge is None:
        raise _refused(client, "The verify token does not match this channel's (or it has none).")
    return Answer(200, challenge.encode(), "text/plain; charset=utf-8", outcome="handshake")


# The deliveries metric's outcome of each refusal.
_REFUSAL_OUTCOMES: dict[type[SmarterError], str] = {
    NotFound: "not_found",
    PermissionDenied: "refused",
    RateLimited: "rate_limited",
    PayloadTooLarge: "too_large",
}


@csrf_exempt
async def webhook(request: HttpRequest, public_id: str) -> HttpResponseBase:
    seen = _Seen()
    try:
        answer = await _answer(request, public_id, seen)
    except SmarterError as error:
        outcome = _REFUSAL_OUTCOMES.get(type(error), "malformed" if error.status == 400 else "refused")
        metrics.webhook_delivery_observe(channel_type=seen.channel_type, outcome=outcome)
        return error_response(error)
    except Exception:
        log.exception("unhandled error in a channel webhook")
        return error_response(internal_error())
    metrics.webhook_delivery_observe(channel_type=seen.channel_type, outcome=answer.outcome)
    if answer.new:
        # Run eagerly (no broker), the turn itself runs here: not on the database pool.
        await sync_to_async(services.inbound_dispatch, thread_sensitive=False)(answer.new)
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)


async def _answer(request: HttpRequest, public_id: str, seen: _Seen) -> Answer:
    if request.method == "GET":
        return await in_db_thread(handshake, public_id, request.GET.dict(), client_ip(request), seen)
    if request.method == "POST":
        declared = request.headers.get("Content-Length") or "0"
        if not declared.isdigit() or int(declared) > LARGEST_DELIVERY:
            raise PayloadTooLarge(f"A delivery is at most {LARGEST_DELIVERY} bytes.")
        body = request.body
        if len(body) > LARGEST_DELIVERY:
            raise PayloadTooLarge(f"A delivery is at most {LARGEST_DELIVERY} bytes.")
        content_type = request.content_type or ""
        return await in_db_thread(receive, public_id, body, request.headers, content_type, client_ip(request), seen)
    raise MethodNotAllowed("Use POST (and GET for the subscription handshake).")
