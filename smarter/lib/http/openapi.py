"""The error envelope of API.md as OpenAPI describes it, for every app's endpoints."""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

ErrorEnvelope = inline_serializer(
    "ErrorEnvelope",
    {
        "errorClass": serializers.CharField(),
        "status": serializers.IntegerField(),
        "description": serializers.CharField(),
        "context": serializers.DictField(),
        "errors": inline_serializer(
            "FieldError", {"loc": serializers.CharField(), "msg": serializers.CharField()}, many=True
        ),
    },
)

ERRORS = {status: ErrorEnvelope for status in (400, 401, 403, 404, 409, 413, 415, 429)}
