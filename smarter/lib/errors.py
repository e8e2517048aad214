"""The errors every layer raises; the API renders each one as the error envelope of API.md.

They carry the HTTP status of the contract so a service can say "conflict" or "not found"
without knowing HTTP: the doors turn them into responses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One failing field: `loc` is its dotted path in the request (`spec.config.value`)."""

    loc: str
    msg: str

    def as_dict(self) -> dict[str, str]:
        return {"loc": self.loc, "msg": self.msg}


class SmarterError(Exception):
    """Base of every error a client may see. Subclasses fix `status` and `error_class`."""

    status = 500
    error_class = "SmarterError"
    headers: dict[str, str]

    def __init__(
        self,
        description: str,
        *,
        context: dict[str, Any] | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.context = context or {}
        self.errors = errors or []
        self.headers = headers or {}

    def as_envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "errorClass": self.error_class,
            "status": self.status,
            "description": self.description,
            "context": self.context,
        }
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return body


class ValidationFailed(SmarterError):
    status = 400
    error_class = "ValidationError"


class NotAuthenticated(SmarterError):
    status = 401
    error_class = "NotAuthenticated"


class PermissionDenied(SmarterError):
    status = 403
    error_class = "PermissionDenied"


class NotFound(SmarterError):
    status = 404
    error_class = "NotFound"


class MethodNotAllowed(SmarterError):
    status = 405
    error_class = "MethodNotAllowed"


class Conflict(SmarterError):
    status = 409
    error_class = "Conflict"


class PayloadTooLarge(SmarterError):
    status = 413
    error_class = "PayloadTooLarge"


class UnsupportedMediaType(SmarterError):
    status = 415
    error_class = "UnsupportedMediaType"


class RateLimited(SmarterError):
    status = 429
    error_class = "RateLimited"


class QuotaExceeded(SmarterError):
    status = 429
    error_class = "QuotaExceeded"


class UpstreamError(SmarterError):
    status = 502
    error_class = "UpstreamError"


class UpstreamTimeout(SmarterError):
    status = 504
    error_class = "UpstreamTimeout"


class ServiceUnavailable(SmarterError):
    status = 503
    error_class = "ServiceUnavailable"
