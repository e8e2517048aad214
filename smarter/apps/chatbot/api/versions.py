"""`/api/v1/chatbots/<name>/versions/`: a chatbot's configuration versions; compare and roll back."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from smarter.apps.chatbot import versions
from smarter.apps.chatbot.models import Chatbot, ChatbotVersion
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.lib.errors import NotFound
from smarter.lib.http.openapi import ERRORS


def _chatbot(request: Request, name: str) -> Chatbot:
    chatbot = chatbot_get(account=request.auth.account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found in your account.", context={"kind": "Chatbot", "name": name})
    return chatbot


def _summary(version: ChatbotVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "createdAt": version.created_at.isoformat(),
        "createdBy": version.created_by.get_username() if version.created_by else None,
        "note": version.note,
    }


DOCS: dict[str, Any] = {"tags": ["chatbots"], "responses": {200: OpenApiTypes.OBJECT, **ERRORS}}


class VersionsView(APIView):
    @extend_schema(
        summary="A chatbot's configuration versions, newest first", operation_id="chatbot_versions_list", **DOCS
    )
    def get(self, request: Request, name: str) -> Response:
        return Response({"data": {"versions": [_summary(v) for v in versions.versions_of(_chatbot(request, name))]}})


class VersionView(APIView):
    @extend_schema(summary="One configuration version: its manifest spec", operation_id="chatbot_version_get", **DOCS)
    def get(self, request: Request, name: str, number: str) -> Response:
        version = versions.version_get(chatbot=_chatbot(request, name), number=int(number))
        return Response({"data": {**_summary(version), "spec": version.spec}})


class VersionDiffView(APIView):
    @extend_schema(summary="What changed from one version to another", operation_id="chatbot_version_diff", **DOCS)
    def get(self, request: Request, name: str, number: str, other: str) -> Response:
        chatbot = _chatbot(request, name)
        before = versions.version_get(chatbot=chatbot, number=int(number))
        after = versions.version_get(chatbot=chatbot, number=int(other))
        changes = versions.version_diff(before.spec, after.spec)
        return Response({"data": {"from": before.number, "to": after.number, "changes": changes}})


class RollbackView(APIView):
    @extend_schema(
        summary="Make a version's configuration current again (as a new version)",
        operation_id="chatbot_version_rollback",
        request=None,
        **DOCS,
    )
    def post(self, request: Request, name: str, number: str) -> Response:
        chatbot = _chatbot(request, name)
        version = versions.chatbot_rollback(caller=request.auth, chatbot=chatbot, number=int(number))
        current = versions.versions_of(chatbot)[0]
        return Response({"data": {"rolledBack": version is not None, "current": _summary(current)}})
