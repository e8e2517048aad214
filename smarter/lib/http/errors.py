"""One error envelope for every door (API.md): DRF's, Django's and ours all end up here."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from smarter.lib import errors
from smarter.lib.errors import FieldError
from smarter.lib.observability import request_id_var

logger = logging.getLogger(__name__)

_DRF_TO_SMARTER: list[tuple[type[Exception], type[errors.SmarterError]]] = [
    (drf.NotAuthenticated, errors.NotAuthenticated),
    (drf.AuthenticationFailed, errors.NotAuthenticated),
    (drf.PermissionDenied, errors.PermissionDenied),
    (drf.NotFound, errors.NotFound),
    (drf.MethodNotAllowed, errors.MethodNotAllowed),
    (drf.UnsupportedMediaType, errors.UnsupportedMediaType),
    (drf.NotAcceptable, errors.ValidationFailed),
    (drf.ParseError, errors.ValidationFailed),
    (drf.Throttled, errors.RateLimited),
]


def _serializer_errors(detail: Any, prefix: str = "") -> list[FieldError]:
    if isinstance(detail, dict):
        found: list[FieldError] = []
        for key, value in detail.items():
            found.extend(_serializer_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [FieldError(prefix or "(root)", str(item)) for item in detail]
        found = []
        for index, item in enumerate(detail):
            found.extend(_serializer_errors(item, f"{prefix}[{index}]"))
        return found
    return [FieldError(prefix or "(root)", str(detail))]


def as_smarter_error(exc: Exception) -> errors.SmarterError | None:
    """The contract's error for a known exception, or None for a bug."""
    if isinstance(exc, errors.SmarterError):
        return exc
    if isinstance(exc, Http404):
        return errors.NotFound("Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return errors.PermissionDenied("You may not do this.")
    if isinstance(exc, RequestDataTooBig):
        return errors.PayloadTooLarge("The request body is too large.")
    if isinstance(exc, drf.ValidationError):
        return errors.ValidationFailed(
            "The request is invalid; fix the fields listed in errors.", errors=_serializer_errors(exc.detail)
        )
    if isinstance(exc, drf.NotAuthenticated):
        return errors.NotAuthenticated("Authenticate with an API key: send 'Authorization: Token <key>'.")
    for drf_class, smarter_class in _DRF_TO_SMARTER:
        if isinstance(exc, drf_class):
            error = smarter_class(str(getattr(exc, "detail", exc)))
            wait = getattr(exc, "wait", None)
            if wait:
                error.headers["Retry-After"] = str(int(wait) + 1)
            return error
    return None


def internal_error() -> errors.SmarterError:
    request_id = request_id_var.get()
    return errors.SmarterError(
        f"Something went wrong on our side. Quote request id {request_id} if you contact support.",
        context={"requestId": request_id},
    )


def error_body(error: errors.SmarterError) -> dict[str, Any]:
    body = error.as_envelope()
    body["context"].setdefault("requestId", request_id_var.get())
    return body


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    error = as_smarter_error(exc)
    if error is None:
        # A bug: logged whole with the request id; the client gets the id and no stack trace.
        logger.exception("unhandled error in API view")
        error = internal_error()
    headers = dict(error.headers)
    if isinstance(exc, drf.AuthenticationFailed | drf.NotAuthenticated):
        headers.setdefault("WWW-Authenticate", 'Token realm="api"')
    return Response(error_body(error), status=error.status, headers=headers)


def error_response(error: errors.SmarterError) -> JsonResponse:
    response = JsonResponse(error_body(error), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


# Django-level handlers: a URL that matches no view, or a crash outside DRF. API paths get the
# envelope; the console keeps Django's pages.
def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if request.path.startswith("/api/"):
        return error_response(errors.NotFound(f"No API endpoint at {request.path}; see /api/docs/."))
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> Any:
    if request.path.startswith("/api/"):
        return error_response(internal_error())
    from django.views.defaults import server_error

    return server_error(request)
