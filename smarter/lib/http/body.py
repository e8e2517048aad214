"""A door's request body: JSON only where a browser reaches the door, bounded, and validated by
a Pydantic model into the error envelope's field paths."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from pydantic import BaseModel, ValidationError

from smarter.lib.errors import FieldError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from smarter.lib.json_input import parse_json_object, request_body
from smarter.lib.manifests import field_errors

# A chat request's body, on every door that runs a turn (the lean OpenAI route included).
MAX_CHAT_BODY_BYTES = 256 * 1024


def require_json(request: HttpRequest) -> None:
    """Doors a browser reaches without credentials of its own (a deployed chatbot's endpoints, the
    sandbox) take `application/json` only: a `text/plain`, form or multipart body is a "simple"
    request another site may send without a CORS preflight, which JSON is not. API-key doors need
    no such rule (another site cannot send the key) and keep accepting what curl sends."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            "Send the body as JSON, with the header 'Content-Type: application/json'.",
            context={"contentType": request.content_type or None},
            errors=[FieldError("headers.Content-Type", "must be application/json")],
        )


def json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request_body(request, max_bytes=MAX_CHAT_BODY_BYTES)
    except PayloadTooLarge:
        raise _chat_too_large() from None
    return json_object(raw)


def json_object(raw: bytes) -> dict[str, Any]:
    """A chat request's body: a JSON object of bounded size and depth (413 or 400 otherwise)."""
    if len(raw) > MAX_CHAT_BODY_BYTES:
        raise _chat_too_large()
    return parse_json_object(raw, max_bytes=MAX_CHAT_BODY_BYTES)


def _chat_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"A chat request may be at most {MAX_CHAT_BODY_BYTES} bytes.", context={"limit": MAX_CHAT_BODY_BYTES}
    )


def parse(model: type[BaseModel], body: dict[str, Any]) -> Any:
    """`body` validated by `model`; a ValidationFailed with each failing field's path otherwise."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise ValidationFailed(
            "The request is invalid; fix the fields listed in errors.", errors=field_errors(error)
        ) from None
