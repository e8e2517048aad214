"""`POST /api/v1/plugins/<name>/test/`: run a plugin as the model would. Parsing only; the
service decides."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from smarter.apps.plugin import services


class PluginTestBody(serializers.Serializer):
    arguments = serializers.DictField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({unknown[0]: ["unknown field"]})
        return attrs


class PluginTestView(APIView):
    http_method_names = ["post", "options"]

    @extend_schema(
        summary="Run a plugin with its testValues or the given arguments",
        tags=["plugins"],
        request=PluginTestBody,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, name: str) -> Response:
        data = request.data if request.data is not None else {}
        if not isinstance(data, dict):
            raise serializers.ValidationError({"(root)": ["expected a JSON object"]})
        body = PluginTestBody(data=data)
        body.is_valid(raise_exception=True)
        kwargs: dict[str, Any] = {}
        if "arguments" in body.validated_data and body.validated_data["arguments"] is not None:
            kwargs["arguments"] = body.validated_data["arguments"]
        result = services.plugin_test(account=request.auth.account, name=name, caller=request.auth, **kwargs)
        return Response(result.as_dict())
