"""OpenAPI descriptions of the door: authentication schemes and the cli envelope (the error
envelope is `smarter.lib.http.openapi`'s)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

from smarter.lib.http.openapi import ERRORS


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "smarter.apps.account.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (or `Bearer <key>`, as OpenAI SDKs send it).",
        }


class ConsoleSessionScheme(OpenApiAuthenticationExtension):
    target_class = "smarter.apps.account.api.authentication.ConsoleSessionAuthentication"
    name = "consoleSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


CliEnvelope = inline_serializer(
    "CliEnvelope",
    {
        "data": serializers.JSONField(),
        "api": serializers.CharField(default="smarter.sh/v1"),
        "thing": serializers.CharField(),
        "metadata": inline_serializer(
            "CliMetadata", {"command": serializers.CharField(), "key": serializers.CharField()}
        ),
    },
)

NAME_PARAMETER = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False)


def cli_operation(
    summary: str, *, with_name: bool = False, body: bool = False, parameters: list[Any] | None = None, **kwargs: Any
) -> Any:
    """The OpenAPI description of one cli verb."""
    return extend_schema(
        summary=summary,
        tags=["cli"],
        parameters=[*([NAME_PARAMETER] if with_name else []), *(parameters or [])] or None,
        request={"application/yaml": OpenApiTypes.STR, "application/json": OpenApiTypes.OBJECT} if body else None,
        responses={200: CliEnvelope, **ERRORS},
        **kwargs,
    )


# The same verbs with the name in the path: documented once, under their `?name=` form.
hidden = extend_schema(exclude=True)
