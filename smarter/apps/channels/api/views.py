"""`/api/v1/channels/<name>/messages/`: a channel's recent messages and the status of every
reply (what the console's Channels section shows). A channel of another account is not found
(404), like one that does not exist."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from smarter.apps.channels import selectors
from smarter.apps.channels.models import InboundMessage, Reply
from smarter.lib.errors import FieldError, NotFound, ValidationFailed
from smarter.lib.http.openapi import ERRORS

LARGEST_PAGE = 200


def _reply(reply: Reply) -> dict[str, Any]:
    return {
        "part": reply.part,
        "status": reply.status,
        "providerMessageId": reply.provider_message_id or None,
        "attempts": reply.attempts,
        "errorCode": reply.error_code or None,
        "error": reply.error or None,
        "text": reply.text,
    }


def _message(message: InboundMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "providerMessageId": message.provider_message_id,
        "sender": message.sender,
        "kind": message.kind,
        "text": message.text,
        "status": message.status,
        "detail": message.detail or None,
        "sessionKey": message.session_key or None,
        "receivedAt": message.received_at.isoformat(),
        "answeredAt": message.answered_at.isoformat() if message.answered_at else None,
        "replies": [_reply(reply) for reply in message.replies.all()],
    }


class MessagesView(APIView):
    @extend_schema(
        summary="A channel's recent messages, newest first, with each reply's delivery status",
        operation_id="channel_messages",
        tags=["channels"],
        parameters=[OpenApiParameter("limit", int, description=f"at most {LARGEST_PAGE}; default 50")],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, name: str) -> Response:
        channel = selectors.channel_get(account=request.auth.account, name=name)
        if channel is None:
            raise NotFound(
                f"Channel {name!r} was not found in your account.", context={"kind": "Channel", "name": name}
            )
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= LARGEST_PAGE:
            raise ValidationFailed(
                "limit must be a whole number from 1 to 200.",
                errors=[FieldError("limit", f"expected 1 to {LARGEST_PAGE}")],
            )
        messages = selectors.recent_deliveries(channel, limit=int(raw))
        return Response({"data": {"items": [_message(message) for message in messages]}})
