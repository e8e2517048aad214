"""The OpenAPI descriptions of the chat app's doors. They are plain async Django views (a
stream holds no thread), which drf-spectacular does not read: each is described here by a DRF
view that only documents it, and the API door adds it to the document at the door's own path
(`smarter.apps.api.openapi.document_async_doors`). `DOCUMENTED_BY` maps each door to its
description; a door missing from it is missing from the document, which a test catches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from smarter.apps.account.api.authentication import ApiKeyAuthentication
from smarter.apps.chat.api import openai, views
from smarter.apps.chat.doors import MAX_PROMPT_CHARACTERS
from smarter.lib.http.openapi import ERRORS

UPSTREAM_ERRORS = {502: ERRORS[400], 504: ERRORS[400]}

ChatBody = inline_serializer(
    "ChatBody",
    {
        "prompt": serializers.CharField(max_length=MAX_PROMPT_CHARACTERS),
        "session_key": serializers.CharField(required=False, allow_null=True, max_length=64),
        "stream": serializers.BooleanField(required=False, default=False),
    },
)

ChatAnswer = inline_serializer(
    "ChatAnswer",
    {
        "session_key": serializers.CharField(),
        "message": inline_serializer(
            "AssistantMessage", {"role": serializers.CharField(), "content": serializers.CharField()}
        ),
        "tool_calls": inline_serializer(
            "ChatToolCall",
            {
                "plugin": serializers.CharField(),
                "arguments": serializers.JSONField(),
                "result": serializers.JSONField(required=False),
                "error": serializers.CharField(required=False),
                "ms": serializers.FloatField(),
            },
            many=True,
        ),
        "usage": inline_serializer(
            "ChatUsage",
            {
                "prompt_tokens": serializers.IntegerField(),
                "completion_tokens": serializers.IntegerField(),
                "total_tokens": serializers.IntegerField(),
                "cost": serializers.FloatField(),
            },
        ),
        "citations": serializers.ListField(child=serializers.JSONField(), required=False),
    },
)

CompletionBody = inline_serializer(
    "ChatCompletionBody",
    {
        "model": serializers.CharField(help_text="the chatbot's name", max_length=50),
        "messages": inline_serializer(
            "ChatCompletionMessage",
            {
                "role": serializers.ChoiceField(["system", "developer", "user", "assistant", "tool"]),
                "content": serializers.CharField(allow_null=True),
            },
            many=True,
        ),
        "stream": serializers.BooleanField(required=False, default=False),
        "temperature": serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2),
        "max_tokens": serializers.IntegerField(required=False, allow_null=True, min_value=1),
    },
)

ModelList = inline_serializer(
    "ModelList",
    {
        "object": serializers.CharField(default="list"),
        "data": inline_serializer(
            "Model",
            {
                "id": serializers.CharField(),
                "object": serializers.CharField(default="model"),
                "created": serializers.IntegerField(),
                "owned_by": serializers.CharField(),
            },
            many=True,
        ),
    },
)


def _documentation_only() -> NoReturn:
    raise AssertionError("a documentation view is never routed")


class _Described(APIView):
    authentication_classes = [ApiKeyAuthentication]


class ChatDescribed(_Described):
    @extend_schema(
        summary="One chat turn with a chatbot (JSON, or server-sent events with stream: true)",
        operation_id="chatbot_chat",
        tags=["chat"],
        request=ChatBody,
        responses={200: ChatAnswer, **ERRORS, **UPSTREAM_ERRORS},
    )
    def post(self, request: Request, name: str) -> Any:
        _documentation_only()


class ChatConfigDescribed(_Described):
    SESSION = OpenApiParameter("session_key", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False)

    @extend_schema(
        summary="A chatbot's chat configuration and session",
        operation_id="chatbot_config",
        tags=["chat"],
        parameters=[SESSION],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, name: str) -> Any:
        _documentation_only()

    @extend_schema(
        summary="A chatbot's chat configuration and session (session_key in the body)",
        operation_id="chatbot_config_post",
        tags=["chat"],
        request=inline_serializer("ChatConfigBody", {"session_key": serializers.CharField(required=False)}),
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Any:
        _documentation_only()


class ChatCompletionsDescribed(_Described):
    @extend_schema(
        summary="A chatbot as an OpenAI model: Chat Completions (stream: true for chunks)",
        operation_id="openai_chat_completions",
        tags=["openai"],
        request=CompletionBody,
        responses={200: OpenApiTypes.OBJECT, **ERRORS, **UPSTREAM_ERRORS},
    )
    def post(self, request: Request) -> Any:
        _documentation_only()


class ModelsDescribed(_Described):
    @extend_schema(
        summary="The account's chatbots as OpenAI models",
        operation_id="openai_models",
        tags=["openai"],
        responses={200: ModelList, **ERRORS},
    )
    def get(self, request: Request) -> Any:
        _documentation_only()


class ModelDescribed(_Described):
    @extend_schema(
        summary="One of the account's chatbots as an OpenAI model",
        operation_id="openai_model",
        tags=["openai"],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, name: str) -> Any:
        _documentation_only()


FeedbackBody = inline_serializer(
    "FeedbackBody",
    {
        "session_key": serializers.CharField(max_length=64),
        "turn": serializers.IntegerField(min_value=1, help_text="the answer's `turn` in the chat body"),
        "rating": serializers.ChoiceField(["up", "down"], allow_null=True, help_text="null clears the rating"),
        "comment": serializers.CharField(required=False, allow_blank=True, max_length=2000),
    },
)


class FeedbackDescribed(_Described):
    @extend_schema(
        summary="Rate one answer of a session (thumbs up or down) and comment on it",
        operation_id="chatbot_feedback",
        tags=["chat"],
        request=FeedbackBody,
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def post(self, request: Request, name: str) -> Any:
        _documentation_only()


DOCUMENTED_BY: dict[Callable[..., Any], type[APIView]] = {
    views.chat: ChatDescribed,
    views.config: ChatConfigDescribed,
    views.feedback: FeedbackDescribed,
    openai.chat_completions: ChatCompletionsDescribed,
    openai.models: ModelsDescribed,
    openai.model: ModelDescribed,
}
