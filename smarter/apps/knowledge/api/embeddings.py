"""`POST /api/v1/openai/embeddings`: the account's embedding models (the local one and its
Providers') as OpenAI's embeddings endpoint, so that `OpenAI(base_url=".../api/v1/openai")
.embeddings.create(...)` and `langchain_openai.OpenAIEmbeddings` work unchanged.

Parsing and shaping only (`embedding_requests` decides). Errors carry the API's envelope and, for
OpenAI SDKs, OpenAI's `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import base64
import struct
from typing import Any, Literal

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from pydantic import BaseModel, ConfigDict, Field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from smarter.apps.account.api.authentication import ApiKeyAuthentication
from smarter.apps.account.billing import limits
from smarter.apps.account.features import OPENAI_COMPATIBLE_ENDPOINT
from smarter.apps.account.features.selectors import feature_enabled
from smarter.apps.knowledge.embedding import MAX_REMOTE_BATCH
from smarter.apps.knowledge.embedding_requests import texts_embed
from smarter.lib.errors import FieldError, PermissionDenied, ValidationFailed
from smarter.lib.http.body import parse
from smarter.lib.http.openapi import ERRORS

# OpenAI's own bounds: 2,048 inputs a request; about 8,192 tokens an input (some 4 characters each).
MAX_INPUTS = MAX_REMOTE_BATCH
MAX_INPUT_CHARACTERS = 32_768
MAX_DIMENSIONS = 8192
TEXT_ONLY = (
    "token arrays are not supported: send the texts (with langchain_openai's OpenAIEmbeddings, "
    "set check_embedding_ctx_length=False)"
)


class EmbeddingsRequest(BaseModel):
    # Unknown OpenAI parameters (`user`, ...) are accepted and ignored, as by the chat endpoint.
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    input: str | list[Any]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, le=MAX_DIMENSIONS)


def _texts(given: str | list[Any]) -> list[str]:
    """The texts of `input`: one string or a list of them; token arrays are refused at `input`."""
    texts = [given] if isinstance(given, str) else given
    if not texts:
        raise _invalid("Give at least one text to embed.", "input", "must not be empty")
    if len(texts) > MAX_INPUTS:
        raise _invalid(f"Embed at most {MAX_INPUTS} texts a request.", "input", f"at most {MAX_INPUTS} items")
    if any(isinstance(text, int | list) for text in texts):
        raise _invalid("Send the input as text, not as token arrays.", "input", TEXT_ONLY)
    problems = []
    for index, text in enumerate(texts):
        loc = "input" if isinstance(given, str) else f"input[{index}]"
        if not isinstance(text, str):
            problems.append(FieldError(loc, "must be a string"))
        elif not text:
            problems.append(FieldError(loc, "must not be empty"))
        elif len(text) > MAX_INPUT_CHARACTERS:
            problems.append(FieldError(loc, f"at most {MAX_INPUT_CHARACTERS} characters"))
    if problems:
        raise ValidationFailed("Each input must be a text of 1 to 32,768 characters.", errors=problems)
    return texts


def _invalid(description: str, loc: str, message: str) -> ValidationFailed:
    return ValidationFailed(description, errors=[FieldError(loc, message)])


def _encoded(vector: list[float], encoding_format: str) -> list[float] | str:
    """`base64`: the little-endian float32 bytes of the vector, as OpenAI sends them."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


# OpenAI's error `type` and `code` for the statuses this endpoint answers.
OPENAI_ERRORS = {
    400: ("invalid_request_error", "invalid_value"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def openai_error(envelope: dict[str, Any]) -> dict[str, Any]:
    """The API's error envelope with OpenAI's `error` object added (the same message)."""
    status = int(envelope.get("status") or 500)
    kind, code = OPENAI_ERRORS.get(status, ("api_error", "server_error"))
    errors = envelope.get("errors") or []
    return {
        **envelope,
        "error": {
            "message": envelope.get("description", ""),
            "type": kind,
            "param": errors[0]["loc"] if errors else None,
            "code": code,
        },
    }


EmbeddingsAnswer = inline_serializer(
    "EmbeddingsAnswer",
    {
        "object": serializers.CharField(default="list"),
        "data": inline_serializer(
            "Embedding",
            {
                "object": serializers.CharField(default="embedding"),
                "index": serializers.IntegerField(),
                "embedding": serializers.JSONField(help_text="floats, or base64 of little-endian float32"),
            },
            many=True,
        ),
        "model": serializers.CharField(),
        "usage": inline_serializer(
            "EmbeddingsUsage", {"prompt_tokens": serializers.IntegerField(), "total_tokens": serializers.IntegerField()}
        ),
    },
)


class EmbeddingsView(APIView):
    """`POST`: the vectors of one text or a list of texts, in OpenAI's shape."""

    authentication_classes = [ApiKeyAuthentication]

    @extend_schema(
        summary="Embed texts with an embedding model of your account (OpenAI-compatible)",
        operation_id="openai_embeddings",
        tags=["openai"],
        request=OpenApiTypes.OBJECT,
        examples=[
            OpenApiExample("Two texts", value={"model": "all-MiniLM-L6-v2", "input": ["warranty", "refund policy"]})
        ],
        responses={200: EmbeddingsAnswer, **ERRORS, 502: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        caller = request.auth
        if not feature_enabled(account=caller.account, feature=OPENAI_COMPATIBLE_ENDPOINT):
            raise PermissionDenied(
                f"The feature {OPENAI_COMPATIBLE_ENDPOINT!r} is switched off for this account; ask the platform "
                "operator.",
                context={"feature": OPENAI_COMPATIBLE_ENDPOINT},
            )
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            raise _invalid("The body must be a JSON object.", "(root)", "expected an object")
        given = parse(EmbeddingsRequest, body)
        texts = _texts(given.input)
        limits.door_admit(
            key=f"embeddings:{limits.caller_key(caller)}",
            per_minute=int(settings.SMARTER.rate_limit_api_key_per_minute),
            what="to the embeddings endpoint",
            limit="embeddings",
        )
        embedded = texts_embed(account=caller.account, model=given.model, texts=texts, dimensions=given.dimensions)
        return Response(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": index, "embedding": _encoded(vector, given.encoding_format)}
                    for index, vector in enumerate(embedded.vectors)
                ],
                "model": given.model,
                "usage": {"prompt_tokens": embedded.prompt_tokens, "total_tokens": embedded.prompt_tokens},
            }
        )

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(response.data, dict) and "errorClass" in response.data:
            response.data = openai_error(response.data)
        return response
