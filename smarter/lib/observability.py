"""Request ids, structured JSON logs and one access-log line per request.

The request id comes from a well-formed `X-Request-ID` header (so a proxy's id carries
through) or is generated; it is in every log line of the request and in the response header,
so a user quoting it lets an operator find the failure.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from smarter.lib import tracing

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
account_var: contextvars.ContextVar[str] = contextvars.ContextVar("account", default="-")

_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_logger = logging.getLogger("smarter.access")


def new_request_id(incoming: str | None) -> str:
    if incoming and _REQUEST_ID_PATTERN.match(incoming):
        return incoming
    return uuid.uuid4().hex


def start_request(incoming_id: str | None) -> str:
    """A request begins: its id (the caller's, if well formed) and no account yet in the logs."""
    request_id = new_request_id(incoming_id)
    request_id_var.set(request_id)
    account_var.set("-")
    return request_id


def log_access(method: str, path: str, status: int, started: float) -> None:
    """The one access-log line of a request; `started` is its `time.perf_counter()`."""
    access_logger.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={"status": status, "ms": round((time.perf_counter() - started) * 1000, 2)},
    )


def bind_account(account_number: str) -> None:
    """Called once the caller is known, so later log lines name the tenant."""
    account_var.set(account_number)


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.account = account_var.get()
        return True


_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "account",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra= fields are kept, exceptions become one string."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "account": getattr(record, "account", "-"),
        }
        if tracing.enabled():
            ids = tracing.current_ids()
            if ids is not None:
                payload["trace_id"], payload["span_id"] = ids
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # already formatted (and scrubbed of secrets) when the record was made
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str)


class RequestContextMiddleware:
    """Sets the request id and logs method, path, status, latency and account per request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[..., Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def _begin(self, request: HttpRequest) -> float:
        request.request_id = start_request(request.headers.get("X-Request-ID"))  # type: ignore[attr-defined]
        return time.perf_counter()

    def _end(self, request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        log_access(request.method or "", request.path, response.status_code, started)
        return response

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = self._begin(request)
        return self._end(request, self.get_response(request), started)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = self._begin(request)
        response = await self.get_response(request)
        return self._end(request, response, started)
