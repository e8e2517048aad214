"""OpenAPI descriptions of the door: authentication schemes, the cli envelope (the error
envelope is `smarter.lib.http.openapi`'s), and the async doors added to the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLResolver, get_resolver
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import EndpointEnumerator
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


def api_routes(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every URL pattern of the project as (its whole regular expression, its view)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        regex = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from api_routes(pattern.url_patterns, regex)
        else:
            yield regex, pattern.callback


def document_async_doors(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """drf-spectacular's preprocessing hook: the async doors (plain Django views, which it skips)
    enter the document at their own paths, as their apps' documentation views describe them."""
    from smarter.apps.chat.api.openapi import DOCUMENTED_BY

    enumerator = EndpointEnumerator()
    added = []
    for regex, callback in api_routes():
        described = DOCUMENTED_BY.get(callback)
        if described is None:
            continue
        view = described.as_view()
        path = enumerator.get_path_from_regex(regex)
        added += [(path, regex, method, view) for method in enumerator.get_allowed_methods(view)]
    return [*endpoints, *added]


OPENAI_PREFIX = "/api/v1/openai/"


def openai_paths_as_openai_names_them(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: the OpenAI-compatible paths without the trailing
    slash, as OpenAI SDKs call them (both spellings are served)."""
    result["paths"] = {
        (path.rstrip("/") if path.startswith(OPENAI_PREFIX) else path): item for path, item in result["paths"].items()
    }
    return result
